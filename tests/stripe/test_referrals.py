"""Referrals on Stripe: the friend's checkout carries the offer's coupon and the referral
code as metadata; the referrer's reward is a free month put on their subscription through
Stripe (a new repeating coupon), once."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from membership_sdk import Catalog, Coupon, Membership, MembershipProgram, MemoryStore, Status
from membership_sdk.plugins import get_plugin_manager
from membership_sdk.referrals import (
    MemoryReferrals,
    Referral,
    ReferralPolicy,
    ReferralStatus,
    reward_code,
    run_referrals,
)

from .conftest import WEBHOOK_SECRET, gold_catalog
from .replay import ReplayClient, load_objects

pytestmark = pytest.mark.stripe_replay

OBJ = load_objects()
NOW = datetime(2027, 3, 1, tzinfo=UTC)
POLICY = ReferralPolicy(friend_coupon="FRIEND")


def program_with(replay: ReplayClient) -> MembershipProgram:
    base = gold_catalog()
    catalog = Catalog(base.tiers, base.prices, [Coupon("FRIEND", percent_off=50)])
    program = MembershipProgram(
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
        clock=lambda: NOW,
    )
    return program


def test_the_friends_checkout_carries_the_offer_and_the_referral_code(
    replay: ReplayClient,
) -> None:
    replay.on("GET /v1/customers", {"object": "list", "data": [], "has_more": False})
    replay.on("POST /v1/customers", OBJ["customer"])
    replay.on("POST /v1/checkout/sessions", OBJ["checkout.session"])
    replay.on("POST /v1/coupons", {"id": "whatever", "object": "coupon"})

    program_with(replay).start_checkout(
        "member-42",
        "gold-monthly",
        provider="stripe",
        success_url="https://news.example.com/welcome",
        cancel_url="https://news.example.com/pricing",
        coupon="FRIEND",
        metadata={"referral": "K7QM2XRT9B"},
    )

    [coupon] = replay.sent("POST /v1/coupons")
    assert coupon.params["percent_off"] == "50"
    [sent] = replay.sent("POST /v1/checkout/sessions")
    assert sent.params["discounts[0][coupon]"] == coupon.params["id"]
    assert sent.params["subscription_data[metadata][referral]"] == "K7QM2XRT9B"
    assert sent.params["subscription_data[metadata][coupon]"] == "FRIEND"


def test_the_reward_is_a_free_month_on_the_referrers_stripe_subscription_once(
    replay: ReplayClient,
) -> None:
    program = program_with(replay)
    memberships = program.store.memberships
    referrer = Membership(
        "mem_ann",
        "member-42",
        "gold",
        Status.ACTIVE,
        "stripe",
        price_id="gold-monthly",
        provider_subscription_id="sub_RecGold",
        started_at=NOW - timedelta(days=90),
        current_period_end=NOW + timedelta(days=10),
    )
    friend = Membership(
        "mem_bob",
        "bob",
        "gold",
        Status.ACTIVE,
        "stripe",
        price_id="gold-monthly",
        provider_subscription_id="sub_bob",
        started_at=NOW - timedelta(days=20),
        current_period_end=NOW + timedelta(days=10),
        paid_through=NOW + timedelta(days=10),
    )
    memberships.save(referrer)
    memberships.save(friend)
    referrals = MemoryReferrals()
    referral = referrals.create(
        Referral("r1", "CODE", "member-42", "bob", "mem_bob", NOW - timedelta(days=20))
    )
    code = reward_code(POLICY, referral)
    answered = copy.deepcopy(OBJ["subscription"])
    answered["metadata"] = {**answered["metadata"], "coupon": code}
    replay.on("POST /v1/coupons", {"id": "free_month", "object": "coupon"})
    replay.on("POST /v1/subscriptions/sub_RecGold", answered)

    first = run_referrals(program, referrals, POLICY)
    second = run_referrals(program, referrals, POLICY)

    assert (first.qualified, first.rewarded, second.rewarded) == (1, 1, 0)
    [coupon] = replay.sent("POST /v1/coupons")
    assert coupon.params["percent_off"] == "100"
    assert (coupon.params["duration"], coupon.params["duration_in_months"]) == ("repeating", "1")
    [sent] = replay.sent("POST /v1/subscriptions/sub_RecGold")
    assert sent.params["discounts[0][coupon]"] == "free_month"
    stored = referrals.get("r1")
    assert stored is not None
    assert (stored.status, stored.reward_membership_id) == (ReferralStatus.REWARDED, "mem_ann")
