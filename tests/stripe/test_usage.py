"""Usage-based add-ons on Stripe: the checkout adds the add-on's metered price, and each
record's units beyond the included quota go out once as a billing meter event.

Against the replay client, like the other Stripe tests: localstripe has no billing
meters. The meter event below is written by hand in the shape of Stripe's API reference
("Create a billing meter event", the same in API versions 2025-03-31.basil to
2026-10-28.endive): ``POST /v1/billing/meter_events`` answers with the
``billing.meter_event`` it stored.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest

from membership_sdk import Catalog, MembershipProgram, MemoryStore, ProviderError, Status, Tier
from membership_sdk.catalog import Interval, Price
from membership_sdk.membership import Membership
from membership_sdk.plugins import get_plugin_manager
from membership_sdk.providers import UsageReport, UsageReporting
from membership_sdk.providers.stripe import StripeProvider
from membership_sdk.usage import MemoryUsage, UsageBilling, UsageRate

from .conftest import WEBHOOK_SECRET
from .replay import ReplayClient, Request, error, load_objects

pytestmark = pytest.mark.stripe_replay

OBJ = load_objects()
NOW = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
METER = "api.calls"
EVENT_NAME = "api_calls"
KEYS = itertools.count()


def meter_event(request: Request) -> tuple[int, dict[str, Any]]:
    """Stripe's answer: the event as stored (``livemode`` false in test mode)."""
    return 200, {
        "object": "billing.meter_event",
        "created": int(NOW.timestamp()),
        "event_name": request.params["event_name"],
        "identifier": request.params["identifier"],
        "livemode": False,
        "payload": {
            "stripe_customer_id": request.params["payload[stripe_customer_id]"],
            "value": request.params["payload[value]"],
        },
        "timestamp": int(request.params["timestamp"]),
    }


def catalog() -> Catalog:
    return Catalog(
        tiers=[Tier("free", "Free"),
               Tier("pro", "Pro", rank=1, entitlements=(f"{METER}: 50 per month",))],
        prices=[
            Price("pro-monthly", 2900, "EUR", Interval.MONTH, tier="pro",
                  provider_ids={"stripe": "price_RecGoldMonthly"}),
        ],
        usage=[
            UsageRate(METER, 10, "EUR", name="API calls",
                      provider_ids={"stripe": "price_ApiCallsMetered"},
                      provider_meters={"stripe": EVENT_NAME}),
        ],
    )  # fmt: skip


def program_with(replay: ReplayClient) -> MembershipProgram:
    program = MembershipProgram(
        catalog(),
        MemoryStore(),
        pm=get_plugin_manager(load_entrypoints=False),
        provider_config={
            "stripe": {
                "api_key": "sk_test_replay",
                "webhook_secret": WEBHOOK_SECRET,
                "http_client": replay,
                "max_network_retries": 0,
            }
        },
    )
    program.clock = lambda: NOW
    program.store.memberships.save(
        Membership(
            id="m1",
            member_id="member-42",
            tier="pro",
            status=Status.ACTIVE,
            provider="stripe",
            price_id="pro-monthly",
            provider_subscription_id="sub_RecGold",
            provider_customer_id="cus_RecMember42",
            started_at=NOW.replace(day=1),
            current_period_end=NOW.replace(month=4, day=1),
        )
    )
    return program


@pytest.fixture
def usage(replay: ReplayClient) -> UsageBilling:
    replay.on("POST /v1/billing/meter_events", meter_event)
    return UsageBilling(program_with(replay), MemoryUsage())


def use(usage: UsageBilling, quantity: int) -> Any:
    return usage.record("member-42", METER, quantity, f"call-batch-{next(KEYS)}")


def test_stripe_can_report_usage(stripe_provider: StripeProvider) -> None:
    assert isinstance(stripe_provider, UsageReporting)


def test_a_checkout_of_a_tier_with_an_add_on_adds_its_metered_price(replay: ReplayClient) -> None:
    replay.on("GET /v1/customers", {"object": "list", "data": [], "has_more": False})
    replay.on("POST /v1/customers", OBJ["customer"])
    replay.on("POST /v1/checkout/sessions", OBJ["checkout.session"])

    program_with(replay).start_checkout(
        "member-42", "pro-monthly", provider="stripe", success_url="https://x.example/ok",
        cancel_url="https://x.example/no",
    )  # fmt: skip

    [sent] = replay.sent("POST /v1/checkout/sessions")
    assert sent.params["line_items[0][price]"] == "price_RecGoldMonthly"
    assert sent.params["line_items[0][quantity]"] == "1"
    assert sent.params["line_items[1][price]"] == "price_ApiCallsMetered"
    assert "line_items[1][quantity]" not in sent.params  # metered prices take none


def test_use_within_the_included_quota_sends_nothing(
    usage: UsageBilling, replay: ReplayClient
) -> None:
    use(usage, 30)
    use(usage, 20)

    assert replay.sent("POST /v1/billing/meter_events") == []


def test_each_records_extra_units_are_sent_once_as_a_meter_event(
    usage: UsageBilling, replay: ReplayClient
) -> None:
    use(usage, 45)
    crossing = use(usage, 8)
    beyond = use(usage, 2)

    first, second = replay.sent("POST /v1/billing/meter_events")
    assert first.params == {
        "event_name": EVENT_NAME,
        "identifier": first.idempotency_key,
        "payload[stripe_customer_id]": "cus_RecMember42",
        "payload[value]": "3",
        "timestamp": str(int(NOW.timestamp())),
    }
    assert second.params["payload[value]"] == "2"
    assert first.idempotency_key != second.idempotency_key
    assert (crossing.extra, beyond.extra) == (3, 2)
    assert usage.report_pending() == type(usage.report_pending())()  # nothing left to send


def test_a_retried_record_sends_no_second_event(usage: UsageBilling, replay: ReplayClient) -> None:
    use(usage, 50)
    usage.record("member-42", METER, 4, "retried")
    usage.record("member-42", METER, 4, "retried")

    assert len(replay.sent("POST /v1/billing/meter_events")) == 1


def test_a_failed_report_is_sent_again_with_the_same_identifier(
    usage: UsageBilling, replay: ReplayClient
) -> None:
    replay.on(
        "POST /v1/billing/meter_events",
        error(500, "api_error", "Something went wrong on Stripe's end."),
        meter_event,
    )
    use(usage, 55)
    assert isinstance(usage.store, MemoryUsage)
    (record,) = usage.store.records.values()
    assert record.reported_at is None
    assert "Stripe failed to report usage" in record.report_error

    run = usage.report_pending()

    first, again = replay.sent("POST /v1/billing/meter_events")
    assert (run.reported, run.failed) == (1, 0)
    assert first.params["identifier"] == again.params["identifier"]
    assert again.params["payload[value]"] == "5"


def test_an_identifier_stripe_has_seen_counts_as_reported(
    stripe_provider: StripeProvider, replay: ReplayClient
) -> None:
    replay.on(
        "POST /v1/billing/meter_events",
        error(400, "invalid_request_error", "An event with identifier 'usage-1' already exists."),
    )

    stripe_provider.report_usage(report())  # no error: it was billed before


def test_a_report_without_a_customer_is_refused(stripe_provider: StripeProvider) -> None:
    with pytest.raises(ProviderError, match=r"needs the customer of subscription 'sub_1'"):
        stripe_provider.report_usage(report(customer_id=""))


def report(**fields: Any) -> UsageReport:
    values: dict[str, Any] = {
        "subscription_id": "sub_1",
        "customer_id": "cus_1",
        "meter": METER,
        "provider_meter": EVENT_NAME,
        "quantity": 1,
        "unit_amount": 10,
        "currency": "EUR",
        "identifier": "usage-1",
        "when": NOW,
        "period_end": NOW.replace(month=4),
    }
    values.update(fields)
    return UsageReport(**values)
