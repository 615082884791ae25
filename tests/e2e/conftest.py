"""Fixtures of the browser tests: the demo site on a free loopback port, and Chromium.

The demo site (``examples/demo_site``) is migrated and seeded into a fresh SQLite database
in a temporary folder, then served by ``manage.py runserver`` on ``127.0.0.1`` in a child
process that the fixture stops at the end. The browser is Debian's ``chromium`` driven by
Playwright; Playwright's own browser download is never used (set ``CHROMIUM`` to point
elsewhere).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

playwright_api = pytest.importorskip("playwright.sync_api")
pytest.importorskip("wagtail")
pytest.importorskip("allauth")

ROOT = Path(__file__).resolve().parents[2]
DEMO_SITE = ROOT / "examples" / "demo_site"
ARTIFACTS = ROOT / "artifacts" / "e2e"
DOCS_SCREENSHOTS = ROOT / "docs" / "_static" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Chromium as root, headless, and silent on a machine without outside network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def demo_env(workdir: Path) -> dict[str, str]:
    """The demo's environment: everything it writes goes into ``workdir``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        DJANGO_SETTINGS_MODULE="demo_site.settings",
        DJANGO_DEBUG="1",
        DATABASE_URL=f"sqlite:///{workdir / 'demo.sqlite3'}",
        DEMO_MEDIA_ROOT=str(workdir / "media"),
        DEMO_STATIC_ROOT=str(workdir / "static"),
        DEMO_FAKE_STATE_FILE=str(workdir / "fake-provider-state.json"),
        PYTHONUNBUFFERED="1",
    )
    return env


def manage(env: dict[str, str], *args: str) -> str:
    """Run ``manage.py`` of the demo site; its output, or a failure showing it."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=DEMO_SITE,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def wait_until_up(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the demo server exited with {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    pytest.fail(f"the demo server did not answer {url} in {START_TIMEOUT:.0f}s:\n{log.read_text()}")


@pytest.fixture(scope="session")
def demo_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo_site")


@pytest.fixture(scope="session")
def seeded_demo(demo_workdir: Path) -> dict[str, str]:
    """A migrated and seeded demo database; the environment that points at it."""
    env = demo_env(demo_workdir)
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "seed_demo")
    return env


@pytest.fixture(scope="session")
def demo_url(seeded_demo: dict[str, str], demo_workdir: Path) -> Iterator[str]:
    """The base URL of the running demo site (``http://127.0.0.1:<port>``)."""
    port = free_port()
    log = demo_workdir / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=DEMO_SITE,
            env=seeded_demo,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, stopped as one below
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/", server, log)
        yield url
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"no Chromium at {CHROMIUM}: install Debian's (apt-get install -y chromium) "
            "or set CHROMIUM; the tests never download a browser of their own"
        )
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, demo_url: str) -> Iterator[Any]:
    """A fresh browser context (no cookies) on the demo site."""
    context = browser.new_context(
        base_url=demo_url,
        viewport={"width": 1100, "height": 900},
        accept_downloads=True,
        # The demo speaks the browser's language (LocaleMiddleware): English, whatever
        # the machine's locale, unless a test asks for another. Ireland: the euro is
        # preselected (a US browser is offered dollars; docs/wagtail.md, Local formats).
        locale="en-IE",
    )
    context.set_default_timeout(15_000)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture
def screenshot() -> Callable[[Any, str], Path]:
    """``screenshot(page, "01-name")``: save a full-page PNG to ``artifacts/e2e/``.

    With ``UPDATE_SCREENSHOTS=1`` it is also copied into ``docs/_static/screenshots/`` for
    the publisher's guide.
    """
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    update_docs = os.environ.get("UPDATE_SCREENSHOTS") == "1"

    def take(tab: Any, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        # Transitions finish first: a sidebar menu is shown open, not half-way there.
        tab.screenshot(path=str(path), full_page=True, animations="disabled")
        if update_docs:
            DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOCS_SCREENSHOTS / path.name)
        return path

    return take
