"""Seed a migrated PostgreSQL database of the paywall with N members, fast.

``python benchmarks/seed_scale.py postgres://.../db 1000000`` adds N users (``member1`` to
``memberN``, unusable passwords) and, for each, one membership; every fourth member also
holds a comp grant and has a metered read. The catalog gets the tiers they refer to.
Everything is made inside PostgreSQL by ``INSERT ... SELECT ... FROM generate_series``,
one statement per table, then ``ANALYZE``d, so the planner knows the tables' sizes:
a million members take a minute or two, not hours of ORM saves.

The member the benchmarks ask for, ``member{N // 2}``, has the same rows at every N: one
active membership, one comp grant and one metered read.
"""

from __future__ import annotations

import sys
import time

SQL = [
    # The tiers the members hold.
    """
    INSERT INTO wagtail_paywall_tier (slug, name, rank, description, entitlements)
    VALUES ('free', 'Free', 0, '', ''),
           ('supporter', 'Supporter', 1, '', 'content.supporter'),
           ('premium', 'Premium', 2, '', 'content.premium')
    ON CONFLICT (slug) DO NOTHING
    """,
    """
    INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email,
                           is_staff, is_active, date_joined)
    SELECT '!', false, 'member' || g, '', '', 'member' || g || '@example.com',
           false, true, now() - (g %% 1000) * interval '1 day'
    FROM generate_series(%(first)s::int, %(last)s::int) AS g
    """,
    # One membership per member: mostly active, some canceled or past due, two tiers.
    """
    INSERT INTO wagtail_paywall_membership
        (id, member_id, tier, status, provider, price_id, provider_subscription_id,
         provider_customer_id, started_at, current_period_end, trial_end,
         cancel_at_period_end, canceled_at, cancel_reason, version_number, version_event,
         updated_at)
    SELECT 'mem_' || u.id, u.id::text,
           CASE WHEN u.k %% 3 = 0 THEN 'supporter' ELSE 'premium' END,
           CASE WHEN u.k %% 10 = 7 THEN 'canceled' WHEN u.k %% 10 = 9 THEN 'past_due'
                ELSE 'active' END,
           'fake', '', 'sub_' || u.id, 'cus_' || u.id,
           u.date_joined, now() + (u.k %% 28) * interval '1 day', NULL,
           false, NULL, '', 1, 'evt_' || u.id, now()
    FROM (SELECT id, date_joined, substr(username, 7)::int AS k FROM auth_user
          WHERE username LIKE 'member%%' AND id BETWEEN %(first_id)s AND %(last_id)s) AS u
    """,
    """
    INSERT INTO wagtail_paywall_grant
        (id, member_id, kind, starts_at, ends_at, tier, entitlements, item, source,
         revoked_at, note, created_at)
    SELECT 'grant_' || u.id, u.id::text, 'comp', now() - interval '1 day',
           now() + interval '30 days', 'premium', '', '', '', NULL, '', now()
    FROM (SELECT id, date_joined, substr(username, 7)::int AS k FROM auth_user
          WHERE username LIKE 'member%%' AND id BETWEEN %(first_id)s AND %(last_id)s) AS u
    WHERE u.k %% 4 = 0
    """,
    """
    INSERT INTO wagtail_paywall_meterusage (member_id, meter, resource_key, day, used_at)
    SELECT u.id::text, 'articles', 'page:' || (u.k %% 500), current_date, now()
    FROM (SELECT id, date_joined, substr(username, 7)::int AS k FROM auth_user
          WHERE username LIKE 'member%%' AND id BETWEEN %(first_id)s AND %(last_id)s) AS u
    WHERE u.k %% 4 = 0
    """,
]
TABLES = (
    "auth_user",
    "wagtail_paywall_membership",
    "wagtail_paywall_grant",
    "wagtail_paywall_meterusage",
)


def seed(database_url: str, members: int, *, progress: bool = False) -> float:
    """Add ``members`` members to the database at ``database_url``; the seconds it took."""
    import psycopg

    start = time.perf_counter()
    with psycopg.connect(database_url, autocommit=True) as conn:
        first = 1 + (conn.execute("SELECT count(*) FROM auth_user").fetchone() or (0,))[0]
        params = {"first": first, "last": first + members - 1}
        for n, statement in enumerate(SQL):
            if n == 2:  # the users exist now: their ids bound the other tables' rows
                row = conn.execute(
                    "SELECT min(id), max(id) FROM auth_user WHERE username LIKE 'member%%' "
                    "AND substr(username, 7)::int BETWEEN %(first)s::int AND %(last)s::int",
                    params,
                ).fetchone()
                params.update(first_id=row[0], last_id=row[1])  # type: ignore[index]
            conn.execute(statement, params)  # type: ignore[arg-type]
            if progress:
                print(f"  step {n + 1}/{len(SQL)}: {time.perf_counter() - start:.1f}s", flush=True)
        for table in TABLES:
            conn.execute(f"ANALYZE {table}")
    return time.perf_counter() - start


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not argv[1].isdigit():
        print(f"usage: {sys.argv[0]} DATABASE_URL MEMBERS  (a migrated PostgreSQL database)")
        return 2
    url, members = argv[0], int(argv[1])
    print(f"Seeding {members:,} members ...", flush=True)
    seconds = seed(url, members, progress=True)
    print(f"Seeded {members:,} members in {seconds:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
