"""A premium Wagtail article served by gunicorn on loopback, under a load generator.

The same three cases as :mod:`bench_wagtail`, but measured as throughput of a real server
process: requests per second of a subscriber's signed-in requests.

* ``paywall on``: the page needs the Premium tier, the subscriber holds it (warm cache);
* ``plain wagtail``: a second server of the same site and database without the paywall
  (its middleware removed, its page hook unregistered) serves the same page;
* ``wagtail group restriction``: the plain server, a page that Wagtail's own view
  restriction opens to a group the subscriber belongs to.

Each server is ``gunicorn`` with **one sync worker** on 127.0.0.1. The machine this was
written for has two cores and the load generator needs one: with two workers the server
would fight the load generator (and PostgreSQL) for the cores, and the figures would
measure that fight. One worker on one core, kept busy by two connections, measures what
a request costs. The load generator is ``wrk`` when installed (``make bench`` installs
Debian's), else (or with ``BENCH_LOADGEN=python``) a threaded Python loop; the rows say
which. Cases run in turn, in a rotating order, for several rounds; each row is the
median of its rounds.

Two throughputs are taken from each run: requests per second of wall time, as the load
generator saw them, and requests per CPU-second of the gunicorn worker (the scheduler's
count of its time on a CPU, from ``/proc``), which is what one core running only that
worker would serve. On a
shared machine other jobs take the cores at random and swing the first by tens of per
cent between runs; the second counts only the worker's own work, so the target is
checked on it and the wall-time ratio is shown beside it.

The ratio checked is the median of the rounds' own ratios: each round measures the
paywall and plain Wagtail back to back, so a slow spell of the machine weighs on both
sides of that round's ratio instead of on one side of the run's. A 95 % bootstrap
confidence interval of that median is printed with it: how far the run's own rounds
let the figure move. ``BENCH_GUNICORN_ROUNDS`` and ``BENCH_GUNICORN_SECONDS`` change the
number of rounds (15) and their length (3 s); more rounds narrow the interval.

The database is PostgreSQL when ``DATABASE_URL`` names one (a database made for the run
and dropped after), with Redis as the shared cache when ``REDIS_URL`` is set; otherwise
a SQLite file and a per-process cache. Target: paywall on >= 95 % of plain Wagtail's
throughput (per worker CPU-second).

Run as a script (``python bench_gunicorn.py --seed``) it seeds the site's database and
prints the subscriber's session and the pages' URLs; :func:`run` does that itself.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import benchlib
from benchlib import Check, Row, find

GROUP = "gunicorn"
MIN_THROUGHPUT_RATIO = 0.95
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
START_TIMEOUT = 60.0
CONNECTIONS = 2
# Read when imported: bench_wagtail (imported after this module) removes them from os.environ.
DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")

#: Per round, paywall on / plain Wagtail: requests per worker CPU-second, and per second.
_round_ratios: dict[str, list[float]] = {"cpu": [], "wall": []}


def _available() -> str:
    """Why the benchmark cannot run, or "" when it can."""
    for module in ("wagtail", "gunicorn", "dj_database_url"):
        try:
            __import__(module)
        except ImportError:
            return f"{module} is not installed (the bench tox env installs it)"
    return ""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _database(workdir: Path) -> Iterator[tuple[str, str]]:
    """A database for the run: ``(url, what it is)``; PostgreSQL ones are dropped after."""
    if not DATABASE_URL.startswith(("postgres://", "postgresql://")):
        yield f"sqlite:///{workdir / 'site.sqlite3'}", "SQLite"
        return
    import psycopg

    name = f"paywall_bench_gunicorn_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(DATABASE_URL)._replace(path=f"/{name}")), "PostgreSQL"
    finally:
        with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def _cache_prefix() -> Iterator[str]:
    """A Redis key prefix for the run, its keys deleted after ("" without Redis)."""
    if not REDIS_URL:
        yield ""
        return
    import redis

    prefix = f"paywall-bench-{uuid.uuid4().hex[:12]}"
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)
        client.close()


class Server:
    """``gunicorn`` with one sync worker on a free loopback port; stopped by :meth:`stop`."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = _free_port()
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable, "-m", "gunicorn",
                    "--bind", f"127.0.0.1:{self.port}",
                    "--workers", "1",
                    "--worker-class", "sync",
                    "--log-level", "warning",
                    "--timeout", "120",
                    "--pythonpath", f"{ROOT},{HERE}",
                    "site_wsgi:application",
                ],
                cwd=HERE, env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{log.read_text()}")
            with suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 1):
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn did not start in {START_TIMEOUT:.0f}s:\n{log.read_text()}")

    def worker_cpu(self) -> float:
        """CPU seconds the worker processes ran so far.

        Read from ``/proc/<pid>/task/<tid>/schedstat``: the scheduler's own count of the
        nanoseconds each thread spent on a CPU. The user and system times of
        ``/proc/<pid>/stat`` would do, but the kernel charges those by sampling at each
        timer tick (250 per second here), which over a round of a few seconds is off by
        several per cent either way.
        """
        total = 0.0
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                for thread in Path(f"/proc/{child}/task").iterdir():
                    total += int((thread / "schedstat").read_text().split()[0]) / 1e9
        return total

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _get(url: str, cookie: str) -> tuple[int, str]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("GET", parts.path, headers={"Cookie": cookie, "Host": "127.0.0.1"})
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", errors="replace")
    finally:
        conn.close()


def _wrk(url: str, cookie: str, seconds: float) -> tuple[int, float]:
    """Requests ``wrk`` made and the seconds they took; an error when any was not a 200."""
    result = subprocess.run(
        ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s",
         "-H", f"Cookie: {cookie}", url],
        capture_output=True, text=True, timeout=seconds + 30, check=True,
    )  # fmt: skip
    out = result.stdout
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad or "Socket errors" in out:
        raise RuntimeError(f"wrk saw failed requests on {url}:\n{out}")
    match = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    if match is None:
        raise RuntimeError(f"no request count in wrk's output:\n{out}")
    unit = 1e-3 if match.group(3) == "ms" else 1.0
    return int(match.group(1)), float(match.group(2)) * unit


def _python_load(url: str, cookie: str, seconds: float) -> tuple[int, float]:
    """Requests of ``CONNECTIONS`` threads, each a request after the other, and seconds."""
    deadline = time.perf_counter() + seconds
    counts = [0] * CONNECTIONS
    errors: list[str] = []

    def loop(i: int) -> None:
        while time.perf_counter() < deadline:
            status, _ = _get(url, cookie)
            if status != 200:
                errors.append(f"{url}: {status}")
                return
            counts[i] += 1

    start = time.perf_counter()
    threads = [threading.Thread(target=loop, args=(i,)) for i in range(CONNECTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(errors[0])
    return sum(counts), time.perf_counter() - start


def _seed(env: dict[str, str]) -> dict[str, str]:
    result = subprocess.run(
        [sys.executable, str(HERE / "bench_gunicorn.py"), "--seed"],
        cwd=HERE, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"seeding failed:\n{result.stdout}\n{result.stderr}")
    seeded: dict[str, str] = json.loads(result.stdout.strip().splitlines()[-1])
    return seeded


def run() -> list[Row]:
    reason = _available()
    if reason:
        print(f"bench_gunicorn: skipped: {reason}", file=sys.stderr)
        return []
    quick = benchlib.TIMER.repeats < 25  # run.py --quick
    rounds, seconds = (2, 1.0) if quick else (15, 3.0)
    # More rounds narrow the interval printed with the check (see checks()).
    rounds = int(os.environ.get("BENCH_GUNICORN_ROUNDS", rounds))
    seconds = float(os.environ.get("BENCH_GUNICORN_SECONDS", seconds))
    # BENCH_LOADGEN=python picks the Python load generator even where wrk is installed.
    wrk = shutil.which("wrk") if os.environ.get("BENCH_LOADGEN") != "python" else None
    load = _wrk if wrk else _python_load
    loader = "wrk" if wrk else "Python threads"
    if not wrk:
        print("bench_gunicorn: wrk not found, using the Python load generator", file=sys.stderr)

    with tempfile.TemporaryDirectory(prefix="paywall-bench-") as tmp:
        workdir = Path(tmp)
        with _database(workdir) as (db_url, db_name), _cache_prefix() as prefix:
            env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
            env.update(
                DJANGO_SETTINGS_MODULE="site_settings",
                BENCH_DATABASE_URL=db_url,
                PAYWALL_TEST_MEDIA=str(workdir / "media"),
                PYTHONPATH=os.pathsep.join([str(ROOT), str(HERE)]),
            )
            if prefix:
                env.update(BENCH_REDIS_URL=REDIS_URL, BENCH_CACHE_PREFIX=prefix)
            seeded = _seed(env)
            cookie = f"sessionid={seeded['session']}"
            servers = []
            try:
                servers.append(Server(env, workdir / "paywall.log"))
                servers.append(Server({**env, "BENCH_PAYWALL": "off"}, workdir / "plain.log"))
                on, off = servers
                cases = {
                    "paywall on": (on, on.url(seeded["gated"])),
                    "plain wagtail": (off, off.url(seeded["gated"])),
                    "wagtail group restriction": (off, off.url(seeded["restricted"])),
                }
                for name, (_, url) in cases.items():
                    status, body = _get(url, cookie)  # also warms the member's cached access
                    if status != 200 or "Premium 11" not in body:
                        raise RuntimeError(
                            f"{name}: {url} did not serve the whole article ({status}):\n"
                            f"{body[-2000:]}\n{on.log.read_text()}{off.log.read_text()}"
                        )
                    load(url, cookie, 1.0)  # warm-up, not counted
                wall: dict[str, list[float]] = {name: [] for name in cases}
                cpu: dict[str, list[float]] = {name: [] for name in cases}
                names = list(cases)
                for i in range(rounds):
                    turn = i % len(names)
                    for name in names[turn:] + names[:turn]:
                        server, url = cases[name]
                        before = server.worker_cpu()
                        requests, elapsed = load(url, cookie, seconds)
                        used = server.worker_cpu() - before
                        wall[name].append(requests / elapsed)
                        cpu[name].append(requests / max(used, 1e-3))
                    for kind, rates in (("cpu", cpu), ("wall", wall)):
                        _round_ratios[kind].append(
                            rates["paywall on"][-1] / rates["plain wagtail"][-1]
                        )
            finally:
                for server in servers:
                    server.stop()
    cache = "Redis" if prefix else "per-process cache"
    rows = []
    for name in cases:
        rates, capacity = wall[name], cpu[name]
        # The row's time is the worker's CPU time per request (1 / requests per CPU-second).
        rows.append(
            Row(
                group=GROUP,
                name=name,
                median_us=1e6 / statistics.median(capacity),
                best_us=1e6 / max(capacity),
                loops=round(seconds),
                repeats=rounds,
                note=f"{statistics.median(capacity):.0f} req/CPU-s; "
                f"wall {statistics.median(rates):.0f} req/s ({min(rates):.0f}-{max(rates):.0f}); "
                f"{db_name}, {cache}, {loader}",
            )
        )
    return rows


def median_interval(ratios: list[float], resamples: int = 2000) -> tuple[float, float]:
    """A 95 % bootstrap confidence interval of the median of ``ratios``.

    The rounds are resampled with replacement ``resamples`` times (a fixed seed, so the
    same rounds always give the same interval); the interval holds the middle 95 % of
    the resampled medians.
    """
    rng = random.Random(0)
    medians = sorted(
        statistics.median(rng.choices(ratios, k=len(ratios))) for _ in range(resamples)
    )
    return medians[int(0.025 * resamples)], medians[int(0.975 * resamples) - 1]


def _spread(ratios: list[float]) -> str:
    """The median of ``ratios`` with its 95 % interval, as percentages."""
    if len(ratios) < 3:
        return f"{statistics.median(ratios):.1%}"
    low, high = median_interval(ratios)
    return f"{statistics.median(ratios):.1%} (95% CI {low:.1%}-{high:.1%})"


def checks(rows: list[Row]) -> list[Check]:
    on = find(rows, GROUP, "paywall on")
    plain = find(rows, GROUP, "plain wagtail")
    group = find(rows, GROUP, "wagtail group restriction")
    cpu_ratios, wall_ratios = _round_ratios["cpu"], _round_ratios["wall"]
    if not (on and plain and cpu_ratios):
        return []
    ratio = statistics.median(cpu_ratios)
    result = [
        Check(
            "gunicorn: paywall on / plain wagtail, req per worker CPU-s (median of rounds)",
            _spread(cpu_ratios),
            f">= {MIN_THROUGHPUT_RATIO:.0%}",
            ratio >= MIN_THROUGHPUT_RATIO,
        ),
        Check(
            "gunicorn: paywall on / plain wagtail, req/s wall time (median of rounds)",
            _spread(wall_ratios),
            "shown: swings with the machine's other load",
            True,
        ),
    ]
    if group:
        # Throughput is the inverse of the worker's CPU time per request.
        vs_group = group[0].median_us / on[0].median_us
        result.append(
            Check(
                "gunicorn: paywall on / wagtail group restriction, req per worker CPU-s",
                f"{vs_group:.1%}",
                "shown for comparison",
                True,
            )
        )
    return result


def _seed_site() -> None:
    """Migrate and seed the site's database (the settings name it); print what run() needs."""
    import bench_wagtail

    if not bench_wagtail._READY:
        raise SystemExit("Wagtail is not installed")
    site = bench_wagtail._site()
    print(
        json.dumps(
            {
                "session": site["client"].cookies["sessionid"].value,
                "gated": site["gated"],
                "restricted": site["restricted"],
            }
        )
    )


if __name__ == "__main__":
    if sys.argv[1:] == ["--seed"]:
        _seed_site()
    else:
        raise SystemExit(f"usage: {sys.argv[0]} --seed (run benchmarks with run.py)")
