"""Memberships beyond content (issue 17): services, usage billing, the account page.

On the Wagtail test site (in-memory SQLite, per-process cache), in the same run:

* **Reservations, per call** (interleaved, so a slow spell hits every case alike):

  - ``meter reserve (baseline)``: ``DjangoStore.meters.reserve``, a member's first
    metered read of the window (lock, read the window, insert), the existing reservation;
  - ``service reserve``: ``DjangoStore.services.reserve``, a member's first request of a
    service with a quota of 2 a month (lock, count the period, insert);
  - ``ServiceDesk.request``: the core's whole request (checks, the quota, the reservation,
    the ``membership_service_requested`` hook), the member's context resolved already;
  - ``record_usage`` of one unit within the included quota, and of one unit beyond it
    (reported to the ``fake`` provider once the transaction commits).

  Each reservation call is a fresh member's, so no case counts more rows as it runs.

* **The account page** (``/paywall/account/``, Django test client, signed in): a member of
  a tier with a print delivery product (an upcoming issue, an address), a service quota
  (one request open), two usage add-ons, loyalty standing (14 paid months, one reward
  received) and a referral code, against a member of a plain tier with none of these
  (in their trial, so never paid: no loyalty standing; referrals off for their request).

Targets (set after measuring, with room for a shared machine): a service reservation and
a whole request at most 3x the meter baseline, a unit of usage at most 8x (within the
quota) and 12x (beyond it, reported); the page with every section at most 2.5x the plain
one and at most 12 queries more.
"""

from __future__ import annotations

import gc
import itertools
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import bench_wagtail  # sets Django up (the Wagtail test site) when imported
from benchlib import Check, Row, find, interleaved

GROUP = "beyond"
ACCOUNT = "/paywall/account/"
SERVICE = "service.bench-consultation"
PRINT = "delivery.bench-print"
WITHIN = "bench.downloads"  # 1,000,000 included a month: every unit is within
BEYOND = "bench.calls"  # none included: every unit is extra, reported to the provider

BASELINE = "meter reserve (baseline)"
SERVICE_RESERVE = "service reserve"
DESK = "ServiceDesk.request"
USAGE_WITHIN = "record_usage, within quota"
USAGE_EXTRA = "record_usage, extra unit"
PLAIN = "account page, plain tier (baseline)"
FULL = "account page, every issue-17 section"

#: Targets, set after measuring on a shared 2-core VM (see docs/performance.md): each
#: case's median at most this many times the meter reservation's.
MAX_RATIO = {SERVICE_RESERVE: 3.0, DESK: 3.0, USAGE_WITHIN: 8.0, USAGE_EXTRA: 12.0}
MAX_PAGE_RATIO = 2.5
MAX_EXTRA_QUERIES = 12

#: What the full member's page shows and the plain member's does not: the upcoming issue,
#: the address, the service, an add-on, the loyalty rewards, the referral link.
SECTIONS = (
    "Bench issue", "Hauptstra", "Bench consultation", "Dataset downloads",
    'data-reward="bench-year"', "A tote bag", "data-referral-code=",
)  # fmt: skip

_queries: dict[str, int] = {}
_fresh = itertools.count(1)


def _site() -> dict[str, Any]:
    """The catalog, the two members and everything the full member holds."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone

    from membership_sdk.providers.fake import FakeProvider
    from membership_sdk.services import ServiceDesk
    from wagtail_paywall import program as program_module
    from wagtail_paywall.billing.loyalty import give_due_rewards
    from wagtail_paywall.caching import invalidate_member
    from wagtail_paywall.models import (
        DeliveryIssue,
        DeliveryProduct,
        LoyaltyReward,
        Membership,
        Price,
        ShippingAddress,
        Tier,
        UsageRate,
    )
    from wagtail_paywall.tasks import deliver
    from wagtail_paywall.usage import record_usage

    call_command("migrate", verbosity=0, interactive=False)
    plain = Tier.objects.create(
        slug="bench-plain", name="Bench Plain", rank=1, entitlements="content.bench"
    )
    full = Tier.objects.create(
        slug="bench-full",
        name="Bench Full",
        rank=3,
        entitlements="\n".join(
            [
                "content.bench",
                PRINT,
                f"{SERVICE}: 2 per month",
                f"{WITHIN}: 1000000 per month",
                BEYOND,
            ]
        ),
    )
    for key, tier, trial in (("bench-plain-monthly", plain, 14), ("bench-full-monthly", full, 0)):
        Price.objects.create(
            key=key, tier=tier, amount=900, currency="EUR", interval=Price.Interval.MONTH,
            trial_days=trial, provider_ids={"fake": f"fake_{key}"},
        )  # fmt: skip
    UsageRate.objects.create(meter=WITHIN, name="dataset downloads", unit_amount=50, currency="EUR")
    UsageRate.objects.create(meter=BEYOND, name="API calls", unit_amount=1, currency="EUR")
    product = DeliveryProduct.objects.create(key=PRINT, name="Print edition")
    now = timezone.now()
    DeliveryIssue.objects.create(
        product=product, title="Bench issue", ships_on=(now + timedelta(days=15)).date(),
        cutoff=now + timedelta(days=10),
    )  # fmt: skip
    LoyaltyReward.objects.create(
        key="bench-year", name="The archive", after_months=12, entitlement="bench.archive"
    )
    LoyaltyReward.objects.create(
        key="bench-two-years", name="A tote bag", after_months=24, entitlement="bench.tote"
    )
    program_module.reset_program()
    program = program_module.get_program()
    fake = program.providers["fake"]
    assert isinstance(fake, FakeProvider)

    users = get_user_model().objects
    plain_user = users.create_user("bench-plain", password="x")
    full_user = users.create_user("bench-full", password="x")
    for user, price in ((plain_user, "bench-plain-monthly"), (full_user, "bench-full-monthly")):
        session = program.start_checkout(
            str(user.pk), price, provider="fake",
            success_url="http://testserver/", cancel_url="http://testserver/",
        )  # fmt: skip
        webhook = fake.complete_checkout(session.id)
        deliver("fake", webhook.headers, webhook.body)
    full_id = str(full_user.pk)
    # 14 paid months: one loyalty reward received, the next one 10 months away.
    Membership.objects.filter(member_id=full_id).update(started_at=now - timedelta(days=427))
    invalidate_member(full_id)
    assert give_due_rewards(), "no loyalty reward was given"
    invalidate_member(full_id)
    ShippingAddress.objects.create(
        member_id=full_id, name="Ada Lovelace", line1="Hauptstraße 1", postcode="10115",
        city="Berlin", country="DE", valid_from=now - timedelta(days=30),
    )  # fmt: skip
    desk = ServiceDesk(program)
    desk.request(full_id, SERVICE, "Any afternoon")
    for i in range(3):
        record_usage(full_user, WITHIN, idempotency_key=f"bench-setup-{i}")
        record_usage(full_user, BEYOND, idempotency_key=f"bench-setup-{i}")

    clients = {}
    for name, user in (("plain", plain_user), ("full", full_user)):
        clients[name] = Client()
        clients[name].force_login(user)
    return {
        "program": program,
        "desk": desk,
        "full_user": full_user,
        "full_context": program.context(full_id, usage={}),
        "clients": clients,
    }


@contextmanager
def _referrals(on: bool) -> Iterator[None]:
    """Referrals on (the full member's request) or off (the plain one's)."""
    from django.conf import settings
    from django.test import override_settings

    rules = {"MONTHLY_CAP": 2} if on else {}
    with override_settings(PAYWALL={**settings.PAYWALL, "REFERRALS": rules}):
        yield


def _reservations(site: dict[str, Any]) -> list[Row]:
    from membership_sdk.access import period_start
    from membership_sdk.entitlements import Period
    from membership_sdk.services import ServiceRequest
    from wagtail_paywall.usage import record_usage

    program, desk, user = site["program"], site["desk"], site["full_user"]
    store = program.store
    context = site["full_context"]
    now = program.clock()
    since = now - timedelta(days=30)
    month = period_start(Period.MONTH, now)

    def meter() -> object:
        member = f"bench-m{next(_fresh)}"
        return store.meters.reserve(member, "bench.meter", "article:1", 5, since, now)

    def service() -> object:
        request = ServiceRequest(
            id=store.services.new_id(), member_id=f"bench-s{next(_fresh)}", service=SERVICE,
            requested_at=now, period_start=month,
        )  # fmt: skip
        return store.services.reserve(request, 2)

    def request() -> object:
        return desk.request(f"bench-d{next(_fresh)}", SERVICE, "Any afternoon", context=context)

    def within() -> object:
        return record_usage(user, WITHIN, idempotency_key=f"bench-w{next(_fresh)}")

    def extra() -> object:
        return record_usage(user, BEYOND, idempotency_key=f"bench-x{next(_fresh)}")

    assert meter() == 1, "the meter reservation was refused"
    assert service() == 1, "the service reservation was refused"
    assert record_usage(user, WITHIN, idempotency_key="bench-first-w").extra == 0
    assert record_usage(user, BEYOND, idempotency_key="bench-first-x").extra == 1
    cases = [
        (BASELINE, meter, "DjangoStore.meters.reserve, a first read"),
        (SERVICE_RESERVE, service, "DjangoStore.services.reserve, quota 2/month"),
        (DESK, request, "checks, reservation, hook; context given"),
        (USAGE_WITHIN, within, "1 unit, 1,000,000 included a month"),
        (USAGE_EXTRA, extra, "1 unit beyond, reported to fake"),
    ]
    return interleaved(
        [(GROUP, name, func, f"{_statements(func)} queries; {note}") for name, func, note in cases]
    )


def _statements(func: Callable[[], object]) -> int:
    """The SQL statements of one call (savepoints included)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        func()
    return len(queries)


def _page(client: Any, referrals: bool, expect: str) -> Callable[[], object]:
    def serve() -> object:
        with _referrals(referrals):
            response = client.get(ACCOUNT)
        assert response.status_code == 200, response.status_code
        return response

    text = serve().content.decode()  # type: ignore[attr-defined]
    assert expect in text, f"the account page did not show {expect!r}"
    return serve


def _count_queries(client: Any, referrals: bool) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with _referrals(referrals):
        client.get(ACCOUNT)
        with CaptureQueriesContext(connection) as queries:
            client.get(ACCOUNT)
    return len(queries)


def _time_one(client: Any) -> float:
    """CPU seconds of one request (the garbage collector off, as benchlib measures)."""
    gc.disable()
    try:
        start = time.thread_time()
        response = client.get(ACCOUNT)
        spent = time.thread_time() - start
    finally:
        gc.enable()
    assert response.status_code == 200, response.status_code
    return spent


def _account(site: dict[str, Any]) -> list[Row]:
    import benchlib

    clients = site["clients"]
    plain_page = _page(clients["plain"], False, "Bench Plain")
    full_page = _page(clients["full"], True, "Bench Full")
    full_text = full_page().content.decode()  # type: ignore[attr-defined]
    plain_text = plain_page().content.decode()  # type: ignore[attr-defined]
    for shown in SECTIONS:
        assert shown in full_text, f"the full account page did not show {shown!r}"
        assert shown not in plain_text, f"the plain account page showed {shown!r}"
    _queries["plain"] = _count_queries(clients["plain"], False)
    _queries["full"] = _count_queries(clients["full"], True)

    # One request each in turn, the order alternating; the settings are switched
    # outside the timed request.
    pairs = max(30, benchlib.TIMER.repeats * 8)
    samples: dict[str, list[float]] = {"plain": [], "full": []}
    for i in range(pairs):
        for name in ("plain", "full") if i % 2 else ("full", "plain"):
            with _referrals(name == "full"):
                samples[name].append(_time_one(clients[name]))

    def row(name: str, key: str) -> Row:
        return Row(
            group=GROUP,
            name=name,
            median_us=statistics.median(samples[key]) * 1e6,
            best_us=min(samples[key]) * 1e6,
            loops=1,
            repeats=pairs,
            note=f"{_queries[key]} queries",
        )

    return [row(PLAIN, "plain"), row(FULL, "full")]


def run() -> list[Row]:
    if not bench_wagtail._READY:
        return []
    site = _site()
    return _reservations(site) + _account(site)


def checks(rows: list[Row]) -> list[Check]:
    baseline = find(rows, GROUP, BASELINE)
    if not baseline:
        return []
    result = []
    for name, most in MAX_RATIO.items():
        (found,) = find(rows, GROUP, name)
        ratio = found.median_us / baseline[0].median_us
        result.append(
            Check(f"beyond: {name} / meter reserve", f"{ratio:.2f}x", f"<= {most}x", ratio <= most)
        )
    plain, full = find(rows, GROUP, PLAIN), find(rows, GROUP, FULL)
    if plain and full:
        ratio = full[0].median_us / plain[0].median_us
        extra = _queries["full"] - _queries["plain"]
        result += [
            Check(
                "beyond: account page, every section / plain",
                f"{ratio:.2f}x",
                f"<= {MAX_PAGE_RATIO}x",
                ratio <= MAX_PAGE_RATIO,
            ),
            Check(
                "beyond: account page, extra queries",
                f"{extra} ({_queries['full']} vs {_queries['plain']})",
                f"<= {MAX_EXTRA_QUERIES}",
                extra <= MAX_EXTRA_QUERIES,
            ),
        ]
    return result
