"""The at-risk job at 1,000,000 memberships and 10,000,000 days of reading activity.

A PostgreSQL database is made for the run, migrated, and seeded by :func:`seed` (inside
PostgreSQL, ``INSERT ... SELECT ... FROM generate_series``: memberships joined over two
years, some trialing, past due, set to cancel, free of charge, canceled or expired, a
few after a downgrade; ten days read per member, a seventh of them not for a month); it
is dropped after. A worker process (this module run as a script) opens it with Django and
times :func:`wagtail_paywall.billing.at_risk.find_members_at_risk` twice: the first run
(every mark new) and a re-run (nothing new, every open mark checked). Times are
wall-clock.

Target: each run at most 60 s. Skipped without ``DATABASE_URL`` naming a PostgreSQL
server. ``BENCH_AT_RISK_MEMBERSHIPS`` (default 1000000) sets the size.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from benchlib import Check, Row, find

GROUP = "at-risk"
MAX_SECONDS = 60.0
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# Read when imported: bench_wagtail (imported after this module) removes it from os.environ.
DATABASE_URL = os.environ.get("DATABASE_URL", "")
MEMBERSHIPS = int(os.environ.get("BENCH_AT_RISK_MEMBERSHIPS", "1000000"))
READS = 10

_seeded: dict[str, float] = {}

SQL = [
    """
    INSERT INTO wagtail_paywall_tier (slug, name, rank, description, entitlements)
    VALUES ('supporter', 'Supporter', 1, '', 'content.supporter'),
           ('premium', 'Premium', 2, '', 'content.premium')
    ON CONFLICT (slug) DO NOTHING
    """,
    # g % 20: 0 past due, 1 trialing, 2 canceled, 3 expired, else active; one in 17 set to
    # cancel, one in 50 on a free period; joined over the last two years.
    """
    INSERT INTO wagtail_paywall_membership
        (id, member_id, tier, status, provider, price_id, provider_subscription_id,
         provider_customer_id, started_at, current_period_end, cancel_at_period_end,
         cancel_reason, pause_reason, amount, coupon, version_number, version_event,
         updated_at /*cols*/)
    SELECT 'ar_' || g, g::text, CASE g %% 3 WHEN 0 THEN 'supporter' ELSE 'premium' END,
           CASE g %% 20 WHEN 0 THEN 'past_due' WHEN 1 THEN 'trialing' WHEN 2 THEN 'canceled'
                WHEN 3 THEN 'expired' ELSE 'active' END,
           'fake', '', 'sub_' || g, 'cus_' || g,
           CASE WHEN g %% 20 = 1 THEN now() - (g / 20 %% 10) * interval '1 day'
                ELSE now() - (g %% 730) * interval '1 day' END,
           now() + (g %% 28) * interval '1 day', g %% 17 = 0, '', '',
           CASE WHEN g %% 50 = 0 THEN 0 END, '', 1, 'evt_' || g, now() /*vals*/
    FROM generate_series(1, %(n)s::int) AS g
    """,
    # A downgrade from Premium for one Supporter in 25, 1 to 20 days ago.
    """
    INSERT INTO wagtail_paywall_grant
        (id, member_id, kind, starts_at, ends_at, tier, entitlements, item, source, note,
         created_at /*cols*/)
    SELECT 'ard_' || g, g::text, 'membership', now() - interval '400 days',
           now() - (1 + g %% 20) * interval '1 day', 'premium', '', '',
           'plan:fake:sub_' || g || ':0', '', now() /*vals*/
    FROM generate_series(75, %(n)s::int, 75) AS g
    """,
    # Ten days read per member, reads 1 to 6 a day; a seventh last read a month ago, an
    # eleventh read once a day.
    """
    INSERT INTO wagtail_paywall_readingactivity (member_id, day, reads /*cols*/)
    SELECT g::text,
           current_date - CASE WHEN g %% 7 = 0 THEN 30 + r * 5 ELSE r * 3 + g %% 3 END,
           CASE WHEN g %% 11 = 0 THEN 1 ELSE 1 + (g + r) %% 6 END /*vals*/
    FROM generate_series(1, %(n)s::int) AS g, generate_series(0, %(reads)s::int - 1) AS r
    """,
]
TABLES = (
    "wagtail_paywall_membership",
    "wagtail_paywall_grant",
    "wagtail_paywall_readingactivity",
)


def _filled(cursor: Any, statement: str) -> str:
    """``statement`` with the table's other NOT NULL columns without a database default
    (added by later migrations) set to a zero of their type."""
    if "/*cols*/" not in statement:
        return statement
    table = statement.split("INSERT INTO", 1)[1].split()[0]
    named = {c.strip() for c in statement.split("(", 1)[1].split("/*cols*/")[0].split(",")}
    cursor.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s "
        "AND is_nullable = 'NO' AND column_default IS NULL AND column_name <> 'id'",
        [table],
    )
    extra = [(c, t) for c, t in cursor.fetchall() if c not in named]

    def zero(kind: str) -> str:
        if kind == "boolean":
            return "false"
        if kind == "jsonb":
            return "'{}'::jsonb"
        if kind == "date":
            return "current_date"
        if "timestamp" in kind:
            return "now()"
        if kind in ("integer", "bigint", "smallint", "numeric", "double precision"):
            return "0"
        return "''"

    cols = "".join(f", {c}" for c, _ in extra)
    vals = "".join(f", {zero(t)}" for _, t in extra)
    return statement.replace("/*cols*/", cols).replace("/*vals*/", vals)


def seed(cursor: Any, memberships: int, reads: int = READS) -> None:
    """Seed a migrated PostgreSQL database through ``cursor`` (a DB-API cursor)."""
    for statement in SQL:
        cursor.execute(_filled(cursor, statement), {"n": memberships, "reads": reads})
    for table in TABLES:
        cursor.execute(f"ANALYZE {table}")


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
            "bench_at_risk: skipped: set DATABASE_URL to a PostgreSQL server "
            "(e.g. postgres://postgres@127.0.0.1:5432/postgres) to time the at-risk job "
            "at 1,000,000 memberships",
            file=sys.stderr,
        )
        return []
    import psycopg

    name = f"paywall_bench_at_risk_{uuid.uuid4().hex[:10]}"
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
            seed(cursor, MEMBERSHIPS)
        _seeded["seconds"] = time.perf_counter() - start
        worker = subprocess.run(
            [sys.executable, str(HERE / "bench_at_risk.py"), "--worker"],
            cwd=HERE,
            env=_env(BENCH_AT_RISK_URL=_url(name)),
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        if worker.returncode != 0:
            raise RuntimeError(f"bench_at_risk worker failed:\n{worker.stdout}\n{worker.stderr}")
        measured = json.loads(worker.stdout.strip().splitlines()[-1])
    finally:
        with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    size = f"{MEMBERSHIPS:,} memberships, {MEMBERSHIPS * READS:,} days read"
    return [
        Row(
            group=GROUP,
            name=f"at-risk job, {case}",
            median_us=result["seconds"] * 1e6,
            best_us=result["seconds"] * 1e6,
            loops=1,
            repeats=1,
            note=f"{size}; {result['marked']:,} new marks; seeded in {_seeded['seconds']:.0f}s",
        )
        for case, result in measured.items()
    ]


def checks(rows: list[Row]) -> list[Check]:
    return [
        Check(
            f"at-risk: {row.name} at {MEMBERSHIPS:,} memberships",
            f"{row.median_us / 1e6:.1f} s",
            f"<= {MAX_SECONDS:.0f} s",
            row.median_us / 1e6 <= MAX_SECONDS,
        )
        for row in find(rows, GROUP)
    ]


# -- the worker: runs in its own process, with Django on the seeded database ----------------
def _worker() -> None:
    import dj_database_url
    import django
    import tests.wagtail.settings as base
    from django.conf import settings

    values = {k: getattr(base, k) for k in dir(base) if k.isupper()}
    values.update(
        DATABASES={"default": dj_database_url.parse(os.environ["BENCH_AT_RISK_URL"])},
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
    )
    settings.configure(**values)
    django.setup()

    from wagtail_paywall.billing.at_risk import find_members_at_risk

    measured: dict[str, dict[str, Any]] = {}
    for case in ("first run", "re-run"):
        start = time.perf_counter()
        run = find_members_at_risk()
        seconds = time.perf_counter() - start
        measured[case] = {
            "seconds": seconds,
            "marked": sum(run.marked.values()),
            "by_reason": run.marked,
        }
        print(f"{case}: {seconds:.1f}s {run.marked}", file=sys.stderr)
    print(json.dumps(measured))


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        _worker()
    else:
        raise SystemExit(f"usage: {sys.argv[0]} --worker (run benchmarks with run.py)")
