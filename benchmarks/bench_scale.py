"""The access check and the account page at 1,000 and at 1,000,000 memberships.

Two PostgreSQL databases are made for the run, migrated, and seeded by
:mod:`seed_scale` with 1,000 and with 1,000,000 members (one membership each, a comp
grant and a metered read for every fourth); both are dropped after. A worker process
(this module run as a script) opens both and measures, for the same kind of member
(one membership, one grant, one metered read) in each:

* ``access check, cold``: :func:`wagtail_paywall.access.member_context` with the
  member's cached rows dropped first, i.e. the one query that loads them;
* ``account page``: ``GET /paywall/account/`` through Django's test client (session,
  user, memberships, grants and the template).

The sizes take turns, in a rotating order, over several rounds, and each row is the
median of its calls. Times are wall-clock (``time.perf_counter``): the database's work
happens in another process, which thread CPU time would not see. Targets: the 1,000,000
figure at most 1.5 times the 1,000 one, for both; and no sequential scan of a table the
member's rows are looked up in (the plans come from ``EXPLAIN`` of the queries captured
at 1,000,000). Skipped without ``DATABASE_URL`` naming a PostgreSQL server.

``BENCH_SCALE_MEMBERS=1000,1000000`` (the default) sets the two sizes.
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
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import benchlib
from benchlib import Check, Row, find

GROUP = "scale"
MAX_RATIO = 1.5
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# Read when imported: bench_wagtail (imported after this module) removes it from os.environ.
DATABASE_URL = os.environ.get("DATABASE_URL", "")
SIZES = tuple(int(n) for n in os.environ.get("BENCH_SCALE_MEMBERS", "1000,1000000").split(","))
#: Tables whose rows are looked up per member: a sequential scan of one would grow with N.
MEMBER_TABLES = (
    "auth_user",
    "django_session",
    "wagtail_paywall_membership",
    "wagtail_paywall_grant",
    "wagtail_paywall_meterusage",
)

_result: dict[str, Any] = {}


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
            "bench_scale: skipped: set DATABASE_URL to a PostgreSQL server "
            "(e.g. postgres://postgres@127.0.0.1:5432/postgres) to measure 1,000 vs "
            "1,000,000 memberships",
            file=sys.stderr,
        )
        return []
    import psycopg
    import seed_scale

    quick = benchlib.TIMER.repeats < 25  # run.py --quick
    token = uuid.uuid4().hex[:10]
    names = [f"paywall_bench_scale_{token}_{n}" for n in SIZES]
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{names[0]}"')
    try:
        subprocess.run(
            [sys.executable, "-m", "django", "migrate", "--noinput", "-v0"],
            cwd=ROOT,
            env=_env(DJANGO_SETTINGS_MODULE="tests.wagtail.settings", DATABASE_URL=_url(names[0])),
            check=True,
            timeout=900,
        )
        with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
            for name in names[1:]:  # a copy of the migrated, empty database
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{names[0]}"')
        seeded = {}
        for n, name in zip(SIZES, names, strict=True):
            seeded[n] = seed_scale.seed(_url(name), n)
        worker = subprocess.run(
            [sys.executable, str(HERE / "bench_scale.py"), "--worker"],
            cwd=HERE,
            env=_env(
                BENCH_SCALE_URLS=json.dumps(
                    {n: _url(name) for n, name in zip(SIZES, names, strict=True)}
                ),
                BENCH_SCALE_ROUNDS="3" if quick else "10",
            ),
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        if worker.returncode != 0:
            raise RuntimeError(f"bench_scale worker failed:\n{worker.stdout}\n{worker.stderr}")
        measured = json.loads(worker.stdout.strip().splitlines()[-1])
    finally:
        with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    _result.update(seq_scans=measured["seq_scans"], queries=measured["queries"])
    rows = []
    for case in ("access check, cold", "account page"):
        for n in SIZES:
            times = measured["times"][case][str(n)]
            note = f"{measured['queries'][case]} queries"
            if n == max(SIZES):
                note += f"; seeded in {seeded[n]:.0f}s"
            rows.append(
                Row(
                    group=GROUP,
                    name=f"{case}, {n:,} memberships",
                    median_us=statistics.median(times) * 1e6,
                    best_us=min(times) * 1e6,
                    loops=1,
                    repeats=len(times),
                    note=note,
                )
            )
    return rows


def checks(rows: list[Row]) -> list[Check]:
    if not find(rows, GROUP):
        return []
    small, big = min(SIZES), max(SIZES)
    result = []
    for case in ("access check, cold", "account page"):
        (low,) = find(rows, GROUP, f"{case}, {small:,} memberships")
        (high,) = find(rows, GROUP, f"{case}, {big:,} memberships")
        ratio = high.median_us / low.median_us
        result.append(
            Check(
                f"scale: {case}, {big:,} / {small:,} memberships",
                f"{ratio:.2f}x",
                f"<= {MAX_RATIO}x",
                ratio <= MAX_RATIO,
            )
        )
    scans = _result.get("seq_scans", [])
    result.append(
        Check(
            f"scale: sequential scans of member tables at {big:,}",
            ", ".join(scans) or "none",
            "none",
            not scans,
        )
    )
    return result


# -- the worker: runs in its own process, with Django on the seeded databases ---------------
class SizeRouter:
    """Sends every query to the database of the size being measured."""

    alias = "default"

    def db_for_read(self, model: Any, **hints: Any) -> str:
        return self.alias

    def db_for_write(self, model: Any, **hints: Any) -> str:
        return self.alias

    def allow_relation(self, *args: Any, **hints: Any) -> bool:
        return True


def _worker() -> None:
    import dj_database_url
    import django
    from django.conf import settings

    urls = {int(n): url for n, url in json.loads(os.environ["BENCH_SCALE_URLS"]).items()}
    rounds = int(os.environ["BENCH_SCALE_ROUNDS"])
    aliases = {n: "default" if i == 0 else f"size{n}" for i, n in enumerate(sorted(urls))}
    router = SizeRouter()
    import tests.wagtail.settings as base

    values = {k: getattr(base, k) for k in dir(base) if k.isupper()}
    values.update(
        DATABASES={
            aliases[n]: dj_database_url.parse(url, conn_max_age=600) for n, url in urls.items()
        },
        DATABASE_ROUTERS=[router],
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
    )
    settings.configure(**values)
    django.setup()

    from django.contrib.auth import get_user_model
    from django.db import connections
    from django.test import Client, RequestFactory
    from django.test.utils import CaptureQueriesContext

    from wagtail_paywall import program as program_module
    from wagtail_paywall.access import member_context
    from wagtail_paywall.caching import invalidate_member

    rf = RequestFactory()
    subjects: dict[int, dict[str, Any]] = {}
    for n, alias in aliases.items():
        router.alias = alias
        program_module.reset_program()  # its catalog comes from this database
        user = get_user_model().objects.get(username=f"member{n // 2}")
        client = Client()
        client.force_login(user)
        subjects[n] = {"alias": alias, "user": user, "client": client}

    def access(n: int) -> float:
        subject = subjects[n]
        invalidate_member(str(subject["user"].pk))
        request = rf.get("/")
        request.user = subject["user"]
        start = time.perf_counter()
        ctx = member_context(request)
        elapsed = time.perf_counter() - start
        assert ctx.rank >= 2, ctx  # the comp grant (and the membership) give Premium
        return elapsed

    def account(n: int) -> float:
        start = time.perf_counter()
        response = subjects[n]["client"].get("/paywall/account/")
        elapsed = time.perf_counter() - start
        assert response.status_code == 200, response.status_code
        return elapsed

    cases = {"access check, cold": access, "account page": account}
    queries: dict[str, int] = {}
    seq_scans: set[str] = set()
    big = max(aliases)
    router.alias = aliases[big]
    for case, func in cases.items():
        func(big)
        with CaptureQueriesContext(connections[aliases[big]]) as captured:
            func(big)
        queries[case] = len(captured)
        with connections[aliases[big]].cursor() as cursor:
            for query in captured.captured_queries:
                sql = query["sql"]
                if not sql.lstrip().upper().startswith("SELECT"):
                    continue
                cursor.execute("EXPLAIN " + sql)
                plan = "\n".join(line for (line,) in cursor.fetchall())
                seq_scans.update(t for t in MEMBER_TABLES if f"Seq Scan on {t} " in plan + " ")

    times: dict[str, dict[str, list[float]]] = {
        case: {str(n): [] for n in aliases} for case in cases
    }
    sizes = sorted(aliases)
    calls = 20
    for i in range(rounds):
        order = sizes[i % 2 :] + sizes[: i % 2]
        for n in order:
            router.alias = aliases[n]
            for case, func in cases.items():
                func(n)  # warm: this size's connection and the template
                times[case][str(n)].extend(func(n) for _ in range(calls))
    print(json.dumps({"times": times, "queries": queries, "seq_scans": sorted(seq_scans)}))


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        _worker()
    else:
        raise SystemExit(f"usage: {sys.argv[0]} --worker (run benchmarks with run.py)")
