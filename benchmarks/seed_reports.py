"""Seed a migrated PostgreSQL database of the paywall with N memberships and their ledger,
and R reads per member, fast: for the membership report's benchmark (``bench_reports``).

``python benchmarks/seed_reports.py postgres://.../db 1000000 10`` makes, inside
PostgreSQL (``INSERT ... SELECT ... FROM generate_series``, one statement per table, then
``ANALYZE``): the catalog's tiers and prices; N memberships started over the last two
years on three prices (monthly, a dearer monthly, yearly), a fifth after a 14-day trial,
a fifth canceled (half of those with a cancellation answer), a tenth past due, a
twenty-first upgraded after 60 days; their ledger entries exactly as the ledger writer
records such histories (trial start, first payment, upgrade, churn); gifts and comps;
and ``R`` days of reading activity per member (``ReadingActivity``), ``N * R`` rows.

The same :func:`seed` runs at 2,000 memberships in ``tests/wagtail/reports``, which
checks the seeded ledger against the memberships, so the benchmark's data cannot rot.
"""

from __future__ import annotations

import sys
import time
from typing import Any

#: (price key, tier, amount, interval, monthly recurring amount)
PRICES = (
    ("bench-supporter-monthly", "supporter", 500, "month", 500),
    ("bench-premium-monthly", "premium", 1200, "month", 1200),
    ("bench-premium-yearly", "premium", 12000, "year", 1000),
)
REASONS = ("too_expensive", "not_enough_time", "content", "switching", "temporary", "other")

# One row per membership with everything its history needs; the other tables read it.
PLAN = """
CREATE TEMP TABLE bench_plan AS
SELECT g,
       'bm_' || g AS id,
       g::text AS member,
       CASE g %% 3 WHEN 0 THEN 'supporter' ELSE 'premium' END AS tier,
       CASE g %% 3 WHEN 0 THEN 'bench-supporter-monthly' WHEN 1 THEN 'bench-premium-monthly'
            ELSE 'bench-premium-yearly' END AS price,
       CASE g %% 3 WHEN 0 THEN 500 WHEN 1 THEN 1200 ELSE 1000 END AS mrr,
       g %% 5 = 0 AS trial,
       start,
       start + CASE WHEN g %% 5 = 0 THEN interval '14 days' ELSE interval '0' END AS paid_at,
       CASE WHEN g %% 10 IN (7, 8) THEN least(start + ((g %% 300) + 75) * interval '1 day',
                                             now() - interval '1 hour') END AS ended_at,
       CASE WHEN g %% 21 = 0 AND start + interval '74 days' < now() - interval '1 hour'
            THEN start + interval '74 days' END AS upgraded_at,
       CASE WHEN g %% 10 IN (7, 8) THEN 'canceled' WHEN g %% 10 = 9 THEN 'past_due'
            ELSE 'active' END AS status
FROM (SELECT g, now() - interval '2 hours' - ((g %% 715) + 15) * interval '1 day'
                - (g %% 24) * interval '1 hour' AS start
      FROM generate_series(%(first)s::int, %(last)s::int) AS g) AS s
"""

SQL = [
    """
    INSERT INTO wagtail_paywall_tier (slug, name, rank, description, entitlements /*cols*/)
    SELECT t.slug, t.name, t.rank, '', t.entitlements /*vals*/
    FROM (VALUES ('supporter', 'Supporter', 1, 'content.supporter'),
                 ('premium', 'Premium', 2, 'content.premium')) AS t(slug, name, rank, entitlements)
    ON CONFLICT (slug) DO NOTHING
    """,
    """
    INSERT INTO wagtail_paywall_price
        (key, tier_id, item, item_name, amount, currency, interval, trial_days,
         provider_ids, archived, nickname /*cols*/)
    SELECT p.key, t.id, '', '', p.amount, 'EUR', p.interval, 0, '{}'::jsonb, false, '' /*vals*/
    FROM (VALUES ('bench-supporter-monthly', 'supporter', 500, 'month'),
                 ('bench-premium-monthly', 'premium', 1200, 'month'),
                 ('bench-premium-yearly', 'premium', 12000, 'year'))
         AS p(key, tier, amount, interval)
    JOIN wagtail_paywall_tier t ON t.slug = p.tier
    ON CONFLICT (key) DO NOTHING
    """,
    PLAN,
    # The upgraded ones hold the dearer monthly price now.
    """
    INSERT INTO wagtail_paywall_membership
        (id, member_id, tier, status, provider, price_id, provider_subscription_id,
         provider_customer_id, started_at, current_period_end, paid_through, trial_end,
         cancel_at_period_end, canceled_at, cancel_reason, price_since, paused_until,
         pause_reason, amount, coupon, discount_ends_at, version_number, version_event,
         updated_at /*cols*/)
    SELECT id, member, CASE WHEN upgraded_at IS NULL THEN tier ELSE 'premium' END, status,
           'fake', CASE WHEN upgraded_at IS NULL THEN price ELSE 'bench-premium-monthly' END,
           'sub_' || id, 'cus_' || member, start,
           coalesce(ended_at, now() + (g %% 28 + 1) * interval '1 day'), NULL,
           CASE WHEN trial THEN paid_at END, false, ended_at, '', NULL, NULL, '', NULL, '',
           NULL, 1, 'evt_' || id, now() /*vals*/
    FROM bench_plan
    """,
    # Ledger: the trials' start, then the first payment (new, its cohort), the upgrades
    # (expansion) and the ends (churned), as reports.ledger writes them.
    """
    INSERT INTO wagtail_paywall_ledgerentry
        (membership_id, seq, member_id, at, kind, tier, currency, status_before, status_after,
         state_before, state_after, mrr_before, mrr_after, cohort, cancel_reason, month, paid,
         trialing, unpaid /*cols*/)
    SELECT id, 1, member, start, 'changed', tier, 'EUR', '', 'trialing', 'none', 'trialing',
           0, 0, NULL, '', date_trunc('month', start AT TIME ZONE 'UTC')::date, 0, 1, 0 /*vals*/
    FROM bench_plan WHERE trial
    """,
    """
    INSERT INTO wagtail_paywall_ledgerentry
        (membership_id, seq, member_id, at, kind, tier, currency, status_before, status_after,
         state_before, state_after, mrr_before, mrr_after, cohort, cancel_reason, month, paid,
         trialing, unpaid /*cols*/)
    SELECT id, 2, member, paid_at, 'new', tier, 'EUR', CASE WHEN trial THEN 'trialing' ELSE '' END,
           'active', CASE WHEN trial THEN 'trialing' ELSE 'none' END, 'paid', 0, mrr,
           date_trunc('month', paid_at AT TIME ZONE 'UTC')::date, '',
           date_trunc('month', paid_at AT TIME ZONE 'UTC')::date, 1,
           CASE WHEN trial THEN -1 ELSE 0 END, 0 /*vals*/
    FROM bench_plan
    """,
    """
    INSERT INTO wagtail_paywall_ledgerentry
        (membership_id, seq, member_id, at, kind, tier, currency, status_before, status_after,
         state_before, state_after, mrr_before, mrr_after, cohort, cancel_reason, month, paid,
         trialing, unpaid /*cols*/)
    SELECT id, 3, member, upgraded_at, 'expansion', 'premium', 'EUR', 'active', 'active',
           'paid', 'paid', mrr, 1200, date_trunc('month', paid_at AT TIME ZONE 'UTC')::date, '',
           date_trunc('month', upgraded_at AT TIME ZONE 'UTC')::date, 0, 0, 0 /*vals*/
    FROM bench_plan WHERE upgraded_at IS NOT NULL AND (ended_at IS NULL OR ended_at > upgraded_at)
    """,
    """
    INSERT INTO wagtail_paywall_ledgerentry
        (membership_id, seq, member_id, at, kind, tier, currency, status_before, status_after,
         state_before, state_after, mrr_before, mrr_after, cohort, cancel_reason, month, paid,
         trialing, unpaid /*cols*/)
    SELECT id, 4, member, ended_at, 'churned', tier, 'EUR', 'active', 'canceled', 'paid', 'none',
           CASE WHEN upgraded_at IS NOT NULL AND upgraded_at < ended_at THEN 1200 ELSE mrr END,
           0, date_trunc('month', paid_at AT TIME ZONE 'UTC')::date, '',
           date_trunc('month', ended_at AT TIME ZONE 'UTC')::date, -1, 0, 0 /*vals*/
    FROM bench_plan WHERE ended_at IS NOT NULL
    """,
    """
    INSERT INTO wagtail_paywall_cancellationfeedback
        (membership_id, member_id, tier, reason, comment, created_at /*cols*/)
    SELECT id, member, tier, (%(reasons)s::text[])[1 + g %% 6], '', ended_at /*vals*/
    FROM bench_plan WHERE ended_at IS NOT NULL AND g %% 20 = 7
    """,
    """
    INSERT INTO wagtail_paywall_grant
        (id, member_id, kind, starts_at, ends_at, tier, entitlements, item, source,
         revoked_at, note, created_at /*cols*/)
    SELECT 'bg_' || g, (g + 7)::text, CASE WHEN g %% 50 = 1 THEN 'gift' ELSE 'comp' END,
           now() - interval '10 days', now() + interval '80 days', 'premium', '', '', '',
           NULL, '', now() /*vals*/
    FROM bench_plan WHERE g %% 50 = 1 OR g %% 40 = 2
    """,
    """
    INSERT INTO wagtail_paywall_readingactivity (member_id, day, reads /*cols*/)
    SELECT member, current_date - (r * 3 + g %% 3), 1 + (g + r) %% 4 /*vals*/
    FROM bench_plan, generate_series(0, %(reads)s::int - 1) AS r
    """,
    "DROP TABLE bench_plan",
]
TABLES = (
    "wagtail_paywall_membership",
    "wagtail_paywall_ledgerentry",
    "wagtail_paywall_cancellationfeedback",
    "wagtail_paywall_grant",
    "wagtail_paywall_readingactivity",
)


#: A value for a NOT NULL column without a database default, by its data type.
ZERO = {"boolean": "false", "jsonb": "'{}'::jsonb", "date": "current_date"}


def _filled(cursor: Any, statement: str) -> str:
    """``statement`` with the table's other NOT NULL columns (added by later migrations,
    which Django gives no database default) set to a zero of their type."""
    if "/*cols*/" not in statement:
        return statement
    table = statement.split("INSERT INTO", 1)[1].split()[0]
    listed = statement.split("(", 1)[1].split("/*cols*/")[0]
    named = {c.strip() for c in listed.split(",")}
    cursor.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s "
        "AND is_nullable = 'NO' AND column_default IS NULL AND column_name <> 'id'",
        [table],
    )
    extra = [(c, t) for c, t in cursor.fetchall() if c not in named]

    def zero(kind: str) -> str:
        if kind in ZERO:
            return ZERO[kind]
        if "timestamp" in kind:
            return "now()"
        if kind in ("integer", "bigint", "smallint", "numeric", "double precision"):
            return "0"
        return "''"

    cols = "".join(f", {c}" for c, _ in extra)
    vals = "".join(f", {zero(t)}" for _, t in extra)
    return statement.replace("/*cols*/", cols).replace("/*vals*/", vals)


def seed(cursor: Any, memberships: int, reads: int = 10, *, first: int = 1) -> dict[str, float]:
    """Run the seeding statements on ``cursor`` (a DB-API cursor of a migrated
    PostgreSQL database): memberships ``first`` .. ``first + memberships - 1``, ``reads``
    days read per member. Returns the seconds each step took."""
    params = {
        "first": first,
        "last": first + memberships - 1,
        "reads": reads,
        "reasons": list(REASONS),
    }
    steps: dict[str, float] = {}
    for statement in SQL:
        start = time.perf_counter()
        cursor.execute(_filled(cursor, statement), params)
        name = " ".join(statement.split()[:3])
        steps[name] = steps.get(name, 0.0) + time.perf_counter() - start
    for table in TABLES:
        cursor.execute(f"ANALYZE {table}")
    return steps


def timings(client: Any, repeats: int) -> dict[str, dict[str, list[float]]]:
    """Inside a configured Django on the seeded database: the seconds each report, the
    membership report page, the admin home page's membership panel and the whole home
    page (Wagtail's own panels included) take, ``cold``
    (the cache cleared first) and ``cached``, ``repeats`` times each. ``client`` is a
    Django test client logged in as a superuser."""
    from django.core.cache import cache as default_cache

    from wagtail_paywall import program as program_module
    from wagtail_paywall.admin.report_panel import MembershipPanel
    from wagtail_paywall.caching import cache
    from wagtail_paywall.reports import membership as reports

    def page(url: str) -> Any:
        def get() -> None:
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)

        return get

    cases: dict[str, Any] = {
        "MRR and movements": lambda: reports.movements(),
        "members now": lambda: reports.members_now(),
        "retention cohorts": lambda: reports.cohorts(),
        "LTV": lambda: reports.lifetime_value(reports.movements()),
        "churn reasons": lambda: reports.churn_reasons(),
        "report page (all charts)": page("/admin/paywall-metrics/"),
        "admin home panel": lambda: MembershipPanel().render_html({}),
        "admin home page (whole)": page("/admin/"),
    }
    program_module.get_program()  # the catalog, loaded once like on a running site
    result: dict[str, dict[str, list[float]]] = {}
    for name, func in cases.items():
        cold, warm = [], []
        for _ in range(repeats):
            cache().clear()
            default_cache.clear()
            program_module.get_program()
            start = time.perf_counter()
            func()
            cold.append(time.perf_counter() - start)
            start = time.perf_counter()
            func()
            warm.append(time.perf_counter() - start)
        result[name] = {"cold": cold, "cached": warm}
    return result


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3) or not all(a.isdigit() for a in argv[1:]):
        print(f"usage: {sys.argv[0]} DATABASE_URL MEMBERSHIPS [READS_PER_MEMBER]")
        return 2
    import psycopg

    url, n = argv[0], int(argv[1])
    reads = int(argv[2]) if len(argv) == 3 else 10
    with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cursor:
        steps = seed(cursor, n, reads)
    for name, seconds in steps.items():
        print(f"{seconds:8.1f}s  {name}")
    print(f"Seeded {n:,} memberships and {n * reads:,} reads in {sum(steps.values()):.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
