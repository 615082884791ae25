"""The Members screen's segments at N memberships: seed, then time and ``EXPLAIN`` the
queries one filtered page runs (the page of memberships and its ``COUNT``).

``python benchmarks/explain_segments.py postgres://postgres@127.0.0.1:5432/segments 1000000``
migrates that database (it must exist and be empty, or already hold this seed), seeds N
memberships inside PostgreSQL (``INSERT ... SELECT ... FROM generate_series``: three
tiers, four statuses, two currencies, 24 monthly cohorts, a billing country for each
member out of 20, an attribution for one in ten, an open at-risk mark for one in twenty),
``ANALYZE``s, then runs each segment of :data:`SEGMENTS` through
:func:`wagtail_paywall.admin.segments.memberships` five times and prints the median time
of its page and its count, with the plan of each. See ``docs/performance.md`` (Segments).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from typing import Any

COUNTRIES = [
    "DE",
    "FR",
    "NL",
    "AT",
    "BE",
    "CH",
    "IT",
    "ES",
    "PT",
    "PL",
    "SE",
    "DK",
    "NO",
    "FI",
    "IE",
    "GB",
    "US",
    "CA",
    "AU",
    "NZ",
]

SEED = [
    """
    INSERT INTO wagtail_paywall_tier (slug, name, rank, description, entitlements)
    VALUES ('free', 'Free', 0, '', ''), ('supporter', 'Supporter', 1, '', 'content.supporter'),
           ('premium', 'Premium', 2, '', 'content.premium')
    ON CONFLICT DO NOTHING
    """,
    """
    INSERT INTO wagtail_paywall_membership
        (id, member_id, tier, status, provider, price_id, provider_subscription_id,
         provider_customer_id, started_at, cancel_at_period_end, cancel_reason, pause_reason,
         coupon, version_number, version_event, updated_at)
    SELECT 'seg_' || g, g::text,
           CASE g %% 3 WHEN 0 THEN 'supporter' ELSE 'premium' END,
           CASE WHEN g %% 10 IN (7, 8) THEN 'canceled' WHEN g %% 10 = 9 THEN 'past_due'
                WHEN g %% 10 = 6 THEN 'trialing' ELSE 'active' END,
           'fake',
           CASE g %% 3 WHEN 0 THEN 'supporter-monthly' WHEN 1 THEN 'premium-monthly'
                ELSE 'premium-monthly-usd' END,
           'sub_seg_' || g, 'cus_seg_' || g,
           date_trunc('month', now()) - (g %% 24) * interval '1 month'
               + (g %% 27) * interval '1 day',
           false, '', '', '', 0, '', now()
    FROM generate_series(1, %(n)s) AS g
    """,
    """
    INSERT INTO wagtail_paywall_membercountry (member_id, country, source, updated_at)
    SELECT g::text, (%(countries)s::text[])[1 + g %% 20], 'fake', now()
    FROM generate_series(1, %(n)s) AS g
    """,
    """
    INSERT INTO wagtail_paywall_attribution
        (member_id, page_id, price_id, provider, checkout_id, started_at, membership_id,
         grant_id, currency)
    SELECT g::text, %(page)s, 'premium-monthly', 'fake', '', now(), 'seg_' || g, '', 'EUR'
    FROM generate_series(10, %(n)s, 10) AS g
    """,
    """
    INSERT INTO wagtail_paywall_atrisk
        (member_id, membership_id, reason, detected_at, outcome)
    SELECT g::text, 'seg_' || g, CASE WHEN g %% 40 = 0 THEN 'sleeper' ELSE 'payment_failed' END,
           now(), 'open'
    FROM generate_series(20, %(n)s, 20) AS g
    """,
]

#: (name, the segment's filters)
SEGMENTS: list[tuple[str, dict[str, Any]]] = [
    ("tier", {"tier": "premium"}),
    ("status (rare)", {"status": "past_due"}),
    ("currency", {"currency": "USD"}),
    ("country", {"country": "DE"}),
    ("cohort", {"cohort": "COHORT"}),
    ("source page", {"page": "PAGE"}),
    ("at-risk reason", {"at_risk": "sleeper"}),
    (
        "tier + status + country + cohort",
        {"tier": "premium", "status": "active", "country": "FR", "cohort": "COHORT"},
    ),
]


def main(url: str, n: int) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.wagtail.settings")
    sys.path[:0] = [os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone
    from wagtail.models import Page

    from wagtail_paywall.admin import segments
    from wagtail_paywall.models import Membership, Price, Tier
    from wagtail_paywall.models.attribution import Attribution
    from wagtail_paywall.program import get_program

    call_command("migrate", verbosity=0)
    if not Membership.objects.exists():
        started = time.perf_counter()
        page = Page.objects.filter(depth=2).first() or Page.objects.first()
        with connection.cursor() as cursor:
            for sql in SEED:
                cursor.execute(
                    sql, {"n": n, "countries": list(COUNTRIES), "page": page.pk if page else None}
                )
            tiers = {t.slug: t for t in Tier.objects.all()}
            for key, tier, currency in (
                ("supporter-monthly", "supporter", "EUR"),
                ("premium-monthly", "premium", "EUR"),
                ("premium-monthly-usd", "premium", "USD"),
            ):
                Price.objects.get_or_create(
                    key=key,
                    defaults={"tier": tiers[tier], "amount": 500, "currency": currency},
                )
            cursor.execute("ANALYZE")
        print(f"seeded {n:,} memberships in {time.perf_counter() - started:.0f} s")
    get_program()
    now = timezone.now()
    # Last month: its members (g % 24 = 1) are premium, some active, some billed in FR.
    last = now.replace(day=1) - timezone.timedelta(days=1)
    cohort = f"{last.year}-{last.month:02d}"
    page_id = Attribution.objects.values_list("page_id", flat=True).first()
    print(f"PostgreSQL {connection.pg_version}, {Membership.objects.count():,} memberships")
    for name, filters in SEGMENTS:
        data = {
            k: (cohort if v == "COHORT" else page_id if v == "PAGE" else v)
            for k, v in filters.items()
        }
        form = segments.SegmentForm(data)
        assert form.is_valid(), form.errors
        rows = form.segment()
        page_times, count_times = [], []
        for _ in range(5):
            t = time.perf_counter()
            list(rows[: segments.PER_PAGE])
            page_times.append(time.perf_counter() - t)
            t = time.perf_counter()
            count = rows.count()
            count_times.append(time.perf_counter() - t)
        print(
            f"\n## {name}: {count:,} match; page {statistics.median(page_times) * 1000:.1f} ms,"
            f" count {statistics.median(count_times) * 1000:.1f} ms"
        )
        print(rows[: segments.PER_PAGE].explain(analyze=True))
        print("-- count:")
        with connection.cursor() as cursor:
            sql, params = rows.order_by().values("pk").query.sql_with_params()
            cursor.execute(f"EXPLAIN ANALYZE SELECT COUNT(*) FROM ({sql}) AS s", params)
            print("\n".join(r[0] for r in cursor.fetchall()))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000)
