"""Two gunicorn servers of the Wagtail test site, sharing one PostgreSQL database and one
Redis cache, as a site with several app servers runs.

The fixtures make a database of their own on the server ``DATABASE_URL`` names, and a
Redis key prefix of their own at ``REDIS_URL``; they migrate and seed the database, start
the servers on free loopback ports, and at the end stop the servers (terminate, then
kill if one does not stop within 10 s), drop the database and delete their cache keys.
Without ``DATABASE_URL`` (PostgreSQL) and ``REDIS_URL`` the tests are skipped.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import pytest

DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
#: Why the tests cannot run here, or "" when they can (test modules skip with it).
SKIP_REASON = (
    ""
    if DATABASE_URL.startswith(("postgres://", "postgresql://")) and REDIS_URL
    else "the multi-process tests need a PostgreSQL server (DATABASE_URL=postgres://...) "
    "and a Redis server (REDIS_URL=redis://...) that several processes can share"
)

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = "tests.multiprocess.settings"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@dataclass
class Browser:
    """A visitor's cookies, sent to whichever server it talks to (cookies ignore ports)."""

    cookies: dict[str, str] = field(default_factory=dict)

    def request(
        self, server: Server, method: str, path: str, form: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, str], str]:
        headers = {"Host": "127.0.0.1"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            # Django accepts the CSRF cookie's secret itself as the token.
            headers["X-CSRFToken"] = self.cookies.get("csrftoken", "")
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", errors="replace")
            for name, value in response.getheaders():
                if name.lower() == "set-cookie":
                    key, _, rest = value.partition("=")
                    self.cookies[key.strip()] = rest.split(";", 1)[0]
            return response.status, {k.lower(): v for k, v in response.getheaders()}, text
        finally:
            conn.close()

    def get(self, server: Server, path: str) -> tuple[int, dict[str, str], str]:
        return self.request(server, "GET", path)

    def post(self, server: Server, path: str, form: dict[str, Any]) -> tuple[int, str]:
        if "csrftoken" not in self.cookies:
            self.get(server, path)
        status, headers, _ = self.request(server, "POST", path, form)
        return status, headers.get("location", "")

    def log_in(self, server: Server, login_path: str, username: str, password: str) -> None:
        self.get(server, login_path)
        status, _ = self.post(server, login_path, {"username": username, "password": password})
        assert status == 302, f"{username} could not log in (status {status})"
        assert "sessionid" in self.cookies, f"{username} got no session"


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)


@dataclass
class Deployment:
    """Two servers of one site, its seed data and a window onto the shared cache."""

    a: Server
    b: Server
    seed: dict[str, str]
    cache: Any
    prefix: str

    def cache_value(self, key: str) -> bytes | None:
        """The raw value Django's Redis cache stores under ``key`` (version 1)."""
        value: bytes | None = self.cache.get(f"{self.prefix}:1:{key}")
        return value


def _run(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def _start(name: str, env: dict[str, str], workdir: Path, workers: int = 1) -> Server:
    port = free_port()
    log = workdir / f"gunicorn-{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--timeout",
                "60",
                "--graceful-timeout",
                "5",
                "tests.multiprocess.wsgi:application",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Server(name, port, process, log)


def _wait_until_up(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"server {server.name} exited:\n{server.log.read_text()}")
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        try:
            conn.request("GET", "/paywall/pricing/", headers={"Host": "127.0.0.1"})
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.2)
    log = server.log.read_text()
    pytest.fail(f"server {server.name} did not answer in {START_TIMEOUT:.0f}s:\n{log}")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    pytest.importorskip("gunicorn", reason="the multi-process tests serve the site with gunicorn")
    psycopg = pytest.importorskip("psycopg")
    redis = pytest.importorskip("redis")
    workdir = tmp_path_factory.mktemp("multiprocess")
    token = uuid.uuid4().hex[:12]
    database = f"paywall_multiprocess_{token}"
    prefix = f"paywall-multiprocess-{token}"
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    cache = redis.Redis.from_url(REDIS_URL)
    servers: list[Server] = []
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
        env.update(
            DJANGO_SETTINGS_MODULE=SETTINGS,
            DATABASE_URL=with_database(DATABASE_URL, database),
            REDIS_URL=REDIS_URL,
            PAYWALL_CACHE_PREFIX=prefix,
            PAYWALL_TEST_MEDIA=str(workdir / "media"),
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
            PYTHONUNBUFFERED="1",
        )
        _run(env, "-m", "django", "migrate", "--noinput", "-v0")
        # check --deploy would also name development-only settings; W001 is what matters.
        checked = _run(env, "-m", "django", "check")
        assert "wagtail_paywall.W001" not in checked
        seed = json.loads(_run(env, "-m", "tests.multiprocess.seed"))
        servers = [_start("A", env, workdir), _start("B", env, workdir)]
        for server in servers:
            _wait_until_up(server)
        yield Deployment(servers[0], servers[1], seed, cache, prefix)
    finally:
        for server in servers:
            server.stop()
        for key in cache.scan_iter(match=f"{prefix}:*"):
            cache.delete(key)
        cache.close()
        with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def grant_ids(html: str) -> list[str]:
    """The grants an admin member page offers to revoke."""
    return re.findall(r"grants/([^/\"]+)/revoke/", html)
