"""Coupons and intro offers on Stripe: mapped to Stripe coupons and promotion codes at
checkout, read back from the subscription's discount, and refused as coupon errors."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from membership_sdk import Catalog, Coupon, CouponError, MembershipProgram, MemoryStore
from membership_sdk.catalog import Duration
from membership_sdk.plugins import get_plugin_manager
from membership_sdk.providers.stripe import translate as tr

from .conftest import WEBHOOK_SECRET, gold_catalog
from .replay import ReplayClient, error, load_objects

pytestmark = pytest.mark.stripe_replay

OBJ = load_objects()

#: A subscription's discount as Stripe's API reference shows it (a 100%-off ``forever``
#: coupon redeemed through a promotion code), on the recorded subscription.
DISCOUNT = {
    "id": "di_1K5W4cI79B00MVDml2zbMsNa",
    "object": "discount",
    "customer": "cus_KkdXoUNTpcrFhC",
    "coupon": {
        "times_redeemed": 1,
        "created": 1639228427,
        "id": "TQiyIvWa",
        "redeem_by": None,
        "object": "coupon",
        "metadata": {},
        "name": "Student Beta Tester",
        "amount_off": None,
        "currency": None,
        "max_redemptions": None,
        "percent_off": 100,
        "duration": "forever",
        "valid": True,
        "duration_in_months": None,
        "livemode": False,
    },
    "start": 1639231034,
    "subscription": "sub_1K5W4cI79B00MVDm9cy5Jhrm",
    "promotion_code": "promo_1K5VOaI79B00MVDm0hpBigEn",
    "invoice": None,
    "end": None,
    "invoice_item": None,
    "checkout_session": None,
}


def with_coupons(*coupons: Coupon) -> Catalog:
    base = gold_catalog()
    return Catalog(base.tiers, base.prices, coupons)


def program_with(replay: ReplayClient, catalog: Catalog) -> MembershipProgram:
    return MembershipProgram(
        catalog,
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


def start(program: MembershipProgram, **kw: Any) -> Any:
    replay_answers = kw.pop("replay")
    replay_answers.on("GET /v1/customers", {"object": "list", "data": [], "has_more": False})
    replay_answers.on("POST /v1/customers", OBJ["customer"])
    replay_answers.on("POST /v1/checkout/sessions", OBJ["checkout.session"])
    return program.start_checkout(
        "member-42",
        "gold-monthly",
        provider="stripe",
        success_url="https://news.example.com/welcome",
        cancel_url="https://news.example.com/pricing",
        attempt="nonce",
        **kw,
    )


def test_a_catalog_coupon_with_a_stripe_promotion_code_is_sent_as_that_code(
    replay: ReplayClient,
) -> None:
    coupon = Coupon("SPRING", percent_off=25, provider_ids={"stripe": "promo_RecSpring25"})
    start(program_with(replay, with_coupons(coupon)), replay=replay, coupon="spring")
    [sent] = replay.sent("POST /v1/checkout/sessions")
    assert sent.params["discounts[0][promotion_code]"] == "promo_RecSpring25"
    assert sent.params["subscription_data[metadata][coupon]"] == "SPRING"


def test_a_catalog_coupon_without_a_stripe_id_becomes_a_stripe_coupon_of_its_terms(
    replay: ReplayClient,
) -> None:
    replay.on("POST /v1/coupons", {"id": "whatever", "object": "coupon"})
    coupon = Coupon("THREE", percent_off=50, duration=Duration.REPEATING, months=3)
    start(program_with(replay, with_coupons(coupon)), replay=replay, coupon="THREE")
    [created] = replay.sent("POST /v1/coupons")
    assert created.params["percent_off"] == "50"
    assert (created.params["duration"], created.params["duration_in_months"]) == ("repeating", "3")
    [sent] = replay.sent("POST /v1/checkout/sessions")
    assert sent.params["discounts[0][coupon]"] == created.params["id"]


def test_a_coupon_stripe_has_already_is_reused(replay: ReplayClient) -> None:
    replay.on(
        "POST /v1/coupons",
        error(400, "invalid_request_error", "Coupon already exists.", "resource_already_exists"),
    )
    coupon = Coupon("THREE", percent_off=50, duration=Duration.FOREVER)
    start(program_with(replay, with_coupons(coupon)), replay=replay, coupon="THREE")
    [sent] = replay.sent("POST /v1/checkout/sessions")
    assert sent.params["discounts[0][coupon]"].startswith("paywall-THREE-")


def test_an_expired_stripe_code_is_a_coupon_error_not_an_outage(replay: ReplayClient) -> None:
    coupon = Coupon("OLD", percent_off=25, provider_ids={"stripe": "promo_Old"})
    program = program_with(replay, with_coupons(coupon))
    replay.on(
        "POST /v1/checkout/sessions",
        error(400, "invalid_request_error", "This promotion code has expired.", None),
    )
    replay.on("GET /v1/customers", {"object": "list", "data": [], "has_more": False})
    replay.on("POST /v1/customers", OBJ["customer"])
    with pytest.raises(CouponError) as caught:
        program.start_checkout(
            "member-42", "gold-monthly", provider="stripe", success_url="/", cancel_url="/",
            coupon="OLD",
        )  # fmt: skip
    assert caught.value.reason == "expired"
    assert program.redemptions.count("OLD", datetime.now(UTC)) == 0


def test_the_subscriptions_discount_becomes_the_snapshots_amount_and_coupon() -> None:
    subscription = copy.deepcopy(OBJ["subscription"])
    subscription["discount"] = DISCOUNT
    snapshot = tr.subscription_snapshot(subscription, 1)
    assert (snapshot.amount, snapshot.coupon, snapshot.discount_ends_at) == (
        0,
        "Student Beta Tester",
        None,
    )


def test_a_repeating_discount_ends_when_stripe_says_and_names_our_code() -> None:
    subscription = copy.deepcopy(OBJ["subscription"])
    discount = copy.deepcopy(DISCOUNT)
    discount["coupon"].update(percent_off=None, amount_off=300, currency="eur")
    discount["coupon"].update(duration="repeating", duration_in_months=3)
    discount["end"] = 1806537600
    subscription["discounts"] = [discount]
    subscription["metadata"] = {**subscription["metadata"], "coupon": "SPRING"}
    snapshot = tr.subscription_snapshot(subscription, 1)
    assert (snapshot.amount, snapshot.coupon) == (600, "SPRING")
    assert snapshot.discount_ends_at == datetime.fromtimestamp(1806537600, UTC)


def test_a_subscription_without_a_discount_pays_the_list_price() -> None:
    snapshot = tr.subscription_snapshot(OBJ["subscription"], 1)
    assert (snapshot.amount, snapshot.coupon, snapshot.discount_ends_at) == (None, "", None)


def test_apply_discount_creates_a_coupon_and_puts_it_on_the_subscription(
    replay: ReplayClient,
) -> None:
    from membership_sdk.providers import SubscriptionDiscounts

    program = program_with(replay, gold_catalog())
    stripe = program.providers["stripe"]
    assert isinstance(stripe, SubscriptionDiscounts)
    discounted_sub = copy.deepcopy(OBJ["subscription"])
    discount = copy.deepcopy(DISCOUNT)
    discount["coupon"].update(percent_off=30, duration="repeating", duration_in_months=2)
    discount["coupon"].update(id="Stay30", name="STAY")
    discount["end"] = 1806537600
    discounted_sub["discounts"] = [discount]
    discounted_sub["metadata"] = {**discounted_sub["metadata"], "coupon": "STAY"}
    replay.on("POST /v1/coupons", discount["coupon"])
    replay.on("POST /v1/subscriptions/sub_RecGold", discounted_sub)
    snapshot = stripe.apply_discount("sub_RecGold", code="STAY", percent_off=30, months=2)
    [coupon] = replay.sent("POST /v1/coupons")
    assert (coupon.params["percent_off"], coupon.params["duration_in_months"]) == ("30", "2")
    [sent] = replay.sent("POST /v1/subscriptions/sub_RecGold")
    assert sent.params["discounts[0][coupon]"] == "Stay30"
    assert (snapshot.amount, snapshot.coupon) == (630, "STAY")
    assert snapshot.discount_ends_at == datetime.fromtimestamp(1806537600, UTC)
