"""Gift memberships on Stripe: a gift is sold as a one-off Checkout payment carrying the
gift's details as metadata, and a real ``checkout.session.completed`` payload makes the
gift (not access for the buyer); a refund or a lost chargeback takes it back."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from membership_sdk import (
    Catalog,
    Interval,
    MembershipProgram,
    MemoryStore,
    MinTier,
    Outcome,
    Price,
    Resource,
    Tier,
    get_plugin_manager,
)
from membership_sdk.gifts import GiftOrder, GiftRefunded

from .conftest import WEBHOOK_SECRET
from .replay import ReplayClient, load_objects, sign

pytestmark = pytest.mark.stripe_replay

OBJ = load_objects()
PAYLOADS = Path(__file__).parent / "payloads"
FULL_VERSIONS = ("2024-12-18.acacia", "2025-03-31.basil", "2025-09-30.clover")
GOLD = Resource("page:1", MinTier("gold"))
#: When the recorded payment was made.
PAID_AT = datetime.fromtimestamp(1767225600, UTC)


def catalog() -> Catalog:
    """Gold, and three months of it as a gift; the recorded one-off payloads pay the
    Stripe price ``price_PayIssue7``, which is the gift price here."""
    return Catalog(
        tiers=[Tier("free", "Free"), Tier("gold", "Gold", rank=1)],
        prices=[
            Price(
                "gold-gift-3",
                2700,
                "USD",
                Interval.ONE_OFF,
                tier="gold",
                gift_months=3,
                provider_ids={"stripe": "price_PayIssue7"},
            )
        ],
    )


class Clock:
    """The site's and Stripe's time: each delivered event moves it to when it was sent."""

    def __init__(self) -> None:
        self.now = PAID_AT

    def __call__(self) -> datetime:
        return self.now


def program_with(replay: ReplayClient) -> MembershipProgram:
    clock = Clock()
    return MembershipProgram(
        catalog(),
        MemoryStore(),
        clock=clock,
        pm=get_plugin_manager(load_entrypoints=False),
        provider_config={
            "stripe": {
                "api_key": "sk_test_replay",
                "webhook_secret": WEBHOOK_SECRET,
                "http_client": replay,
                "max_network_retries": 0,
                "clock_ms": lambda: int(clock.now.timestamp() * 1000),
            }
        },
    )


def payload(version: str, name: str) -> dict[str, Any]:
    doc = json.loads((PAYLOADS / version / f"{name}.json").read_text())
    return copy.deepcopy(doc["event"])


def deliver(program: MembershipProgram, event: dict[str, Any]) -> Outcome:
    assert isinstance(program.clock, Clock)
    program.clock.now = datetime.fromtimestamp(event["created"], UTC)
    body = json.dumps(event)
    headers = sign(body, WEBHOOK_SECRET, int(event["created"]))
    (result,) = program.handle_webhook("stripe", headers, body.encode())
    return result.outcome


def test_a_gift_is_sold_as_a_one_off_payment_carrying_the_gift_details(
    replay: ReplayClient,
) -> None:
    replay.on("GET /v1/customers", {"object": "list", "data": [], "has_more": False})
    replay.on("POST /v1/customers", OBJ["customer"])
    replay.on("POST /v1/checkout/sessions", OBJ["checkout.session.payment"])
    program = program_with(replay)

    program.start_gift_checkout(
        "42",
        "gold-gift-3",
        provider="stripe",
        success_url="https://news.example.com/account",
        cancel_url="https://news.example.com/gifts",
        recipient_email="bo@example.com",
        send_on=date(2026, 1, 24),
    )

    [sent] = replay.sent("POST /v1/checkout/sessions")
    assert sent.params["mode"] == "payment"
    assert sent.params["line_items[0][price]"] == "price_PayIssue7"
    assert sent.params["payment_intent_data[metadata][stripe_price]"] == "price_PayIssue7"
    assert sent.params["metadata[gift_recipient]"] == "bo@example.com"
    assert sent.params["metadata[gift_send_on]"] == "2026-01-24"
    assert "subscription_data[metadata][member_id]" not in sent.params


@pytest.mark.parametrize("version", FULL_VERSIONS)
def test_a_real_completed_checkout_of_a_gift_makes_the_gift_not_access(
    replay: ReplayClient, version: str
) -> None:
    program = program_with(replay)
    program.gifts.save_order(GiftOrder("42", "gold-gift-3", "bo@example.com"))

    assert deliver(program, payload(version, "checkout.session.completed.payment_paid")) is (
        Outcome.APPLIED
    )

    (gift,) = program.gifts.bought_by("42")
    assert (gift.tier, gift.months, gift.recipient_email) == ("gold", 3, "bo@example.com")
    assert gift.source.startswith("stripe:pi_")
    assert not program.access(GOLD, "42").allowed
    program.redeem_gift(gift.code, "77")
    assert program.access(GOLD, "77").allowed


@pytest.mark.parametrize("taken_back_by", ["charge.refunded.full", "charge.dispute.closed.lost"])
@pytest.mark.parametrize("version", FULL_VERSIONS)
def test_a_refund_or_lost_chargeback_of_a_redeemed_gift_takes_the_access_back(
    replay: ReplayClient, version: str, taken_back_by: str
) -> None:
    program = program_with(replay)
    deliver(program, payload(version, "checkout.session.completed.payment_paid"))
    (gift,) = program.gifts.bought_by("42")
    program.redeem_gift(gift.code, "77")

    assert deliver(program, payload(version, taken_back_by)) is Outcome.APPLIED

    assert not program.access(GOLD, "77").allowed
    assert program.gifts.bought_by("42")[0].refunded


@pytest.mark.parametrize("taken_back_by", ["charge.refunded.full", "charge.dispute.closed.lost"])
@pytest.mark.parametrize("version", FULL_VERSIONS)
def test_a_gift_taken_back_before_it_was_redeemed_no_longer_redeems(
    replay: ReplayClient, version: str, taken_back_by: str
) -> None:
    program = program_with(replay)
    deliver(program, payload(version, "checkout.session.completed.payment_paid"))
    (gift,) = program.gifts.bought_by("42")

    assert deliver(program, payload(version, taken_back_by)) is Outcome.APPLIED
    assert replay.sent("GET /v1/invoice_payments") == []  # no subscription asked about

    with pytest.raises(GiftRefunded):
        program.redeem_gift(gift.code, "77")
