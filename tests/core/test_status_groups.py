"""The named status groups say what their docs say: LIVE, GRANTING, PAYING, TERMINAL,
UNCOUNTED; and what a store's "not ended" means beside them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sdk_builders import NOW

from membership_sdk import Membership, MemoryStore, Status
from membership_sdk.membership import GRANTING, LIVE, PAYING, TERMINAL, TRANSITIONS, UNCOUNTED
from membership_sdk.metrics import churn, trial_conversion


def membership(status: Status, **changes: object) -> Membership:
    return Membership(
        id="mem_1",
        member_id="alice",
        tier="premium",
        status=status,
        provider="acme",
        current_period_end=NOW + timedelta(days=10),
    ).replace(**changes)


@pytest.mark.parametrize("status", sorted(GRANTING))
def test_every_granting_status_gives_access_within_its_period(status: Status) -> None:
    assert membership(status).grants_access(NOW)


@pytest.mark.parametrize(
    "status", sorted(set(Status) - GRANTING - {Status.CANCELED, Status.PAUSED})
)
def test_no_other_status_but_canceled_or_paused_gives_access(status: Status) -> None:
    assert not membership(status).grants_access(NOW)


def test_granting_memberships_are_live() -> None:
    assert GRANTING <= LIVE


def test_paying_memberships_give_access() -> None:
    assert PAYING <= GRANTING


def test_a_trial_is_not_paying() -> None:
    assert Status.TRIALING not in PAYING


def test_no_terminal_status_is_live() -> None:
    assert not TERMINAL & LIVE


def test_every_known_status_is_either_live_or_terminal() -> None:
    known = set(Status) - {Status.UNKNOWN}
    assert known == LIVE | TERMINAL


def test_unknown_is_in_no_group_that_grants_or_counts() -> None:
    assert Status.UNKNOWN not in LIVE | GRANTING | PAYING | TERMINAL


@pytest.mark.parametrize("status", sorted(TERMINAL))
def test_a_terminal_membership_never_becomes_live_again(status: Status) -> None:
    assert not TRANSITIONS[status] & LIVE


@pytest.mark.parametrize("status", sorted(UNCOUNTED))
def test_no_uncounted_status_gives_access(status: Status) -> None:
    assert not membership(status).grants_access(NOW)


def test_no_uncounted_status_has_ended() -> None:
    assert not UNCOUNTED & TERMINAL


@pytest.mark.parametrize("status", sorted(UNCOUNTED))
def test_an_uncounted_membership_is_not_counted_live_by_churn(status: Status) -> None:
    started = membership(status, started_at=NOW - timedelta(days=30))

    assert churn([started], NOW - timedelta(days=1), NOW).live_at_start == 0


@pytest.mark.parametrize("status", sorted(UNCOUNTED))
def test_an_uncounted_membership_never_converted_its_trial(status: Status) -> None:
    after_trial = membership(status, trial_end=NOW - timedelta(days=1))

    assert trial_conversion([after_trial], NOW).converted == 0


@pytest.mark.parametrize("status", [Status.UNKNOWN, *sorted(LIVE)])
def test_a_store_lists_every_subscription_not_ended_unknown_ones_too(status: Status) -> None:
    """Wider than LIVE: a subscription whose status nobody knows must still be asked about."""
    store = MemoryStore()
    store.memberships.save(membership(status, provider_subscription_id="sub_1"))

    assert store.memberships.live_subscription_ids("acme") == {"sub_1"}


@pytest.mark.parametrize("status", sorted(TERMINAL))
def test_a_store_leaves_ended_subscriptions_out(status: Status) -> None:
    store = MemoryStore()
    store.memberships.save(membership(status, provider_subscription_id="sub_1"))

    assert store.memberships.live_subscription_ids("acme") == set()
