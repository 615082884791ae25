"""The membership report and the admin home panel at 1,000,000 memberships and
10,000,000 reads, cold and cached.

A PostgreSQL database is made for the run, migrated, and seeded by :mod:`seed_reports`
(memberships over two years, their ledger, cancellation answers, gifts and comps, and
ten days of reading activity per member); it is dropped after. A worker process (this
module run as a script) opens it with Django and times, with
:func:`seed_reports.timings`: each report of :mod:`wagtail_paywall.reports.membership`,
the membership report page (every chart), the membership panel of the Wagtail admin's
home page, and the whole home page for comparison, ``cold`` (the cache cleared first)
and ``cached``. Each row is the median of its calls; times are wall-clock.

Targets: every report and page at most 2 s cold and 100 ms cached. Skipped without
``DATABASE_URL`` naming a PostgreSQL server. ``BENCH_REPORTS_MEMBERSHIPS`` (default
1000000) and ``BENCH_REPORTS_READS`` (reads per member, default 10) set the size.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import benchlib
from benchlib import Check, Row, find

GROUP = "reports"
COLD_SECONDS = 2.0
CACHED_SECONDS = 0.1
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# Read when imported: bench_wagtail (imported after this module) removes it from os.environ.
DATABASE_URL = os.environ.get("DATABASE_URL", "")
MEMBERSHIPS = int(os.environ.get("BENCH_REPORTS_MEMBERSHIPS", "1000000"))
READS = int(os.environ.get("BENCH_REPORTS_READS", "10"))

_seeded: dict[str, float] = {}


def _url(name: str) -> str:
    return urlunsplit(urlsplit(DATABASE_URL)._replace(path=f"/{name}"))


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DJANGO_") and k not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update(PYTHONPATH=os.pathsep.join([str(ROOT), str(HERE)]), **extra)
    return env


def run() -> list[Row]:
    if not DATABASE_URL.startswith(("postgres://", "postgresql://")):
        print(
            "bench_reports: skipped: set DATABASE_URL to a PostgreSQL server "
            "(e.g. postgres://postgres@127.0.0.1:5432/postgres) to time the membership "
            "reports at 1,000,000 memberships",
            file=sys.stderr,
        )
        return []
    import psycopg
    import seed_reports

    repeats = 2 if benchlib.TIMER.repeats < 25 else 5  # run.py --quick
    name = f"paywall_bench_reports_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        subprocess.run(
            [sys.executable, "-m", "django", "migrate", "--noinput", "-v0"],
            cwd=ROOT,
            env=_env(DJANGO_SETTINGS_MODULE="tests.wagtail.settings", DATABASE_URL=_url(name)),
            check=True,
            timeout=900,
        )
        start = time.perf_counter()
        with psycopg.connect(_url(name), autocommit=True) as conn, conn.cursor() as cursor:
            seed_reports.seed(cursor, MEMBERSHIPS, READS)
        _seeded["seconds"] = time.perf_counter() - start
        worker = subprocess.run(
            [sys.executable, str(HERE / "bench_reports.py"), "--worker"],
            cwd=HERE,
            env=_env(BENCH_REPORTS_URL=_url(name), BENCH_REPORTS_REPEATS=str(repeats)),
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        if worker.returncode != 0:
            raise RuntimeError(f"bench_reports worker failed:\n{worker.stdout}\n{worker.stderr}")
        measured = json.loads(worker.stdout.strip().splitlines()[-1])
    finally:
        with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    size = f"{MEMBERSHIPS:,} memberships, {MEMBERSHIPS * READS:,} reads"
    rows = []
    for case, times in measured.items():
        for mode in ("cold", "cached"):
            rows.append(
                Row(
                    group=GROUP,
                    name=f"{case}, {mode}",
                    median_us=statistics.median(times[mode]) * 1e6,
                    best_us=min(times[mode]) * 1e6,
                    loops=1,
                    repeats=len(times[mode]),
                    note=f"{size}; seeded in {_seeded['seconds']:.0f}s",
                )
            )
    return rows


def checks(rows: list[Row]) -> list[Check]:
    result = []
    for row in find(rows, GROUP):
        if "(whole)" in row.name:
            continue  # Wagtail's own panels: shown for comparison, not ours to meet
        limit = COLD_SECONDS if row.name.endswith(", cold") else CACHED_SECONDS
        seconds = row.median_us / 1e6
        result.append(
            Check(
                f"reports: {row.name} at {MEMBERSHIPS:,} memberships",
                f"{seconds * 1000:.1f} ms",
                f"<= {limit * 1000:.0f} ms",
                seconds <= limit,
            )
        )
    return result


# -- the worker: runs in its own process, with Django on the seeded database ----------------
def _worker() -> None:
    import dj_database_url
    import django
    import tests.wagtail.settings as base
    from django.conf import settings

    values = {k: getattr(base, k) for k in dir(base) if k.isupper()}
    values.update(
        DATABASES={"default": dj_database_url.parse(os.environ["BENCH_REPORTS_URL"])},
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        ALLOWED_HOSTS=["*"],
    )
    settings.configure(**values)
    django.setup()

    import seed_reports
    from django.contrib.auth import get_user_model
    from django.test import Client

    user = get_user_model().objects.create_superuser("bench-editor", "bench@example.com", "x")
    client = Client()
    client.force_login(user)
    measured = seed_reports.timings(client, int(os.environ["BENCH_REPORTS_REPEATS"]))
    print(json.dumps(measured))


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        _worker()
    else:
        raise SystemExit(f"usage: {sys.argv[0]} --worker (run benchmarks with run.py)")
