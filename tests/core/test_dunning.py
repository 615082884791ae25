"""Dunning in the core: the retry schedule, the recovery rate, and the fake provider's
card that fails until the member updates it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from membership_sdk import MembershipError, MembershipProgram, ProviderError, Status
from membership_sdk.dunning import (
    InvalidSchedule,
    RetriesPayments,
    RetrySchedule,
    grace_ends,
    recovery_rate,
)
from membership_sdk.providers.fake import FakeProvider
from membership_sdk.testing import sample_catalog, sample_program

FAILED = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)


# -- the schedule ------------------------------------------------------------------------------


def test_the_first_retry_is_due_the_first_scheduled_day_after_the_failure() -> None:
    schedule = RetrySchedule((1, 3, 5))

    assert schedule.next_attempt(FAILED, 0) == FAILED + timedelta(days=1)


def test_each_later_retry_counts_its_days_from_the_failure_not_from_the_last_retry() -> None:
    schedule = RetrySchedule((1, 3, 5))

    assert schedule.next_attempt(FAILED, 1) == FAILED + timedelta(days=3)
    assert schedule.next_attempt(FAILED, 2) == FAILED + timedelta(days=5)


def test_after_the_last_scheduled_retry_nothing_more_is_due() -> None:
    schedule = RetrySchedule((1, 3, 5))

    assert schedule.next_attempt(FAILED, 3) is None
    assert not schedule.due(FAILED, 3, FAILED + timedelta(days=400))
    assert schedule.is_last(3)
    assert not schedule.is_last(2)


def test_a_retry_is_not_due_a_second_before_its_day_and_is_due_from_then_on() -> None:
    schedule = RetrySchedule((2,))
    at = FAILED + timedelta(days=2)

    assert not schedule.due(FAILED, 0, at - timedelta(seconds=1))
    assert schedule.due(FAILED, 0, at)
    assert schedule.due(FAILED, 0, at + timedelta(days=9))


def test_an_empty_schedule_never_retries() -> None:
    schedule = RetrySchedule(())

    assert schedule.attempts == 0
    assert schedule.next_attempt(FAILED, 0) is None


def test_a_list_is_taken_as_the_schedule_s_days() -> None:
    assert RetrySchedule([1, 4]).days == (1, 4)  # type: ignore[arg-type]


def test_the_default_schedule_retries_after_one_three_and_five_days() -> None:
    assert RetrySchedule().days == (1, 3, 5)


@pytest.mark.parametrize(
    ("days", "message"),
    [
        ((3, 1), r"retry days must rise: 1 follows 3 in \[3, 1\]"),
        ((2, 2), r"retry days must rise: 2 follows 2"),
        ((0, 2), r"retry day 0 must be a whole number of days from 1 to 365"),
        ((1.5,), r"retry day 1.5 must be a whole number"),
        ((True,), r"retry day True must be a whole number"),
        ((400,), r"retry day 400 must be"),
        ("135", r"a retry schedule is a list of days; got '135'"),
        (5, r"a retry schedule is a list of days; got 5"),
    ],
)
def test_a_bad_schedule_is_refused_naming_the_culprit(days: Any, message: str) -> None:
    with pytest.raises(InvalidSchedule, match=message) as caught:
        RetrySchedule(days)

    assert isinstance(caught.value, MembershipError)
    assert isinstance(caught.value, ValueError)


def test_a_negative_attempt_count_is_refused() -> None:
    with pytest.raises(ValueError, match="attempts_made must be 0 or more; got -1"):
        RetrySchedule().next_attempt(FAILED, -1)


# -- figures -----------------------------------------------------------------------------------


def test_the_recovery_rate_is_recovered_over_ended_episodes() -> None:
    assert recovery_rate(3, 1) == 0.75


def test_with_no_ended_episode_there_is_no_recovery_rate() -> None:
    assert recovery_rate(0, 0) is None


def test_negative_counts_have_no_recovery_rate() -> None:
    with pytest.raises(ValueError, match="recovered=-1"):
        recovery_rate(-1, 2)


def test_grace_ends_after_the_last_paid_period_else_the_current_one() -> None:
    paid = FAILED - timedelta(days=1)
    grace = timedelta(days=3)

    assert grace_ends(paid, FAILED + timedelta(days=30), grace) == paid + grace
    assert grace_ends(None, FAILED, grace) == FAILED + grace
    assert grace_ends(None, None, grace) is None


# -- the fake provider's card -----------------------------------------------------------------


@pytest.fixture
def program() -> MembershipProgram:
    catalog = sample_catalog("fake", monthly="fake_gold_m")
    return sample_program(catalog, config={"fake": {"secret": "whsec_test"}})


@pytest.fixture
def fake(program: MembershipProgram) -> FakeProvider:
    provider = program.providers["fake"]
    assert isinstance(provider, FakeProvider)
    return provider


def past_due(program: MembershipProgram, fake: FakeProvider) -> tuple[str, str]:
    session = program.start_checkout(
        "ann", "gold-monthly", provider="fake", success_url="/ok/", cancel_url="/no/", attempt="1"
    )
    program.handle_webhook("fake", *_signed(fake.complete_checkout(session.id)))
    (membership,) = program.store.memberships.for_member("ann")
    sub = membership.provider_subscription_id
    assert sub is not None
    assert membership.provider_customer_id is not None
    fake.decline_card(membership.provider_customer_id)
    program.handle_webhook("fake", *_signed(fake.fail_payment(sub)))
    return sub, membership.provider_customer_id


def _signed(webhook: Any) -> tuple[Any, bytes]:
    return webhook.headers, webhook.body


def status(program: MembershipProgram) -> Status:
    (membership,) = program.store.memberships.for_member("ann")
    return membership.status


def test_the_fake_provider_has_the_retry_payments_capability(
    fake: FakeProvider,
) -> None:
    assert isinstance(fake, RetriesPayments)


def test_a_retry_on_a_declined_card_fails_again_and_the_membership_stays_past_due(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    sub, _ = past_due(program, fake)

    webhook = fake.retry_payment(sub)
    program.handle_webhook("fake", *_signed(webhook))

    assert b'"payment.failed"' in webhook.body
    assert status(program) is Status.PAST_DUE


def test_after_the_member_updates_the_card_a_retry_recovers_the_membership(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    sub, customer = past_due(program, fake)
    fake.declining.discard(customer)  # the card works again, nothing charged yet

    program.handle_webhook("fake", *_signed(fake.retry_payment(sub)))

    assert status(program) is Status.ACTIVE


def test_updating_the_payment_method_charges_the_past_due_subscription_at_once(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    _, customer = past_due(program, fake)

    (webhook,) = fake.update_payment_method(customer)
    program.handle_webhook("fake", *_signed(webhook))

    assert status(program) is Status.ACTIVE
    assert fake.update_payment_method(customer) == []


def test_retrying_an_active_subscription_is_refused_and_changes_nothing(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    sub, customer = past_due(program, fake)
    fake.update_payment_method(customer)
    version = fake.subscription(sub).version

    with pytest.raises(ProviderError, match="not past_due; nothing to retry") as caught:
        fake.retry_payment(sub)

    assert caught.value.code == "not_past_due"
    assert fake.subscription(sub).version == version


def test_a_declined_card_survives_a_restart_of_the_service(tmp_path: Any) -> None:
    state = tmp_path / "fake.state"
    first = FakeProvider(secrets="s", state_file=state)
    first.decline_card("cus_1")

    assert FakeProvider(secrets="s", state_file=state).declining == {"cus_1"}
