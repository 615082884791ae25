"""A member paying twice (two tabs) keeps both subscriptions, and the publisher hears of it
through ``membership_duplicate_subscription``, once, so one can be refunded."""

from __future__ import annotations

from typing import Any

import pytest
from sdk_builders import make_program, sub_event

from membership_sdk import MembershipProgram, Status, hookimpl


class Duplicates:
    """Records every ``membership_duplicate_subscription`` call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    @hookimpl
    def membership_duplicate_subscription(self, member_id: str, memberships: list[Any]) -> None:
        self.calls.append((member_id, sorted(m.provider_subscription_id for m in memberships)))


@pytest.fixture
def duplicates() -> Duplicates:
    return Duplicates()


@pytest.fixture
def program(duplicates: Duplicates) -> MembershipProgram:
    return make_program(plugins=(duplicates,))


def test_a_second_paid_subscription_of_one_member_fires_the_hook_once(
    program: MembershipProgram, duplicates: Duplicates
) -> None:
    program.apply(sub_event("evt_tab1", version=1, sub_id="sub_tab1", customer="cus_a"))
    program.apply(sub_event("evt_tab2", version=1, sub_id="sub_tab2", customer="cus_b"))
    # Renewals and replays of either do not fire it again.
    program.apply(sub_event("evt_tab2", version=1, sub_id="sub_tab2", customer="cus_b"))
    program.apply(sub_event("evt_tab1b", version=2, sub_id="sub_tab1", customer="cus_a"))

    assert duplicates.calls == [("alice", ["sub_tab1", "sub_tab2"])]
    assert len(program.store.memberships.for_member("alice")) == 2  # both kept


def test_one_subscription_per_member_fires_nothing(
    program: MembershipProgram, duplicates: Duplicates
) -> None:
    program.apply(sub_event("evt_a", version=1, sub_id="sub_a", member_id="alice"))
    program.apply(sub_event("evt_b", version=1, sub_id="sub_b", member_id="bob", customer="cus_b"))

    assert duplicates.calls == []


@pytest.mark.parametrize(
    "first",
    [
        pytest.param({"status": Status.CANCELED}, id="the-first-ended"),
        pytest.param({"status": Status.ACTIVE, "cancel_at_period_end": True}, id="set-to-cancel"),
        pytest.param({"status": Status.INCOMPLETE}, id="the-first-never-paid"),
    ],
)
def test_a_new_subscription_after_one_that_will_not_charge_again_is_no_duplicate(
    program: MembershipProgram, duplicates: Duplicates, first: dict[str, Any]
) -> None:
    program.apply(sub_event("evt_old", version=1, sub_id="sub_old", **first))
    program.apply(sub_event("evt_new", version=1, sub_id="sub_new", customer="cus_2"))

    assert duplicates.calls == []


def test_a_trial_beside_an_active_subscription_is_a_duplicate(
    program: MembershipProgram, duplicates: Duplicates
) -> None:
    program.apply(sub_event("evt_paid", version=1, sub_id="sub_paid"))
    program.apply(sub_event("evt_trial", version=1, sub_id="sub_trial", status=Status.TRIALING))

    assert duplicates.calls == [("alice", ["sub_paid", "sub_trial"])]
