"""Usage-based add-ons on Stripe: the checkout adds the add-on's metered price, and each
record's units beyond the included quota go out once as a billing meter event.

Against the replay client, like the other Stripe tests: localstripe has no billing
meters. The meter event below is written by hand in the shape of Stripe's API reference
("Create a billing meter event", the same in API versions 2025-03-31.basil to
2026-10-28.endive): ``POST /v1/billing/meter_events`` answers with the
``billing.meter_event`` it stored.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
from datetime import UTC, datetime
from typing import Any

import pytest

from membership_sdk import Catalog, MembershipProgram, MemoryStore, ProviderError, Status, Tier
from membership_sdk.cancellation import renew_monthly
from membership_sdk.catalog import Interval, Price
from membership_sdk.membership import Membership
from membership_sdk.plugins import get_plugin_manager
from membership_sdk.providers import UsageReport, UsageReporting
from membership_sdk.providers.stripe import StripeProvider
from membership_sdk.providers.stripe import translate as tr
from membership_sdk.usage import MemoryUsage, UsageBilling, UsageRate

from .conftest import WEBHOOK_SECRET
from .replay import ReplayClient, Request, error, load_objects
from .test_lifecycle import items_sent, with_add_on

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


def program_with(replay: ReplayClient, sold: Catalog | None = None) -> MembershipProgram:
    program = MembershipProgram(
        sold or catalog(),
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


# -- the tier's price and plan changes, with the add-on's metered item on the subscription
def test_the_snapshot_names_the_tier_price_whichever_item_stripe_lists_first(
    stripe_provider: StripeProvider, replay: ReplayClient
) -> None:
    sub = with_add_on(OBJ["subscription"], first=True)
    replay.on("GET /v1/subscriptions/sub_RecGold", sub)
    snap = stripe_provider.fetch_subscription("sub_RecGold")
    assert snap is not None
    assert snap.price == "price_RecGoldMonthly"
    plan_item = sub["items"]["data"][1]
    assert snap.price_since == datetime.fromtimestamp(plan_item["created"], UTC)


def test_a_discounted_snapshot_takes_off_the_tier_price_not_the_metered_one() -> None:
    sub = with_add_on(OBJ["subscription"])
    sub["discounts"] = [{"coupon": {"id": "HALF", "percent_off": 50, "duration": "forever"}}]
    snap = tr.subscription_snapshot(sub, int(NOW.timestamp()) * 1000)
    assert (snap.coupon, snap.amount) == ("HALF", 450)


def test_an_invoice_whose_first_line_is_the_add_on_is_still_the_plans() -> None:
    invoice = copy.deepcopy(OBJ["invoice.preview"])
    usage_line = copy.deepcopy(invoice["lines"]["data"][0])
    usage_line["pricing"]["price_details"]["price"] = "price_ApiCallsMetered"
    invoice["lines"]["data"].insert(0, usage_line)
    assert tr.invoice_price(invoice, frozenset({"price_RecGoldMonthly"})) == (
        "price_RecGoldMonthly"
    )
    expanded = copy.deepcopy(usage_line)  # older API versions expand the line's price
    expanded["price"] = with_add_on(OBJ["subscription"])["items"]["data"][0]["price"]
    invoice["lines"]["data"][0] = expanded
    assert tr.invoice_price(invoice) == "price_RecGoldMonthly"


def plans() -> Catalog:
    """Pro (with the API-calls add-on, monthly and yearly) and Basic (without it)."""
    return Catalog(
        tiers=[Tier("free", "Free"),
               Tier("basic", "Basic", rank=1),
               Tier("pro", "Pro", rank=2, entitlements=(f"{METER}: 50 per month",))],
        prices=[
            Price("basic-monthly", 900, "EUR", Interval.MONTH, tier="basic",
                  provider_ids={"stripe": "price_RecBasicMonthly"}),
            Price("pro-monthly", 2900, "EUR", Interval.MONTH, tier="pro",
                  provider_ids={"stripe": "price_RecGoldMonthly"}),
            Price("pro-yearly", 29000, "EUR", Interval.YEAR, tier="pro",
                  provider_ids={"stripe": "price_RecGoldYearly"}),
        ],
        usage=[
            UsageRate(METER, 10, "EUR", name="API calls",
                      provider_ids={"stripe": "price_ApiCallsMetered",
                                    "stripe:year": "price_ApiCallsYearly"},
                      provider_meters={"stripe": EVENT_NAME}),
        ],
    )  # fmt: skip


def test_moving_to_yearly_swaps_the_add_on_for_its_yearly_metered_price(
    replay: ReplayClient,
) -> None:
    program = program_with(replay, plans())
    replay.on("GET /v1/subscriptions/sub_RecGold", with_add_on(OBJ["subscription"]))
    replay.on("POST /v1/invoices/create_preview", OBJ["invoice.preview"])
    replay.on("POST /v1/subscriptions/sub_RecGold", OBJ["subscription_yearly"])

    preview = program.preview_plan_change("m1", "pro-yearly")
    after = program.change_plan("m1", "pro-yearly", proration_date=preview.proration_date)

    expected = [
        {"id": "si_RecGold", "deleted": "true"},
        {"price": "price_RecGoldYearly"},
        {"id": "si_RecMetered", "deleted": "true"},
        {"price": "price_ApiCallsYearly"},
    ]
    [previewed] = replay.sent("POST /v1/invoices/create_preview")
    [changed] = replay.sent("POST /v1/subscriptions/sub_RecGold")
    assert items_sent(previewed) == expected
    assert items_sent(changed) == expected
    assert after.price_id == "pro-yearly"


def test_moving_to_a_tier_without_the_add_on_removes_its_metered_item(
    replay: ReplayClient,
) -> None:
    program = program_with(replay, plans())
    replay.on("GET /v1/subscriptions/sub_RecGold", with_add_on(OBJ["subscription"]))
    replay.on("POST /v1/subscriptions/sub_RecGold", OBJ["subscription"])

    program.change_plan("m1", "basic-monthly")

    [changed] = replay.sent("POST /v1/subscriptions/sub_RecGold")
    assert items_sent(changed) == [
        {"id": "si_RecGold", "deleted": "true"},
        {"price": "price_RecBasicMonthly"},
        {"id": "si_RecMetered", "deleted": "true"},
    ]


def test_a_yearly_plan_renewing_monthly_renews_with_the_monthly_metered_price(
    replay: ReplayClient,
) -> None:
    program = program_with(replay, plans())
    yearly = program.store.memberships.get("m1")
    assert yearly is not None
    program.store.memberships.save(dataclasses.replace(yearly, price_id="pro-yearly"))
    sub = with_add_on(OBJ["subscription_yearly"], "price_ApiCallsYearly")
    replay.on("GET /v1/subscriptions/sub_RecGold", sub)
    replay.on("POST /v1/subscription_schedules", {"id": "sub_sched_1", "object": "x"})
    replay.on("POST /v1/subscription_schedules/sub_sched_1", {"id": "sub_sched_1"})

    renew_monthly(program, "m1")

    [phases] = replay.sent("POST /v1/subscription_schedules/sub_sched_1")
    assert phases.params["phases[0][items][1][price]"] == "price_ApiCallsYearly"
    assert phases.params["phases[1][items][0][price]"] == "price_RecGoldMonthly"
    assert phases.params["phases[1][items][1][price]"] == "price_ApiCallsMetered"
