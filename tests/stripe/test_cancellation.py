"""Lawful cancellation through Stripe (membership_sdk.cancellation): an end inside the
period is ``cancel_at`` without proration and reads back as the period's end; a yearly
plan renews monthly through a subscription schedule whose second phase is the monthly
price."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from membership_sdk.providers import RenewalPrices, ScheduledCancellation
from membership_sdk.providers.stripe import translate as tr

from .replay import ReplayClient, load_objects

pytestmark = pytest.mark.stripe_replay

OBJ = load_objects()
#: A month into the recorded yearly subscription's period (1800057600 to 1831593600).
CANCEL_AT = 1802736000


def yearly_ending(at: int) -> dict[str, object]:
    sub = copy.deepcopy(OBJ["subscription_yearly"])
    sub["cancel_at"] = at
    return sub


def test_stripe_schedules_ends_and_renewal_prices(stripe_provider) -> None:
    assert isinstance(stripe_provider, ScheduledCancellation)
    assert isinstance(stripe_provider, RenewalPrices)


def test_an_end_inside_the_period_is_cancel_at_without_proration(
    stripe_provider, replay: ReplayClient
) -> None:
    replay.on("POST /v1/subscriptions/sub_RecGold", yearly_ending(CANCEL_AT))
    snap = stripe_provider.cancel_subscription_at(
        "sub_RecGold", datetime.fromtimestamp(CANCEL_AT, UTC)
    )
    [sent] = replay.sent("POST /v1/subscriptions/sub_RecGold")
    assert sent.params["cancel_at"] == str(CANCEL_AT)
    assert sent.params["proration_behavior"] == "none"
    assert snap.cancel_at_period_end
    assert snap.current_period_end == datetime.fromtimestamp(CANCEL_AT, UTC)


def test_a_cancel_at_reads_back_as_the_end_of_access() -> None:
    snap = tr.subscription_snapshot(yearly_ending(CANCEL_AT), 1)
    assert snap.cancel_at_period_end
    assert snap.current_period_end == datetime.fromtimestamp(CANCEL_AT, UTC)


def test_a_cancel_at_after_the_period_leaves_the_period_end() -> None:
    snap = tr.subscription_snapshot(yearly_ending(1900000000), 1)
    assert snap.current_period_end == datetime.fromtimestamp(1831593600, UTC)


def test_a_yearly_plan_renews_monthly_through_a_subscription_schedule(
    stripe_provider, replay: ReplayClient
) -> None:
    replay.on("GET /v1/subscriptions/sub_RecGold", OBJ["subscription_yearly"])
    replay.on("POST /v1/subscription_schedules", {"id": "sub_sched_1", "object": "x"})
    replay.on("POST /v1/subscription_schedules/sub_sched_1", {"id": "sub_sched_1"})
    snap = stripe_provider.renew_on_price("sub_RecGold", "price_RecGoldMonthly")
    [created] = replay.sent("POST /v1/subscription_schedules")
    assert created.params["from_subscription"] == "sub_RecGold"
    [phases] = replay.sent("POST /v1/subscription_schedules/sub_sched_1")
    assert phases.params["end_behavior"] == "release"
    assert phases.params["phases[0][items][0][price]"] == "price_RecGoldYearly"
    assert phases.params["phases[0][start_date]"] == "1800057600"
    assert phases.params["phases[0][end_date]"] == "1831593600"
    assert phases.params["phases[1][items][0][price]"] == "price_RecGoldMonthly"
    assert phases.params["phases[1][iterations]"] == "1"
    assert snap.price == "price_RecGoldYearly"  # the paid year is not touched


def test_an_existing_schedule_is_updated_not_created_again(
    stripe_provider, replay: ReplayClient
) -> None:
    scheduled = copy.deepcopy(OBJ["subscription_yearly"])
    scheduled["schedule"] = "sub_sched_9"
    replay.on("GET /v1/subscriptions/sub_RecGold", scheduled)
    replay.on("POST /v1/subscription_schedules/sub_sched_9", {"id": "sub_sched_9"})
    stripe_provider.renew_on_price("sub_RecGold", "price_RecGoldMonthly")
    assert replay.sent("POST /v1/subscription_schedules") == []
    assert len(replay.sent("POST /v1/subscription_schedules/sub_sched_9")) == 1
