"""Member prices on Stripe: a member's Checkout Session for a one-off item carries a Stripe
coupon of the saving, so Stripe charges the member price; anyone else's carries none."""

from __future__ import annotations

from typing import Any

import pytest

from membership_sdk import Catalog, CouponError, GrantKind, MembershipProgram, MemoryStore, Price
from membership_sdk.catalog import Interval
from membership_sdk.plugins import get_plugin_manager

from .conftest import WEBHOOK_SECRET, gold_catalog
from .replay import ReplayClient, load_objects

pytestmark = pytest.mark.stripe_replay

OBJ = load_objects()


def member_priced_catalog() -> Catalog:
    """The recordings' catalog, its e-book €5.00 and €3.00 for Gold members."""
    base = gold_catalog()
    ebook = Price(
        "ebook",
        500,
        "EUR",
        Interval.ONE_OFF,
        item="ebook.python",
        provider_ids={"stripe": "price_RecEbook"},
        member_amounts={"gold": 300},
    )
    return Catalog(base.tiers, [*(p for p in base.prices if p.id != "ebook"), ebook])


def program_with(replay: ReplayClient, **stripe: Any) -> MembershipProgram:
    return MembershipProgram(
        member_priced_catalog(),
        MemoryStore(),
        pm=get_plugin_manager(load_entrypoints=False),
        provider_config={
            "stripe": {
                "api_key": "sk_test_replay",
                "webhook_secret": WEBHOOK_SECRET,
                "http_client": replay,
                "max_network_retries": 0,
                **stripe,
            }
        },
    )


def buy_ebook(program: MembershipProgram, replay: ReplayClient, **kw: Any) -> None:
    replay.on("GET /v1/customers", {"object": "list", "data": [], "has_more": False})
    replay.on("POST /v1/customers", OBJ["customer"])
    replay.on("POST /v1/coupons", {"id": "whatever", "object": "coupon"})
    replay.on("POST /v1/checkout/sessions", OBJ["checkout.session.payment"])
    program.start_checkout(
        "member-42",
        "ebook",
        provider="stripe",
        success_url="https://news.example.com/thanks",
        cancel_url="https://news.example.com/ebook",
        attempt="nonce",
        **kw,
    )


def test_a_members_session_carries_a_coupon_taking_the_saving_off_once(
    replay: ReplayClient,
) -> None:
    program = program_with(replay)
    program.grant("member-42", GrantKind.COMP, tier="gold", days=30)
    buy_ebook(program, replay)
    [coupon] = replay.sent("POST /v1/coupons")
    assert (coupon.params["amount_off"], coupon.params["currency"]) == ("200", "eur")
    assert (coupon.params["duration"], coupon.params["name"]) == ("once", "Member price")
    assert coupon.params["id"].startswith("paywall-member-gold-ebook-")
    [session] = replay.sent("POST /v1/checkout/sessions")
    assert session.params["mode"] == "payment"
    assert session.params["discounts[0][coupon]"] == coupon.params["id"]


def test_a_visitor_who_is_no_member_gets_a_session_at_the_list_price(
    replay: ReplayClient,
) -> None:
    buy_ebook(program_with(replay, allow_promotion_codes=True), replay)
    [session] = replay.sent("POST /v1/checkout/sessions")
    assert not any(key.startswith("discounts") for key in session.params)
    assert session.params["allow_promotion_codes"] == "true"  # their own codes, if any
    assert replay.sent("POST /v1/coupons") == []


def test_a_stripe_promotion_code_does_not_combine_with_a_member_price(
    replay: ReplayClient,
) -> None:
    program = program_with(replay)
    program.grant("member-42", GrantKind.COMP, tier="gold", days=30)
    with pytest.raises(CouponError) as caught:
        buy_ebook(program, replay, coupon="STRIPEONLY")
    assert caught.value.reason == "not_for_this_plan"
    assert replay.sent("POST /v1/checkout/sessions") == []
