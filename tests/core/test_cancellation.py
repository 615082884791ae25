"""Lawful cancellation in the core (membership_sdk.cancellation): the Wet van Dam notice
cap, withdrawal within 14 days, and a yearly plan renewing as monthly (§309 Nr. 9 BGB),
on the ``fake`` and ``manual`` providers."""

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

from membership_sdk import ProviderError, Status
from membership_sdk.cancellation import (
    CancellationRules,
    OutsideWithdrawalPeriod,
    cancel_lawfully,
    earliest_end,
    renew_monthly,
    withdraw,
)
from membership_sdk.providers import RenewalPrices, ScheduledCancellation
from membership_sdk.providers.simulated import add_interval

CAP = CancellationRules(notice_cap=True)
PROVIDERS = ("fake", "manual")


def renew(program, provider: str, membership) -> None:
    sub = membership.provider_subscription_id
    if provider == "fake":
        fake(program).renew(sub)
        deliver_outbox(program)
    else:
        invoice = manual(program).issue_renewal(sub)
        deliver(program, "manual", manual(program).confirm_payment(invoice.reference))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_both_simulated_providers_schedule_ends_and_renewal_prices(provider: str) -> None:
    backend = make_program(Clock()).providers[provider]
    assert isinstance(backend, ScheduledCancellation)
    assert isinstance(backend, RenewalPrices)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_yearly_plan_in_its_first_term_ends_at_the_term_end(provider: str) -> None:
    clock = Clock()
    program = make_program(clock)
    member = subscribe(program, provider, "basic-yearly")
    clock.now = NOW + timedelta(days=40)
    after = cancel_lawfully(program, member.id, CAP)
    assert after.cancel_at_period_end
    assert after.current_period_end == add_interval(NOW, "year")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_after_the_first_term_a_yearly_plan_ends_at_most_one_month_after_notice(
    provider: str,
) -> None:
    clock = Clock()
    program = make_program(clock)
    member = subscribe(program, provider, "basic-yearly")
    clock.now = add_interval(NOW, "year") - timedelta(days=1)
    renew(program, provider, member)
    clock.now = add_interval(NOW, "year") + timedelta(days=10)
    after = cancel_lawfully(program, member.id, CAP, reason="too_expensive")
    assert after.cancel_at_period_end
    assert after.current_period_end == add_interval(clock.now, "month")
    assert after.cancel_reason == "too_expensive"
    assert after.status is Status.ACTIVE


def test_the_fake_card_is_not_charged_again_after_a_capped_cancellation() -> None:
    clock = Clock()
    program = make_program(clock)
    member = subscribe(program, "fake", "basic-yearly")
    renew(program, "fake", member)
    clock.now = add_interval(NOW, "year") + timedelta(days=10)
    cancel_lawfully(program, member.id, CAP)
    with pytest.raises(ProviderError) as caught:
        fake(program).renew(member.provider_subscription_id)
    assert caught.value.code == "not_renewable"


def test_the_manual_schedule_ends_a_capped_cancellation_on_its_date() -> None:
    clock = Clock()
    program = make_program(clock)
    member = subscribe(program, "manual", "basic-yearly")
    renew(program, "manual", member)
    clock.now = add_interval(NOW, "year") + timedelta(days=10)
    after = cancel_lawfully(program, member.id, CAP)
    assert after.current_period_end is not None
    deliver(program, "manual", *manual(program).run_schedule(after.current_period_end))
    assert current(program, member).status is Status.CANCELED


def test_without_the_cap_a_yearly_plan_runs_to_its_period_end() -> None:
    clock = Clock()
    program = make_program(clock)
    member = subscribe(program, "fake", "basic-yearly")
    renew(program, "fake", member)
    clock.now = add_interval(NOW, "year") + timedelta(days=10)
    after = cancel_lawfully(program, member.id, CancellationRules())
    assert after.current_period_end == add_interval(NOW, "year", 2)


def test_a_monthly_plan_is_never_capped_below_its_period() -> None:
    clock = Clock()
    program = make_program(clock)
    member = subscribe(program, "fake")
    price = program.catalog.price("basic-monthly")
    assert earliest_end(member, NOW, CAP, price) == member.current_period_end


def test_a_provider_refuses_an_end_after_the_paid_period() -> None:
    program = make_program(Clock())
    member = subscribe(program, "fake", "basic-yearly")
    with pytest.raises(ProviderError) as caught:
        fake(program).cancel_subscription_at(
            member.provider_subscription_id, add_interval(NOW, "year", 2)
        )
    assert caught.value.code == "bad_cancel_date"
    assert not current(program, member).cancel_at_period_end


# -- withdrawal ------------------------------------------------------------------------------
@pytest.mark.parametrize("provider", PROVIDERS)
def test_withdrawal_within_14_days_refunds_and_ends_the_contract_now(provider: str) -> None:
    clock = Clock()
    program = make_program(clock)
    member = subscribe(program, provider, "basic-monthly")
    clock.now = NOW + timedelta(days=13)
    done = withdraw(program, member.id)
    assert done.refund is not None
    assert done.refund.amount == 500
    assert done.membership.status is Status.CANCELED
    assert done.membership.cancel_reason == "withdrawal"


def test_withdrawal_after_14_days_is_refused_and_changes_nothing() -> None:
    clock = Clock()
    program = make_program(clock)
    member = subscribe(program, "fake")
    clock.now = NOW + timedelta(days=14, seconds=1)
    with pytest.raises(OutsideWithdrawalPeriod, match="withdrawal period of 14 days ended"):
        withdraw(program, member.id)
    assert current(program, member).status is Status.ACTIVE
    assert not current(program, member).cancel_at_period_end


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_withdrawal_declared_in_time_is_carried_out_when_confirmed_later(provider: str) -> None:
    clock = Clock()
    program = make_program(clock)
    member = subscribe(program, provider, "basic-monthly")
    declared = NOW + timedelta(days=13)
    clock.now = NOW + timedelta(days=20)
    done = withdraw(program, member.id, declared_at=declared)
    assert done.refund is not None
    assert done.membership.status is Status.CANCELED


def test_a_withdrawal_declared_late_is_refused_whenever_it_is_confirmed() -> None:
    clock = Clock()
    program = make_program(clock)
    member = subscribe(program, "fake")
    with pytest.raises(OutsideWithdrawalPeriod, match="withdrawal period of 14 days ended"):
        withdraw(program, member.id, declared_at=NOW + timedelta(days=14, seconds=1))
    assert current(program, member).status is Status.ACTIVE


def test_withdrawing_from_a_trial_refunds_nothing_and_ends_it() -> None:
    clock = Clock()
    program = make_program(clock)
    session = program.start_checkout(
        "ann", "basic-monthly", provider="fake", success_url="/", cancel_url="/"
    )
    fake(program).sessions[session.id].trial_days = 7
    fake(program).complete_checkout(session.id)
    deliver_outbox(program)
    (member,) = program.store.memberships.for_member("ann")
    assert member.status is Status.TRIALING
    done = withdraw(program, member.id)
    assert (done.refund, done.refund_note) == (None, "trial")
    assert done.membership.status is Status.CANCELED


# -- §309 Nr. 9 BGB: a yearly plan renews as monthly ------------------------------------------
def test_a_yearly_fake_plan_renews_on_the_monthly_price() -> None:
    clock = Clock()
    program = make_program(clock)
    member = subscribe(program, "fake", "basic-yearly")
    renew_monthly(program, member.id)
    assert current(program, member).price_id == "basic-yearly"  # the paid year stays
    clock.now = add_interval(NOW, "year")
    renew(program, "fake", member)
    after = current(program, member)
    assert after.price_id == "basic-monthly"
    assert after.current_period_end == add_interval(add_interval(NOW, "year"), "month")


def test_a_yearly_manual_plan_is_invoiced_monthly_at_its_renewal() -> None:
    clock = Clock()
    program = make_program(clock)
    member = subscribe(program, "manual", "basic-yearly")
    renew_monthly(program, member.id)
    invoice = manual(program).issue_renewal(member.provider_subscription_id)
    assert (invoice.amount, invoice.interval.value) == (500, "month")
    deliver(program, "manual", manual(program).confirm_payment(invoice.reference))
    assert current(program, member).price_id == "basic-monthly"


def test_an_open_manual_renewal_invoice_is_repriced_monthly() -> None:
    program = make_program(Clock())
    member = subscribe(program, "manual", "basic-yearly")
    yearly = manual(program).issue_renewal(member.provider_subscription_id)
    assert yearly.amount == 5000
    renew_monthly(program, member.id)
    again = manual(program).issue_renewal(member.provider_subscription_id)
    assert (again.reference, again.amount) == (yearly.reference, 500)


def test_a_monthly_plan_has_nothing_to_renew_as_monthly() -> None:
    program = make_program(Clock())
    member = subscribe(program, "fake")
    assert renew_monthly(program, member.id) is None
