"""Stripe webhooks: signatures, translation, and applying events in any order.

Events are built around objects recorded in the shape of API version 2026-10-28.endive
(``recordings/objects-2026-10-28.endive.json``) and, for compatibility, events of API
version 2022-11-15 (``recordings/events-2022-11-15.json``); they are signed here with
Stripe's scheme through the SDK's ``WebhookSignature``. Subscriptions the provider fetches
before applying an event are answered by the replay client: localstripe never sends
``customer.subscription.updated`` and has no Checkout, so these are recorded responses,
not a live server.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from membership_sdk import (
    EventType,
    MalformedEvent,
    MembershipProgram,
    MemoryStore,
    Outcome,
    ProviderError,
    PurchaseState,
    Resource,
    SignatureError,
    Status,
)
from membership_sdk.access import HasEntitlement, Purchase
from membership_sdk.plugins import get_plugin_manager
from membership_sdk.providers.stripe import StripeProvider, map_status

from .conftest import OLD_WEBHOOK_SECRET, WEBHOOK_SECRET, gold_catalog
from .replay import ReplayClient, event, load_objects, load_old_events, sign

pytestmark = pytest.mark.stripe_replay

OBJ = load_objects()
T0 = OBJ["subscription"]["created"]


def subscription(**changes: Any) -> dict[str, Any]:
    sub = copy.deepcopy(OBJ["subscription"])
    sub.update(changes)
    return sub


def deliver(
    provider: StripeProvider,
    payload: dict[str, Any],
    secret: str = WEBHOOK_SECRET,
    timestamp: int | None = None,
):
    body = json.dumps(payload)
    return provider.parse_webhook(sign(body, secret, timestamp), body.encode())


def recorded_now() -> datetime:
    """A day into the recorded subscription's first period: the program's clock."""
    return datetime.fromtimestamp(T0 + 86400, UTC)


def program_with(replay: ReplayClient, store: MemoryStore | None = None) -> MembershipProgram:
    return MembershipProgram(
        gold_catalog(),
        store or MemoryStore(),
        clock=recorded_now,
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


def handle(program: MembershipProgram, payload: dict[str, Any]):
    body = json.dumps(payload)
    return program.handle_webhook("stripe", sign(body, WEBHOOK_SECRET), body.encode())


# -- signatures ------------------------------------------------------------------------------


def test_a_signed_subscription_event_becomes_a_billing_event(stripe_provider) -> None:
    [billing] = deliver(
        stripe_provider,
        event("customer.subscription.updated", subscription(), id="evt_1", created=T0 + 5),
    )
    assert billing.type is EventType.SUBSCRIPTION_UPDATED
    assert billing.id == "evt_1"
    assert billing.subscription is not None
    assert billing.subscription.status is Status.ACTIVE
    assert billing.member_id == "member-42"


def test_a_webhook_signed_with_the_secret_being_rotated_out_still_verifies(
    stripe_provider,
) -> None:
    payload = event("customer.subscription.updated", subscription(), id="evt_1", created=T0)
    assert len(deliver(stripe_provider, payload, OLD_WEBHOOK_SECRET)) == 1


def test_a_forged_signature_is_refused(stripe_provider) -> None:
    payload = event("customer.subscription.updated", subscription(), id="evt_1", created=T0)
    with pytest.raises(SignatureError, match="matches none"):
        deliver(stripe_provider, payload, "whsec_forged")


def test_a_body_changed_after_signing_is_refused(stripe_provider) -> None:
    body = json.dumps(event("customer.subscription.updated", subscription(), id="e", created=T0))
    headers = sign(body, WEBHOOK_SECRET)
    tampered = body.replace('"active"', '"trialing"')
    with pytest.raises(SignatureError):
        stripe_provider.parse_webhook(headers, tampered.encode())


def test_a_webhook_without_a_signature_header_is_refused(stripe_provider) -> None:
    with pytest.raises(SignatureError, match="without a Stripe-Signature"):
        stripe_provider.parse_webhook({"Content-Type": "application/json"}, b"{}")


def test_a_signature_older_than_the_tolerance_is_refused_as_a_replay(stripe_provider) -> None:
    payload = event("customer.subscription.updated", subscription(), id="evt_1", created=T0)
    with pytest.raises(SignatureError, match="older than 300 s"):
        deliver(stripe_provider, payload, timestamp=int(time.time()) - 301)


def provider_at(now: int) -> StripeProvider:
    """A provider whose clock stands at ``now`` (Unix seconds)."""
    return StripeProvider(
        "sk_test_replay",
        webhook_secrets=[WEBHOOK_SECRET],
        http_client=ReplayClient(),
        clock_ms=lambda: now * 1000,
    )


def test_a_signature_dated_beyond_the_tolerance_in_the_future_is_refused_as_forged() -> None:
    payload = event("customer.subscription.updated", subscription(), id="evt_1", created=T0)
    with pytest.raises(SignatureError, match=r"dated 301 s in the future \(t=\d+\).*forged"):
        deliver(provider_at(T0), payload, timestamp=T0 + 301)


def test_a_signature_ahead_of_the_clock_within_the_tolerance_verifies() -> None:
    payload = event("customer.subscription.updated", subscription(), id="evt_1", created=T0)
    assert len(deliver(provider_at(T0), payload, timestamp=T0 + 300)) == 1


def test_a_signatures_age_is_measured_by_the_providers_clock() -> None:
    payload = event("customer.subscription.updated", subscription(), id="evt_1", created=T0)
    with pytest.raises(SignatureError, match="older than 300 s"):
        deliver(provider_at(T0), payload, timestamp=T0 - 301)


def test_without_a_configured_secret_no_webhook_verifies() -> None:
    provider = StripeProvider("sk_test_x", http_client=ReplayClient())
    body = json.dumps(event("customer.subscription.updated", subscription(), id="e", created=T0))
    with pytest.raises(SignatureError, match="no Stripe webhook secret"):
        provider.parse_webhook(sign(body, WEBHOOK_SECRET), body.encode())


def test_header_names_are_matched_whatever_their_case(stripe_provider) -> None:
    body = json.dumps(event("customer.subscription.updated", subscription(), id="e", created=T0))
    headers = {k.lower(): v for k, v in sign(body, WEBHOOK_SECRET).items()}
    assert len(stripe_provider.parse_webhook(headers, body.encode())) == 1


def test_a_signed_body_that_is_not_json_is_malformed(stripe_provider) -> None:
    with pytest.raises(MalformedEvent, match="not JSON"):
        stripe_provider.parse_webhook(sign("not json", WEBHOOK_SECRET), b"not json")


def test_a_signed_json_body_that_is_not_an_event_is_malformed(stripe_provider) -> None:
    body = json.dumps({"object": "customer", "id": "cus_1"})
    with pytest.raises(MalformedEvent, match="not an event"):
        stripe_provider.parse_webhook(sign(body, WEBHOOK_SECRET), body.encode())


# -- malformed events ------------------------------------------------------------------------


def test_an_event_created_true_is_malformed_not_a_time_in_1970(stripe_provider) -> None:
    payload = event("customer.subscription.updated", subscription(), id="evt_1", created=T0)
    payload["created"] = True
    with pytest.raises(MalformedEvent, match=r"'created' must be a Unix timestamp.*got True"):
        deliver(stripe_provider, payload)


def test_an_event_created_beyond_the_year_9999_is_malformed(stripe_provider) -> None:
    payload = event("customer.subscription.updated", subscription(), id="evt_1", created=10**15)
    with pytest.raises(MalformedEvent, match=r"'created' .*years 1 to 9999; got 1000000000000000"):
        deliver(stripe_provider, payload)


@pytest.mark.parametrize(
    ("field", "value"),
    [("id", 42), ("type", None), ("livemode", "false"), ("livemode", None), ("data", [])],
)
def test_an_event_field_of_the_wrong_type_is_malformed(
    stripe_provider, field: str, value: object
) -> None:
    payload = event("customer.subscription.updated", subscription(), id="evt_1", created=T0)
    payload[field] = value
    with pytest.raises(MalformedEvent, match=f"'{field}' must be .*; got {re.escape(repr(value))}"):
        deliver(stripe_provider, payload)


def test_an_event_whose_data_object_is_not_an_object_is_malformed(stripe_provider) -> None:
    payload = event("customer.subscription.updated", {}, id="evt_1", created=T0)
    payload["data"]["object"] = "sub_RecGold"
    with pytest.raises(
        MalformedEvent, match=r"'data\.object' must be an object; got 'sub_RecGold'"
    ):
        deliver(stripe_provider, payload)


@pytest.mark.parametrize("field", ["trial_end", "canceled_at", "start_date", "cancel_at"])
def test_a_subscription_time_that_is_a_bool_is_malformed(stripe_provider, field: str) -> None:
    payload = event(
        "customer.subscription.updated", subscription(**{field: True}), id="evt_1", created=T0
    )
    with pytest.raises(MalformedEvent, match=f"'{field}' must be a Unix timestamp.*; got True"):
        deliver(stripe_provider, payload)


def test_an_item_period_end_that_is_a_bool_is_malformed(stripe_provider) -> None:
    sub = subscription()
    sub["items"]["data"][0]["current_period_end"] = True
    payload = event("customer.subscription.updated", sub, id="evt_1", created=T0)
    with pytest.raises(
        MalformedEvent, match=r"'items.data\[\].current_period_end' must be .*; got True"
    ):
        deliver(stripe_provider, payload)


def test_an_older_api_period_end_that_is_a_string_is_malformed(stripe_provider) -> None:
    old = load_old_events()["customer.subscription.updated"]
    old["data"]["object"]["current_period_end"] = "1801440000"
    with pytest.raises(MalformedEvent, match=r"'current_period_end' must be .*; got '1801440000'"):
        deliver(stripe_provider, old)


def test_a_subscription_time_in_fractional_seconds_is_malformed(stripe_provider) -> None:
    payload = event(
        "customer.subscription.updated", subscription(trial_end=T0 + 0.5), id="evt_1", created=T0
    )
    with pytest.raises(MalformedEvent, match=r"'trial_end' .*whole seconds; got 179876160\d\.5"):
        deliver(stripe_provider, payload)


def test_a_subscription_time_of_infinity_is_malformed(stripe_provider) -> None:
    payload = event("customer.subscription.updated", subscription(), id="evt_1", created=T0)
    body = json.dumps(payload).replace('"trial_end": null', '"trial_end": Infinity')
    with pytest.raises(MalformedEvent, match=r"'trial_end' .*; got inf"):
        stripe_provider.parse_webhook(sign(body, WEBHOOK_SECRET), body.encode())


def test_a_cancel_at_period_end_that_is_not_a_bool_is_malformed(stripe_provider) -> None:
    payload = event(
        "customer.subscription.updated",
        subscription(cancel_at_period_end="false"),
        id="evt_1",
        created=T0,
    )
    with pytest.raises(MalformedEvent, match="'cancel_at_period_end' must be true or false"):
        deliver(stripe_provider, payload)


def test_a_charge_whose_refunded_is_not_a_bool_is_malformed(stripe_provider) -> None:
    charge = {
        "id": "ch_RecEbook",
        "object": "charge",
        "customer": "cus_RecMember42",
        "payment_intent": "pi_RecEbook",
        "refunded": "false",
        "metadata": {"stripe_price": "price_RecEbook"},
    }
    payload = event("charge.refunded", charge, id="evt_r", created=T0)
    with pytest.raises(MalformedEvent, match="'refunded' must be true or false; got 'false'"):
        deliver(stripe_provider, payload)


def test_a_malformed_event_changes_nothing(replay) -> None:
    program = program_with(replay)
    payload = event("customer.subscription.updated", subscription(), id="evt_1", created=T0)
    payload["created"] = True
    with pytest.raises(MalformedEvent):
        handle(program, payload)
    assert not program.store.inbox.seen("stripe", "evt_1")
    assert program.store.memberships.for_member("member-42") == []
    assert replay.requests == []


# -- what is ignored -------------------------------------------------------------------------


def test_a_test_mode_event_on_a_live_key_is_ignored_and_logged(caplog) -> None:
    live = StripeProvider("sk_live_x", webhook_secrets=[WEBHOOK_SECRET], http_client=ReplayClient())
    payload = event("customer.subscription.updated", subscription(), id="evt_t", created=T0)
    with caplog.at_level(logging.INFO, "membership_sdk.providers.stripe"):
        assert deliver(live, payload) == []
    assert "test event on a live key" in caplog.text


def test_a_live_event_on_a_test_key_is_ignored(stripe_provider) -> None:
    payload = event(
        "customer.subscription.updated",
        subscription(livemode=True),
        id="evt_l",
        created=T0,
        livemode=True,
    )
    assert deliver(stripe_provider, payload) == []


def test_event_types_the_sdk_does_not_use_are_ignored(stripe_provider) -> None:
    payload = event("customer.updated", OBJ["customer"], id="evt_c", created=T0)
    assert deliver(stripe_provider, payload) == []


def test_events_for_another_products_subscriptions_are_ignored_and_logged(caplog) -> None:
    provider = StripeProvider(
        "sk_test_x",
        webhook_secrets=[WEBHOOK_SECRET],
        http_client=ReplayClient(),
        products=["prod_Other"],
    )
    payload = event("customer.subscription.updated", subscription(), id="evt_f", created=T0)
    with caplog.at_level(logging.INFO, "membership_sdk.providers.stripe"):
        assert deliver(provider, payload) == []
    assert "product 'prod_RecGold' is not one of ours" in caplog.text


def test_a_subscription_of_a_foreign_price_is_ignored_by_the_program(replay) -> None:
    program = MembershipProgram(
        gold_catalog(monthly="price_SomeoneElses"),
        MemoryStore(),
        clock=recorded_now,
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
    replay.on("GET /v1/subscriptions/sub_RecGold", subscription())
    [result] = handle(
        program, event("customer.subscription.updated", subscription(), id="evt_x", created=T0)
    )
    assert result.outcome is Outcome.IGNORED
    assert "foreign price 'price_RecGoldMonthly'" in result.detail


def test_an_event_for_an_unknown_customer_is_ignored(replay) -> None:
    program = program_with(replay)
    anonymous = subscription(metadata={}, customer="cus_Stranger")
    replay.on("GET /v1/subscriptions/sub_RecGold", anonymous)
    [result] = handle(
        program, event("customer.subscription.updated", anonymous, id="evt_s", created=T0)
    )
    assert result.outcome is Outcome.IGNORED
    assert "unknown customer 'cus_Stranger'" in result.detail


# -- translation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stripe_status", "status"),
    [
        ("incomplete", Status.INCOMPLETE),
        ("incomplete_expired", Status.EXPIRED),
        ("trialing", Status.TRIALING),
        ("active", Status.ACTIVE),
        ("past_due", Status.PAST_DUE),
        ("unpaid", Status.PAUSED),
        ("paused", Status.PAUSED),
        ("canceled", Status.CANCELED),
        ("some_future_status", Status.UNKNOWN),
    ],
)
def test_stripe_statuses_map_to_membership_statuses(stripe_status: str, status: Status) -> None:
    assert map_status(stripe_status) is status


def test_an_unknown_stripe_status_keeps_stripes_word_and_grants_nothing(stripe_provider) -> None:
    payload = event(
        "customer.subscription.updated", subscription(status="frozen"), id="e", created=T0
    )
    [billing] = deliver(stripe_provider, payload)
    assert billing.subscription.status is Status.UNKNOWN
    assert billing.subscription.raw_status == "frozen"


def test_an_older_api_payload_with_plans_and_the_period_on_the_subscription_is_read(
    stripe_provider,
) -> None:
    old = load_old_events()["customer.subscription.updated"]
    [billing] = deliver(stripe_provider, old)
    snap = billing.subscription
    assert snap.price == "gold-monthly-plan"
    assert snap.current_period_end == datetime.fromtimestamp(
        old["data"]["object"]["current_period_end"], UTC
    )


def test_an_older_invoice_names_its_subscription_directly(stripe_provider) -> None:
    [billing] = deliver(stripe_provider, load_old_events()["invoice.paid"])
    assert billing.type is EventType.PAYMENT_SUCCEEDED
    assert billing.subscription.id == "sub_OldGold"


def test_a_current_invoice_names_its_subscription_through_its_parent(stripe_provider) -> None:
    invoice = copy.deepcopy(OBJ["invoice.preview"])
    invoice["id"] = "in_RecRenewal"
    [billing] = deliver(
        stripe_provider, event("invoice.payment_failed", invoice, id="evt_pf", created=T0)
    )
    assert billing.type is EventType.PAYMENT_FAILED
    assert billing.subscription.id == "sub_RecGold"


def test_a_subscription_set_to_end_by_the_portal_counts_as_canceling_at_period_end(
    stripe_provider,
) -> None:
    ending = subscription(cancel_at=T0 + 31 * 86400, cancel_at_period_end=False)
    [billing] = deliver(
        stripe_provider, event("customer.subscription.updated", ending, id="e", created=T0)
    )
    assert billing.subscription.cancel_at_period_end is True


def test_a_subscription_canceled_at_once_gives_access_until_it_ended(stripe_provider) -> None:
    period_end = subscription()["items"]["data"][0]["current_period_end"]
    ended = subscription(status="canceled", canceled_at=T0 + 3600, ended_at=T0 + 3600)
    [billing] = deliver(
        stripe_provider, event("customer.subscription.deleted", ended, id="e", created=T0 + 3600)
    )
    assert period_end > T0 + 3600
    assert billing.subscription.current_period_end == datetime.fromtimestamp(T0 + 3600, UTC)


def test_a_subscription_canceled_at_its_period_end_keeps_that_end(stripe_provider) -> None:
    period_end = subscription()["items"]["data"][0]["current_period_end"]
    ended = subscription(status="canceled", canceled_at=T0 + 60, ended_at=period_end)
    [billing] = deliver(
        stripe_provider, event("customer.subscription.deleted", ended, id="e", created=period_end)
    )
    assert billing.subscription.current_period_end == datetime.fromtimestamp(period_end, UTC)


def test_a_subscription_ended_at_that_is_a_bool_is_malformed(stripe_provider) -> None:
    ended = subscription(status="canceled", ended_at=True)
    with pytest.raises(MalformedEvent, match=r"ended_at.*True"):
        deliver(stripe_provider, event("customer.subscription.deleted", ended, id="e", created=T0))


# -- applying, in any order ------------------------------------------------------------------


GOLD = Resource("article-1", HasEntitlement("content.premium"))


def test_a_late_created_incomplete_never_overwrites_active(replay) -> None:
    program = program_with(replay)
    replay.on("GET /v1/subscriptions/sub_RecGold", subscription(status="active"))
    handle(
        program,
        event(
            "customer.subscription.updated",
            subscription(status="active"),
            id="evt_2",
            created=T0 + 10,
        ),
    )
    [late] = handle(
        program,
        event(
            "customer.subscription.created",
            subscription(status="incomplete"),
            id="evt_1",
            created=T0,
        ),
    )
    [membership] = program.store.memberships.for_member("member-42")
    assert membership.status is Status.ACTIVE
    assert late.outcome in (Outcome.APPLIED, Outcome.STALE)
    assert program.access(GOLD, "member-42").allowed


def test_a_stale_updated_active_never_revives_a_canceled_subscription(replay) -> None:
    program = program_with(replay)
    canceled = subscription(status="canceled", canceled_at=T0 + 20, ended_at=T0 + 20)
    replay.on("GET /v1/subscriptions/sub_RecGold", subscription(), canceled)
    handle(program, event("customer.subscription.created", subscription(), id="evt_1", created=T0))
    handle(program, event("customer.subscription.deleted", canceled, id="evt_3", created=T0 + 20))
    handle(
        program,
        event(
            "customer.subscription.updated",
            subscription(status="active"),
            id="evt_2",
            created=T0 + 10,
        ),
    )
    [membership] = program.store.memberships.for_member("member-42")
    assert membership.status is Status.CANCELED


def test_a_duplicated_event_changes_nothing(replay) -> None:
    program = program_with(replay)
    replay.on("GET /v1/subscriptions/sub_RecGold", subscription())
    payload = event("customer.subscription.updated", subscription(), id="evt_1", created=T0)
    handle(program, payload)
    [again] = handle(program, payload)
    assert again.outcome is Outcome.DUPLICATE


def test_stripe_unreachable_while_applying_is_retryable_and_loses_no_event(replay) -> None:
    program = program_with(replay)
    replay.on("GET /v1/subscriptions/sub_RecGold", subscription())
    replay.unreachable.add("GET /v1/subscriptions/sub_RecGold")
    payload = event("customer.subscription.updated", subscription(), id="evt_1", created=T0)
    with pytest.raises(ProviderError) as caught:
        handle(program, payload)
    assert caught.value.retryable is True
    assert not program.store.inbox.seen("stripe", "evt_1")
    replay.unreachable.clear()
    [result] = handle(program, payload)
    assert result.outcome is Outcome.APPLIED


def test_a_completed_subscription_checkout_grants_access_from_the_fetched_subscription(
    replay,
) -> None:
    program = program_with(replay)
    session = dict(
        OBJ["checkout.session"],
        status="complete",
        payment_status="paid",
        subscription="sub_RecGold",
    )
    replay.on("GET /v1/subscriptions/sub_RecGold", subscription())
    [result] = handle(
        program, event("checkout.session.completed", session, id="evt_cs", created=T0)
    )
    assert result.outcome is Outcome.APPLIED
    assert program.store.customers.member_for("stripe", "cus_RecMember42") == "member-42"
    assert program.access(GOLD, "member-42").allowed


def test_a_paid_one_off_checkout_grants_the_item_and_a_full_refund_takes_it_back(
    replay,
) -> None:
    program = program_with(replay)
    ebook = Resource("ebook-python", Purchase("ebook.python"))
    session = dict(
        OBJ["checkout.session.payment"],
        status="complete",
        payment_status="paid",
        payment_intent="pi_RecEbook",
    )
    [paid] = handle(program, event("checkout.session.completed", session, id="evt_p", created=T0))
    assert paid.event.purchase.state is PurchaseState.PAID
    assert program.access(ebook, "member-42").allowed
    charge = {
        "id": "ch_RecEbook",
        "object": "charge",
        "customer": "cus_RecMember42",
        "payment_intent": "pi_RecEbook",
        "refunded": True,
        "amount": 500,
        "amount_refunded": 500,
        "metadata": session["metadata"],
    }
    [refund] = handle(program, event("charge.refunded", charge, id="evt_r", created=T0 + 60))
    assert refund.outcome is Outcome.APPLIED
    assert not program.access(ebook, "member-42").allowed


def test_an_unpaid_async_checkout_grants_nothing_yet(stripe_provider) -> None:
    session = dict(
        OBJ["checkout.session.payment"],
        status="complete",
        payment_status="unpaid",
        payment_intent="pi_RecEbook",
    )
    assert (
        deliver(stripe_provider, event("checkout.session.completed", session, id="e", created=T0))
        == []
    )


def test_parsing_a_webhook_never_builds_the_sdks_event_object(stripe_provider, monkeypatch) -> None:
    import stripe

    def too_slow(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("built a stripe.Event: ten times slower than json.loads")

    monkeypatch.setattr(stripe.Webhook, "construct_event", too_slow)
    monkeypatch.setattr(stripe.Event, "construct_from", too_slow)
    payload = event("customer.subscription.updated", subscription(), id="evt_1", created=T0)
    assert len(deliver(stripe_provider, payload)) == 1
