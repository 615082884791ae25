"""Memberships: the status state machine, the grace period, and grants."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sdk_builders import NOW

from membership_sdk import Grant, GrantKind, InvalidTransition, Membership, Status
from membership_sdk.membership import TERMINAL, TRANSITIONS, check_transition

S = Status

ALLOWED = [
    (S.INCOMPLETE, S.TRIALING),
    (S.INCOMPLETE, S.ACTIVE),
    (S.INCOMPLETE, S.EXPIRED),
    (S.TRIALING, S.ACTIVE),
    (S.TRIALING, S.PAST_DUE),
    (S.TRIALING, S.CANCELED),
    (S.ACTIVE, S.PAST_DUE),
    (S.ACTIVE, S.PAUSED),
    (S.ACTIVE, S.CANCELED),
    (S.ACTIVE, S.EXPIRED),
    (S.PAST_DUE, S.ACTIVE),
    (S.PAST_DUE, S.CANCELED),
    (S.PAUSED, S.ACTIVE),
    (S.CANCELED, S.EXPIRED),
    (S.ACTIVE, S.UNKNOWN),
    (S.UNKNOWN, S.ACTIVE),
]
FORBIDDEN = [
    (S.TRIALING, S.INCOMPLETE),
    (S.ACTIVE, S.INCOMPLETE),
    (S.ACTIVE, S.TRIALING),
    (S.CANCELED, S.ACTIVE),
    (S.CANCELED, S.TRIALING),
    (S.CANCELED, S.PAST_DUE),
    (S.CANCELED, S.UNKNOWN),
    (S.EXPIRED, S.ACTIVE),
    (S.EXPIRED, S.CANCELED),
    (S.EXPIRED, S.UNKNOWN),
]


def membership(status: Status = S.ACTIVE, **changes: object) -> Membership:
    base = Membership(
        id="mem_1",
        member_id="alice",
        tier="premium",
        status=status,
        provider="acme",
        current_period_end=NOW + timedelta(days=10),
    )
    return base.replace(**changes)


@pytest.mark.parametrize(("current", "target"), ALLOWED)
def test_allowed_transition_moves_the_membership(current: Status, target: Status) -> None:
    moved = membership(current).transition(target)
    assert moved.status is target


@pytest.mark.parametrize(("current", "target"), FORBIDDEN)
def test_forbidden_transition_raises(current: Status, target: Status) -> None:
    with pytest.raises(InvalidTransition):
        membership(current).transition(target)


def test_invalid_transition_message_names_both_states_and_what_is_allowed() -> None:
    with pytest.raises(InvalidTransition) as info:
        check_transition(S.CANCELED, S.ACTIVE)
    assert str(info.value) == (
        "cannot move a membership from canceled to active; allowed from canceled: canceled, expired"
    )
    assert (info.value.current, info.value.target) == (S.CANCELED, S.ACTIVE)


def test_every_status_may_stay_where_it_is() -> None:
    for status in Status:
        check_transition(status, status)


def test_expired_is_a_dead_end() -> None:
    assert TRANSITIONS[S.EXPIRED] == {S.EXPIRED}
    assert {S.CANCELED, S.EXPIRED} == TERMINAL


def test_transition_applies_other_changes_and_leaves_the_original_alone() -> None:
    before = membership(S.ACTIVE)
    after = before.transition(S.CANCELED, cancel_reason="too expensive")
    assert (after.status, after.cancel_reason) == (S.CANCELED, "too expensive")
    assert (before.status, before.cancel_reason) == (S.ACTIVE, "")


@pytest.mark.parametrize("raw", ["active", "past_due", "canceled"])
def test_known_provider_statuses_parse_to_themselves(raw: str) -> None:
    assert Status.parse(raw) == raw


@pytest.mark.parametrize("raw", ["unpaid", "ACTIVE", "", None, 3])
def test_an_unknown_provider_status_parses_to_unknown(raw: object) -> None:
    assert Status.parse(raw) is S.UNKNOWN


@pytest.mark.parametrize("status", [S.TRIALING, S.ACTIVE, S.PAST_DUE])
def test_live_statuses_give_access_until_the_period_ends(status: Status) -> None:
    m = membership(status)
    assert m.grants_access(NOW)
    assert not m.grants_access(NOW + timedelta(days=10))


@pytest.mark.parametrize("status", [S.INCOMPLETE, S.EXPIRED, S.UNKNOWN])
def test_statuses_that_never_give_access(status: Status) -> None:
    assert not membership(status).grants_access(NOW)


def test_a_paused_membership_gives_its_paid_period_only_unless_told_otherwise() -> None:
    m = membership(S.PAUSED)
    assert m.grants_access(NOW)
    assert not m.grants_access(NOW + timedelta(days=10))
    assert not m.grants_access(NOW, paused_access=False)


def test_a_paused_membership_past_its_resume_date_gives_access_as_resumed() -> None:
    resumes = NOW + timedelta(days=40)
    m = membership(S.PAUSED).replace(paused_until=resumes)
    grace = timedelta(days=3)
    assert not m.grants_access(resumes - timedelta(days=1), grace, paused_access=False)
    assert m.grants_access(resumes, grace, paused_access=False)
    assert m.grants_access(resumes + timedelta(days=2), grace, paused_access=False)
    assert not m.grants_access(resumes + grace, grace, paused_access=False)


def test_an_unknown_provider_status_denies_access_even_within_the_paid_period() -> None:
    m = membership(Status.parse("unpaid"))
    assert not m.grants_access(NOW, grace=timedelta(days=30))


def test_past_due_keeps_access_for_the_grace_period_after_the_period_ends() -> None:
    m = membership(S.PAST_DUE)
    end = NOW + timedelta(days=10)
    grace = timedelta(days=3)
    assert m.grants_access(end + timedelta(days=2), grace)
    assert not m.grants_access(end + grace, grace)


def test_past_due_gives_access_to_the_last_paid_period_plus_grace_not_the_unpaid_one() -> None:
    # Stripe started a new period (to NOW + 40 days) and its charge failed: what was paid
    # ends at NOW + 10 days.
    paid = NOW + timedelta(days=10)
    m = membership(S.PAST_DUE, current_period_end=NOW + timedelta(days=40), paid_through=paid)
    grace = timedelta(days=3)
    assert m.grants_access(paid + timedelta(days=2), grace)
    assert not m.grants_access(paid + grace, grace)
    assert not m.grants_access(NOW + timedelta(days=39), grace)


def test_past_due_with_no_payment_known_counts_the_current_period_as_the_last_paid() -> None:
    # The fake and manual providers start a new period only once it is paid.
    m = membership(S.PAST_DUE, paid_through=None)
    grace = timedelta(days=3)
    assert m.grants_access(NOW + timedelta(days=12), grace)
    assert not m.grants_access(NOW + timedelta(days=13), grace)


def test_past_due_with_no_period_and_no_payment_known_gives_no_access() -> None:
    m = membership(S.PAST_DUE, current_period_end=None, paid_through=None)
    assert not m.grants_access(NOW, grace=timedelta(days=3))


def test_paid_through_does_not_shorten_an_active_period() -> None:
    # Active: the new period was just started and its charge is on its way.
    m = membership(S.ACTIVE, paid_through=NOW - timedelta(days=1))
    assert m.grants_access(NOW + timedelta(days=9))


def test_without_a_period_end_a_live_membership_gives_access() -> None:
    assert membership(S.ACTIVE, current_period_end=None).grants_access(NOW)


def test_canceled_keeps_access_until_the_paid_period_ends_without_grace() -> None:
    m = membership(S.CANCELED)
    assert m.grants_access(NOW)
    assert not m.grants_access(NOW + timedelta(days=10), grace=timedelta(days=3))


def test_canceled_without_a_period_end_gives_no_access() -> None:
    assert not membership(S.CANCELED, current_period_end=None).grants_access(NOW)


def grant(**changes: object) -> Grant:
    return Grant(
        id="g1",
        member_id="alice",
        kind=GrantKind.COMP,
        starts_at=NOW,
        ends_at=NOW + timedelta(days=7),
        tier="premium",
    ).replace(**changes)


def test_a_grant_is_active_from_its_start_until_its_end() -> None:
    g = grant()
    assert not g.active(NOW - timedelta(seconds=1))
    assert g.active(NOW)
    assert not g.active(NOW + timedelta(days=7))


def test_a_grant_without_an_end_never_runs_out() -> None:
    assert grant(ends_at=None).active(NOW + timedelta(days=3650))


def test_a_revoked_grant_is_inactive_from_the_revocation_on() -> None:
    g = grant(revoked_at=NOW + timedelta(days=1))
    assert g.active(NOW)
    assert not g.active(NOW + timedelta(days=1))
