"""The named status groups say what their docs say: LIVE, GRANTING, PAYING, TERMINAL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sdk_builders import NOW

from membership_sdk import Membership, Status
from membership_sdk.membership import GRANTING, LIVE, PAYING, TERMINAL, TRANSITIONS


def membership(status: Status) -> Membership:
    return Membership(
        id="mem_1",
        member_id="alice",
        tier="premium",
        status=status,
        provider="acme",
        current_period_end=NOW + timedelta(days=10),
    )


@pytest.mark.parametrize("status", sorted(GRANTING))
def test_every_granting_status_gives_access_within_its_period(status: Status) -> None:
    assert membership(status).grants_access(NOW)


@pytest.mark.parametrize("status", sorted(set(Status) - GRANTING - {Status.CANCELED}))
def test_no_other_status_but_canceled_gives_access(status: Status) -> None:
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
