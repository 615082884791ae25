"""``BillingEvent.to_dict()`` / ``from_dict()``: the JSON shape adapters store events in."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from sdk_builders import NOW, purchase_event, sub_event

from membership_sdk import (
    BillingEvent,
    EventType,
    MalformedEvent,
    PurchaseState,
    Status,
    SubscriptionSnapshot,
)


def full_subscription_event() -> BillingEvent:
    """A subscription event with every field set, and a ``data`` that is not kept."""
    return BillingEvent(
        provider="acme",
        id="evt_1",
        type=EventType.SUBSCRIPTION_UPDATED,
        occurred_at=NOW,
        member_id="alice",
        livemode=True,
        data={"raw": "not kept"},
        subscription=SubscriptionSnapshot(
            id="sub_1",
            customer_id="cus_1",
            price="p_premium",
            status=Status.TRIALING,
            version=7,
            current_period_end=NOW + timedelta(days=14),
            started_at=NOW - timedelta(days=1),
            trial_end=NOW + timedelta(days=14),
            cancel_at_period_end=True,
            canceled_at=NOW,
            raw_status="trialing",
            paid_through=NOW - timedelta(days=1),
            unpaid_since=NOW - timedelta(days=1),
            price_since=NOW - timedelta(days=1),
            paused_until=NOW + timedelta(days=30),
            amount=450,
            coupon="welcome",
            discount_ends_at=NOW + timedelta(days=60),
        ),
    )


def test_a_subscription_event_with_every_field_set_round_trips() -> None:
    event = full_subscription_event()

    assert BillingEvent.from_dict(event.to_dict()) == event


def test_a_subscription_event_without_times_round_trips() -> None:
    event = sub_event("evt_2", version=1, period_end=None, started_at=None, member_id=None)

    assert BillingEvent.from_dict(event.to_dict()) == event


def test_a_purchase_event_round_trips() -> None:
    event = purchase_event("evt_3", version=2, state=PurchaseState.REFUNDED)

    assert BillingEvent.from_dict(event.to_dict()) == event


def test_a_purchase_event_without_a_payment_time_round_trips() -> None:
    event = purchase_event("evt_4", paid_at=None)

    assert BillingEvent.from_dict(event.to_dict()) == event


def test_a_status_the_sdk_does_not_know_reads_back_as_unknown() -> None:
    event = sub_event("evt_5", version=1, status="on_hold")

    back = BillingEvent.from_dict(event.to_dict())

    assert back.subscription is not None
    assert (back.subscription.status, back.subscription.raw_status) == (Status.UNKNOWN, "on_hold")


def test_the_data_of_an_event_is_not_kept() -> None:
    back = BillingEvent.from_dict(full_subscription_event().to_dict())

    assert back.data == {}


def test_the_stored_shape_of_a_subscription_event_is_fixed() -> None:
    assert full_subscription_event().to_dict() == {
        "provider": "acme",
        "id": "evt_1",
        "type": "subscription.updated",
        "occurred_at": "2026-03-15T12:00:00+00:00",
        "member_id": "alice",
        "livemode": True,
        "subscription": {
            "id": "sub_1",
            "customer_id": "cus_1",
            "price": "p_premium",
            "status": "trialing",
            "version": 7,
            "current_period_end": "2026-03-29T12:00:00+00:00",
            "started_at": "2026-03-14T12:00:00+00:00",
            "trial_end": "2026-03-29T12:00:00+00:00",
            "cancel_at_period_end": True,
            "canceled_at": "2026-03-15T12:00:00+00:00",
            "raw_status": "trialing",
            "paid_through": "2026-03-14T12:00:00+00:00",
            "unpaid_since": "2026-03-14T12:00:00+00:00",
            "price_since": "2026-03-14T12:00:00+00:00",
            "paused_until": "2026-04-14T12:00:00+00:00",
            "amount": 450,
            "coupon": "welcome",
            "discount_ends_at": "2026-05-14T12:00:00+00:00",
        },
    }


def test_a_row_stored_before_offers_reads_as_list_price_and_no_pause() -> None:
    stored = full_subscription_event().to_dict()
    for key in ("price_since", "paused_until", "amount", "coupon", "discount_ends_at"):
        del stored["subscription"][key]
    back = BillingEvent.from_dict(stored)
    assert back.subscription is not None
    assert (back.subscription.amount, back.subscription.coupon) == (None, "")
    assert back.subscription.paused_until is None


def test_a_row_stored_before_payments_were_tracked_reads_as_no_payment_known() -> None:
    stored = full_subscription_event().to_dict()
    del stored["subscription"]["paid_through"]
    back = BillingEvent.from_dict(stored)
    assert back.subscription is not None
    assert back.subscription.paid_through is None


def test_a_row_stored_before_unpaid_periods_were_told_apart_reads_as_none() -> None:
    stored = full_subscription_event().to_dict()
    del stored["subscription"]["unpaid_since"]
    back = BillingEvent.from_dict(stored)
    assert back.subscription is not None
    assert back.subscription.unpaid_since is None


def test_a_paid_through_that_is_not_a_time_is_malformed_and_named() -> None:
    stored = full_subscription_event().to_dict()
    stored["subscription"]["paid_through"] = 1767225600
    with pytest.raises(MalformedEvent, match=r"'subscription\.paid_through'"):
        BillingEvent.from_dict(stored)


def test_the_stored_shape_of_a_purchase_event_is_fixed() -> None:
    assert purchase_event("evt_3", paid_at=None).to_dict() == {
        "provider": "acme",
        "id": "evt_3",
        "type": "purchase.completed",
        "occurred_at": "2026-03-15T12:00:00+00:00",
        "member_id": "alice",
        "livemode": False,
        "purchase": {
            "id": "pi_1",
            "customer_id": "cus_1",
            "price": "p_ebook",
            "state": "paid",
            "version": 1,
            "paid_at": None,
            "checkout_id": "",
        },
    }


def test_the_dict_is_plain_json() -> None:
    data = full_subscription_event().to_dict()

    assert json.loads(json.dumps(data)) == data


def test_a_dict_stored_before_optional_keys_existed_still_reads() -> None:
    """Rows keep only the keys a reader needs; absent optional ones take their defaults."""
    data = {
        "provider": "acme",
        "id": "evt_6",
        "type": "subscription.created",
        "occurred_at": "2026-03-15T12:00:00+00:00",
        "subscription": {
            "id": "sub_1",
            "customer_id": "cus_1",
            "price": "p_premium",
            "status": "active",
            "version": "3",
        },
    }

    event = BillingEvent.from_dict(data)

    assert event.subscription is not None
    assert event.subscription.version == 3
    assert (event.member_id, event.livemode, event.subscription.raw_status) == (None, False, "")
    assert event.subscription.cancel_at_period_end is False


# -- bad input ---------------------------------------------------------------------------------


def stored(**changes: Any) -> dict[str, Any]:
    """A stored subscription event with top-level ``changes`` (``None`` drops a key)."""
    data = full_subscription_event().to_dict()
    for key, value in changes.items():
        if value is None:
            del data[key]
        else:
            data[key] = value
    return data


def stored_subscription(**changes: Any) -> dict[str, Any]:
    data = stored()
    for key, value in changes.items():
        if value is None:
            del data["subscription"][key]
        else:
            data["subscription"][key] = value
    return data


@pytest.mark.parametrize("key", ["provider", "id", "type", "occurred_at"])
def test_a_missing_field_is_named(key: str) -> None:
    with pytest.raises(MalformedEvent, match=f"billing event dict: '{key}' is missing"):
        BillingEvent.from_dict(stored(**{key: None}))


def test_a_missing_field_of_the_subscription_is_named_by_its_path() -> None:
    with pytest.raises(MalformedEvent, match=r"'subscription\.customer_id' is missing"):
        BillingEvent.from_dict(stored_subscription(customer_id=None))


def test_an_unknown_event_type_is_named_with_the_known_ones() -> None:
    with pytest.raises(MalformedEvent, match=r"'type' must be one of .*'subscription\.created'"):
        BillingEvent.from_dict(stored(type="subscription.exploded"))


def test_a_version_that_is_not_an_integer_is_named() -> None:
    expected = r"'subscription\.version' must be an integer, got 'v7'"
    with pytest.raises(MalformedEvent, match=expected):
        BillingEvent.from_dict(stored_subscription(version="v7"))


def test_a_time_that_is_not_iso_8601_is_named() -> None:
    with pytest.raises(MalformedEvent, match="'occurred_at' must be an ISO 8601 time"):
        BillingEvent.from_dict(stored(occurred_at="yesterday"))


def test_an_empty_occurrence_time_is_named() -> None:
    with pytest.raises(MalformedEvent, match="'occurred_at' must be an ISO 8601 time, got ''"):
        BillingEvent.from_dict(stored(occurred_at=""))


@pytest.mark.parametrize("value", ["false", "true", 0, 1, "", []])
def test_a_livemode_that_is_not_a_boolean_is_named_with_its_value(value: object) -> None:
    expected = rf"'livemode' must be true or false, got {re.escape(repr(value))}"
    with pytest.raises(MalformedEvent, match=expected):
        BillingEvent.from_dict(stored(livemode=value))


@pytest.mark.parametrize("value", ["false", "true", 0, 1, "", []])
def test_a_cancel_at_period_end_that_is_not_a_boolean_is_named_with_its_value(
    value: object,
) -> None:
    expected = (
        r"'subscription\.cancel_at_period_end' must be true or false, "
        rf"got {re.escape(repr(value))}"
    )
    with pytest.raises(MalformedEvent, match=expected):
        BillingEvent.from_dict(stored_subscription(cancel_at_period_end=value))


def test_a_null_flag_is_refused_not_read_as_false() -> None:
    data = stored()
    data["livemode"] = None

    with pytest.raises(MalformedEvent, match="'livemode' must be true or false, got None"):
        BillingEvent.from_dict(data)


def test_a_time_without_a_timezone_is_refused() -> None:
    with pytest.raises(MalformedEvent, match="occurred_at must be an aware datetime"):
        BillingEvent.from_dict(stored(occurred_at=datetime(2026, 3, 15).isoformat()))


def test_an_unknown_purchase_state_is_named() -> None:
    data = purchase_event("evt_3").to_dict()
    data["purchase"]["state"] = "lost"

    expected = r"'purchase\.state' must be one of 'paid', 'refunded', 'charged_back', got 'lost'"
    with pytest.raises(MalformedEvent, match=expected):
        BillingEvent.from_dict(data)


def test_a_snapshot_that_is_not_a_mapping_is_named() -> None:
    with pytest.raises(MalformedEvent, match="'subscription' must be a mapping, got list"):
        BillingEvent.from_dict(stored(subscription=["sub_1"]))


def test_an_event_with_neither_snapshot_is_refused() -> None:
    with pytest.raises(MalformedEvent, match="exactly one of a subscription or a purchase"):
        BillingEvent.from_dict(stored(subscription=None))


def test_something_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(MalformedEvent, match="billing event dict: must be a mapping, got str"):
        BillingEvent.from_dict("evt_1")  # type: ignore[arg-type]


@pytest.mark.parametrize("key", ["id", "customer_id", "price", "status", "version"])
@pytest.mark.parametrize("value", [1.5, [], {}, True])
def test_a_snapshot_field_of_the_wrong_type_is_named(key: str, value: object) -> None:
    with pytest.raises(MalformedEvent, match=rf"'subscription\.{key}' must be"):
        BillingEvent.from_dict(stored_subscription(**{key: value}))
