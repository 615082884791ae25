"""Pausing a membership for 1 to 3 months on the simulated providers: no billing while
paused, access to the period paid before the pause (or none, as the site's
``pause_access`` says), a resume by itself or by the member,
and the reason kept."""

from __future__ import annotations

from datetime import timedelta

import pytest
from lifecycle_builders import (
    NOW,
    Clock,
    current,
    deliver,
    deliver_outbox,
    fake,
    make_program,
    manual,
    subscribe,
)
from sdk_builders import HookRecorder, StubProvider

from membership_sdk import MembershipError, MembershipProgram, MinTier, Resource, Status
from membership_sdk.lifecycle import CapabilityDeclined, PauseError

PREMIUM = Resource("page:premium", MinTier("basic"))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def program(clock: Clock) -> MembershipProgram:
    return make_program(clock)


@pytest.mark.parametrize("provider", ["fake", "manual"])
def test_a_pause_keeps_the_paid_period_and_the_reason(
    program: MembershipProgram, clock: Clock, provider: str
) -> None:
    membership = subscribe(program, provider)  # paid to 1 April
    clock.now = NOW + timedelta(days=1)
    paused = program.pause(membership.id, months=2, reason="  On holiday  ")
    assert paused.status is Status.PAUSED
    assert paused.paused_until == NOW.replace(month=5) + timedelta(days=1)
    assert paused.pause_reason == "On holiday"
    # Paused on day 2: the rest of the month was paid for, so it is still given.
    assert program.access(PREMIUM, "ann").allowed
    clock.now = NOW + timedelta(days=31)  # the paid period is over, still paused
    assert not program.access(PREMIUM, "ann").allowed


def test_no_access_while_paused_is_an_explicit_setting(clock: Clock) -> None:
    program = make_program(clock, pause_access="none")
    membership = subscribe(program, "fake")
    clock.now = NOW + timedelta(days=10)
    program.pause(membership.id, months=1)
    assert not program.access(PREMIUM, "ann").allowed


@pytest.mark.parametrize("provider", ["fake", "manual"])
def test_a_pause_past_its_end_counts_as_resumed_before_the_webhook_comes(
    program: MembershipProgram, clock: Clock, provider: str
) -> None:
    membership = subscribe(program, provider)
    clock.now = NOW + timedelta(days=10)
    program.pause(membership.id, months=2)
    clock.now = NOW.replace(month=5) + timedelta(days=10, hours=1)  # resume not reported
    assert current(program, membership).status is Status.PAUSED
    assert program.access(PREMIUM, "ann").allowed
    clock.now += program.grace  # the resume (or a failed charge) is long overdue
    assert not program.access(PREMIUM, "ann").allowed


def test_an_unknown_pause_access_setting_is_refused_naming_it(clock: Clock) -> None:
    with pytest.raises(MembershipError, match="'forever'"):
        make_program(clock, pause_access="forever")


@pytest.mark.parametrize("months", [0, 4, -1, True, 1.5, "2"])
def test_a_pause_lasts_one_to_three_whole_months(
    program: MembershipProgram, months: object
) -> None:
    membership = subscribe(program, "fake")
    with pytest.raises(PauseError, match=repr(months)):
        program.pause(membership.id, months=months)  # type: ignore[arg-type]
    assert current(program, membership) == membership


def test_a_membership_set_to_cancel_cannot_be_paused(program: MembershipProgram) -> None:
    membership = subscribe(program, "fake")
    canceling = program.cancel(membership.id)
    with pytest.raises(PauseError, match="set to cancel"):
        program.pause(membership.id, months=1)
    assert current(program, membership) == canceling


def test_a_provider_that_declines_pausing_is_named(clock: Clock) -> None:
    program = make_program(clock, plugins=(StubProvider(),))
    membership = subscribe(program, "fake")
    program.store.memberships.save(membership.replace(provider="stub"))
    with pytest.raises(CapabilityDeclined, match="'stub'"):
        program.pause(membership.id, months=1)


def test_a_fake_pause_resumes_by_itself_and_charges_the_next_period(
    program: MembershipProgram, clock: Clock
) -> None:
    membership = subscribe(program, "fake")
    clock.now = NOW + timedelta(days=10)
    program.pause(membership.id, months=2)
    deliver_outbox(program)
    service = fake(program)
    clock.now = NOW + timedelta(days=40)
    assert service.resume_due_pauses() == []  # not due yet
    clock.now = NOW.replace(month=5) + timedelta(days=10)
    deliver(program, "fake", *service.resume_due_pauses())
    resumed = current(program, membership)
    assert resumed.status is Status.ACTIVE
    assert resumed.paused_until is None
    assert resumed.paid_through == clock.now.replace(month=6)
    assert program.access(PREMIUM, "ann").allowed


def test_no_renewal_is_charged_while_paused(program: MembershipProgram, clock: Clock) -> None:
    membership = subscribe(program, "fake")
    program.pause(membership.id, months=1)
    with pytest.raises(MembershipError, match="paused"):
        fake(program).renew(membership.provider_subscription_id or "")


def test_unpausing_within_the_paid_period_goes_on_with_it(
    program: MembershipProgram, clock: Clock
) -> None:
    membership = subscribe(program, "fake")
    clock.now = NOW + timedelta(days=5)
    program.pause(membership.id, months=3)
    clock.now = NOW + timedelta(days=9)
    after = program.unpause(membership.id)
    assert after.status is Status.ACTIVE
    assert after.current_period_end == membership.current_period_end
    assert program.access(PREMIUM, "ann").allowed


def test_unpausing_a_membership_that_is_not_paused_is_refused(
    program: MembershipProgram,
) -> None:
    membership = subscribe(program, "fake")
    with pytest.raises(PauseError, match="active, not paused"):
        program.unpause(membership.id)


def test_a_manual_pause_voids_the_renewal_invoice_and_issues_none(
    program: MembershipProgram, clock: Clock
) -> None:
    membership = subscribe(program, "manual")
    billing = manual(program)
    clock.now = NOW + timedelta(days=20)
    billing.run_schedule()
    assert len(billing.open_invoices()) == 1  # the renewal, due 1 April
    program.pause(membership.id, months=2, reason="moving house")
    assert billing.open_invoices() == []
    clock.now = NOW + timedelta(days=45)
    assert billing.run_schedule() == []
    assert billing.open_invoices() == []


def test_a_manual_pause_ends_in_run_schedule_with_an_invoice_for_the_next_period(
    program: MembershipProgram, clock: Clock
) -> None:
    membership = subscribe(program, "manual")
    program.pause(membership.id, months=1)
    billing = manual(program)
    clock.now = NOW.replace(month=4) + timedelta(hours=1)
    deliver(program, "manual", *billing.run_schedule())
    assert current(program, membership).status is Status.ACTIVE
    [renewal] = billing.open_invoices()
    clock.now += timedelta(days=3)
    deliver(program, "manual", billing.confirm_payment(renewal.reference))
    paid = current(program, membership)
    assert paid.current_period_end == clock.now.replace(month=5)
    assert program.access(PREMIUM, "ann").allowed


def test_resuming_from_a_pause_sends_no_welcome(clock: Clock) -> None:
    hooks = HookRecorder()
    program = make_program(clock, plugins=(hooks,))
    membership = subscribe(program, "fake")
    program.pause(membership.id, months=1)
    hooks.calls.clear()
    program.unpause(membership.id)
    deliver_outbox(program)
    assert "membership_activated" not in hooks.names()


def test_a_resume_after_the_paid_period_on_a_declined_card_is_past_due(
    program: MembershipProgram, clock: Clock
) -> None:
    membership = subscribe(program, "fake")
    service = fake(program)
    program.pause(membership.id, months=2)
    deliver_outbox(program)
    service.decline_card(membership.provider_customer_id or "")
    clock.now = NOW + timedelta(days=62)
    deliver(program, "fake", *service.resume_due_pauses())
    resumed = current(program, membership)
    assert resumed.status is Status.PAST_DUE
    assert resumed.current_period_end == clock.now  # due now, nothing paid
    clock.now += program.grace  # only the dunning grace of any failed payment
    assert not program.access(PREMIUM, "ann").allowed
    # A working card pays the period due since the resume.
    deliver(program, "fake", *service.update_payment_method(membership.provider_customer_id or ""))
    paid = current(program, membership)
    assert paid.status is Status.ACTIVE
    assert paid.current_period_end == (NOW + timedelta(days=62)).replace(month=6)
    assert program.access(PREMIUM, "ann").allowed
