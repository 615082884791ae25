"""Referrals: a member's code brings a friend an offer, and the member a free month once the
friend has paid past the window; no self-referral, a monthly cap, one reward per referral."""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from membership_sdk import (
    Catalog,
    Interval,
    Membership,
    MembershipProgram,
    Price,
    Tier,
    hookimpl,
)
from membership_sdk.providers.fake import FakeProvider
from membership_sdk.referrals import (
    CODE_ALPHABET,
    CODE_LENGTH,
    MemoryReferrals,
    Referral,
    ReferralClaim,
    ReferralError,
    ReferralPolicy,
    ReferralStatus,
    Rejection,
    attribute,
    may_claim,
    reward_code,
    run_referrals,
    verdict,
)
from membership_sdk.testing import sample_program

NOW = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
ATTEMPTS = itertools.count()
POLICY = ReferralPolicy(friend_coupon="FRIEND", monthly_cap=2)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Rewards:
    """Records the ``membership_referral_rewarded`` hook."""

    def __init__(self) -> None:
        self.calls: list[tuple[Referral, Membership]] = []

    @hookimpl
    def membership_referral_rewarded(self, referral: Referral, membership: Membership) -> None:
        self.calls.append((referral, membership))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def rewards() -> Rewards:
    return Rewards()


@pytest.fixture
def program(clock: Clock, rewards: Rewards) -> MembershipProgram:
    catalog = Catalog(
        tiers=[Tier("free", "Free"), Tier("gold", "Gold", rank=1)],
        prices=[
            Price("gold-monthly", 900, "EUR", tier="gold", provider_ids={"fake": "gold_m"}),
            Price(
                "gold-trial",
                900,
                "EUR",
                Interval.MONTH,
                tier="gold",
                trial_days=7,
                provider_ids={"fake": "gold_t"},
            ),
        ],
    )
    program = sample_program(catalog, config={"fake": {"secret": "whsec_test", "clock": clock}})
    program.clock = clock
    program.pm.register(rewards)
    return program


@pytest.fixture
def fake(program: MembershipProgram) -> FakeProvider:
    provider = program.providers["fake"]
    assert isinstance(provider, FakeProvider)
    return provider


@pytest.fixture
def referrals() -> MemoryReferrals:
    return MemoryReferrals()


def join(
    program: MembershipProgram, fake: FakeProvider, member: str, price: str = "gold-monthly"
) -> Membership:
    """``member`` pays a membership at the fake provider; returns it as stored."""
    session = program.start_checkout(
        member,
        price,
        provider="fake",
        success_url="/ok/",
        cancel_url="/no/",
        attempt=str(next(ATTEMPTS)),
    )
    webhook = fake.complete_checkout(session.id)
    program.handle_webhook("fake", webhook.headers, webhook.body)
    (membership,) = [m for m in program.store.memberships.for_member(member) if m.price_id == price]
    return membership


def referred(
    program: MembershipProgram,
    fake: FakeProvider,
    referrals: MemoryReferrals,
    friend: str,
    *,
    referrer: str = "ann",
    price: str = "gold-monthly",
    policy: ReferralPolicy = POLICY,
    **options: Any,
) -> Referral | None:
    """``friend`` follows ``referrer``'s link, pays, and their membership is attributed."""
    referrals.save_claim(ReferralClaim(friend, referrals.code_for(referrer), program.clock()))
    membership = join(program, fake, friend, price)
    return attribute(
        referrals, program.store.memberships, membership, policy, program.clock(), **options
    )


def member(program: MembershipProgram, member_id: str) -> Membership:
    (found,) = program.store.memberships.for_member(member_id)
    return found


# -- codes and the policy ---------------------------------------------------------------------


def test_each_member_has_one_stable_code_of_unambiguous_characters(
    referrals: MemoryReferrals,
) -> None:
    code = referrals.code_for("ann")

    assert referrals.code_for("ann") == code
    assert referrals.code_for("bob") != code
    assert len(code) == CODE_LENGTH
    assert set(code) <= set(CODE_ALPHABET)
    assert referrals.member_for_code(f" {code.lower()} ") == "ann"
    assert referrals.member_for_code("NOSUCHCODE") is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("reward_percent_off", 0, r"reward_percent_off must be 1\.\.100, got 0"),
        ("reward_months", 0, r"reward_months must be 1\.\.24, got 0"),
        ("qualify_days", -1, r"qualify_days must be 0\.\.366, got -1"),
        ("monthly_cap", 0, r"monthly_cap must be >= 1, got 0"),
        ("reward_code", "", r"reward_code must be a name of 1\.\.24 characters"),
    ],
)
def test_a_policy_out_of_range_is_refused_naming_the_field(
    field: str, value: Any, message: str
) -> None:
    with pytest.raises(ReferralError, match=message):
        ReferralPolicy(**{field: value})


def test_the_default_window_is_the_eu_withdrawal_period() -> None:
    assert ReferralPolicy().qualify_days == 14


# -- attribution ------------------------------------------------------------------------------


def test_a_friend_who_pays_through_the_link_is_a_pending_referral(
    program: MembershipProgram, fake: FakeProvider, referrals: MemoryReferrals
) -> None:
    join(program, fake, "ann")

    referral = referred(program, fake, referrals, "bob")

    assert referral is not None
    assert (referral.referrer_id, referral.friend_id, referral.status) == (
        "ann",
        "bob",
        ReferralStatus.PENDING,
    )
    assert referral.membership_id == member(program, "bob").id


def test_a_member_paying_without_a_claim_is_no_referral(
    program: MembershipProgram, fake: FakeProvider, referrals: MemoryReferrals
) -> None:
    membership = join(program, fake, "bob")

    assert attribute(referrals, program.store.memberships, membership, POLICY, NOW) is None


def test_a_claim_older_than_the_claim_days_is_no_referral(
    program: MembershipProgram, fake: FakeProvider, referrals: MemoryReferrals, clock: Clock
) -> None:
    referrals.save_claim(ReferralClaim("bob", referrals.code_for("ann"), NOW))
    clock.advance(days=POLICY.claim_days + 1)
    membership = join(program, fake, "bob")

    assert attribute(referrals, program.store.memberships, membership, POLICY, clock()) is None


def test_following_ones_own_link_is_a_rejected_self_referral(
    program: MembershipProgram, fake: FakeProvider, referrals: MemoryReferrals
) -> None:
    referral = referred(program, fake, referrals, "ann", referrer="ann")

    assert referral is not None
    assert (referral.status, referral.reason) == (ReferralStatus.REJECTED, "self_referral")


def test_a_second_account_of_the_same_person_is_a_self_referral(
    program: MembershipProgram, fake: FakeProvider, referrals: MemoryReferrals
) -> None:
    referral = referred(
        program, fake, referrals, "ann-2", same_person=lambda a, b: {a, b} == {"ann", "ann-2"}
    )

    assert referral is not None
    assert referral.reason == Rejection.SELF_REFERRAL


def test_a_friend_who_was_a_paying_member_before_is_rejected(
    program: MembershipProgram, fake: FakeProvider, referrals: MemoryReferrals
) -> None:
    old = join(program, fake, "bob")
    program.cancel(old.id, at_period_end=False)

    referral = referred(program, fake, referrals, "bob", price="gold-trial")

    assert referral is not None
    assert referral.reason == Rejection.ALREADY_MEMBER
    assert not may_claim(program.store.memberships, "ann", "bob")


def test_only_someone_else_who_never_paid_may_take_the_offer(
    program: MembershipProgram,
) -> None:
    memberships = program.store.memberships

    assert may_claim(memberships, "ann", "bob")
    assert not may_claim(memberships, "ann", "ann")
    assert not may_claim(memberships, None, "bob")
    assert not may_claim(memberships, "ann", "bob", same_person=lambda a, b: True)


def test_a_friend_is_referred_once_whatever_repeats_the_activation(
    program: MembershipProgram, fake: FakeProvider, referrals: MemoryReferrals
) -> None:
    first = referred(program, fake, referrals, "bob")
    referrals.save_claim(ReferralClaim("bob", referrals.code_for("cy"), NOW))

    again = attribute(referrals, program.store.memberships, member(program, "bob"), POLICY, NOW)

    assert again == first
    assert len(referrals.referrals) == 1


# -- deciding after the window ----------------------------------------------------------------


def test_nothing_is_decided_before_the_window_ends(
    program: MembershipProgram, fake: FakeProvider, referrals: MemoryReferrals, clock: Clock
) -> None:
    join(program, fake, "ann")
    referred(program, fake, referrals, "bob")
    clock.advance(days=13, hours=23)

    run = run_referrals(program, referrals, POLICY)

    assert (run.qualified, run.rejected, run.rewarded) == (0, 0, 0)
    assert referrals.in_status(ReferralStatus.PENDING, 10)


def test_a_friend_still_paying_after_the_window_earns_the_referrer_a_free_month(
    program: MembershipProgram,
    fake: FakeProvider,
    referrals: MemoryReferrals,
    clock: Clock,
    rewards: Rewards,
) -> None:
    ann = join(program, fake, "ann")
    referral = referred(program, fake, referrals, "bob")
    assert referral is not None
    clock.advance(days=14)

    run = run_referrals(program, referrals, POLICY)

    assert (run.qualified, run.rewarded) == (1, 1)
    after = member(program, "ann")
    assert after.coupon == reward_code(POLICY, referral)
    assert after.charged(900, ann.current_period_end or NOW) == 0
    assert after.discount_ends_at == datetime(2026, 5, 10, 8, 0, tzinfo=UTC)
    stored = referrals.get(referral.id)
    assert stored is not None
    assert stored.status is ReferralStatus.REWARDED
    assert stored.reward_membership_id == ann.id
    assert [r.id for r, _ in rewards.calls] == [referral.id]


def test_running_the_job_twice_gives_one_reward(
    program: MembershipProgram,
    fake: FakeProvider,
    referrals: MemoryReferrals,
    clock: Clock,
    rewards: Rewards,
) -> None:
    join(program, fake, "ann")
    referred(program, fake, referrals, "bob")
    clock.advance(days=15)

    first = run_referrals(program, referrals, POLICY)
    second = run_referrals(program, referrals, POLICY)

    assert first.rewarded == 1
    assert second == type(second)()
    assert len(rewards.calls) == 1


def test_a_refund_in_the_window_rejects_the_referral(
    program: MembershipProgram, fake: FakeProvider, referrals: MemoryReferrals, clock: Clock
) -> None:
    join(program, fake, "ann")
    referred(program, fake, referrals, "bob")
    clock.advance(days=3)
    program.refund(member(program, "bob").id)
    clock.advance(days=12)

    run = run_referrals(program, referrals, POLICY)

    (rejected,) = referrals.in_status(ReferralStatus.REJECTED, 10)
    assert (run.rejected, rejected.reason) == (1, "refunded")
    assert member(program, "ann").coupon == ""


def test_a_cancellation_in_the_window_rejects_the_referral_once_the_window_is_over(
    program: MembershipProgram, fake: FakeProvider, referrals: MemoryReferrals, clock: Clock
) -> None:
    join(program, fake, "ann")
    referred(program, fake, referrals, "bob")
    clock.advance(days=5)
    program.cancel(member(program, "bob").id, reason="too expensive")

    assert run_referrals(program, referrals, POLICY).rejected == 0
    clock.advance(days=10)
    run_referrals(program, referrals, POLICY)

    (rejected,) = referrals.in_status(ReferralStatus.REJECTED, 10)
    assert rejected.reason == "canceled_in_window"


def test_a_friend_who_cancels_and_resumes_within_the_window_still_counts(
    program: MembershipProgram, fake: FakeProvider, referrals: MemoryReferrals, clock: Clock
) -> None:
    join(program, fake, "ann")
    referred(program, fake, referrals, "bob")
    clock.advance(days=2)
    bob = program.cancel(member(program, "bob").id)
    clock.advance(days=2)
    program.resume(bob.id)
    clock.advance(days=11)

    assert run_referrals(program, referrals, POLICY).qualified == 1


def test_a_cancellation_after_the_window_changes_nothing_even_when_the_job_runs_late(
    program: MembershipProgram, fake: FakeProvider, referrals: MemoryReferrals, clock: Clock
) -> None:
    join(program, fake, "ann")
    referred(program, fake, referrals, "bob")
    clock.advance(days=20)
    program.cancel(member(program, "bob").id)

    assert run_referrals(program, referrals, POLICY).qualified == 1


def test_a_trial_that_ends_unpaid_is_rejected_never_paid(
    program: MembershipProgram, fake: FakeProvider, referrals: MemoryReferrals, clock: Clock
) -> None:
    join(program, fake, "ann")
    referred(program, fake, referrals, "bob", price="gold-trial")
    clock.advance(days=3)
    program.cancel(member(program, "bob").id, at_period_end=False)

    run_referrals(program, referrals, POLICY)

    (rejected,) = referrals.in_status(ReferralStatus.REJECTED, 10)
    assert rejected.reason == "never_paid"


def test_a_trialing_friend_is_not_decided_until_the_window_after_their_first_payment(
    program: MembershipProgram, fake: FakeProvider, referrals: MemoryReferrals, clock: Clock
) -> None:
    referred(program, fake, referrals, "bob", price="gold-trial")
    clock.advance(days=20)

    assert verdict(member(program, "bob"), POLICY, clock()) is None


def test_a_membership_that_vanished_counts_as_never_paid() -> None:
    assert verdict(None, POLICY, NOW) is Rejection.NEVER_PAID


# -- the monthly cap --------------------------------------------------------------------------


def test_rewards_past_the_monthly_cap_are_rejected_and_the_next_month_has_room(
    program: MembershipProgram, fake: FakeProvider, referrals: MemoryReferrals, clock: Clock
) -> None:
    for friend in ("bob", "cy", "dee"):
        referred(program, fake, referrals, friend)
    clock.advance(days=15)

    run = run_referrals(program, referrals, POLICY)

    assert (run.qualified, run.rejected) == (2, 1)
    (capped,) = referrals.in_status(ReferralStatus.REJECTED, 10)
    assert capped.reason == "cap_reached"
    clock.now = datetime(2026, 4, 2, tzinfo=UTC)
    referred(program, fake, referrals, "eve")
    clock.advance(days=15)
    assert run_referrals(program, referrals, POLICY).qualified == 1


def test_parallel_jobs_never_reserve_more_than_the_cap(referrals: MemoryReferrals) -> None:
    ids = []
    for i in range(8):
        ref = referrals.create(Referral(referrals.new_id(), "C", "ann", f"f{i}", f"m{i}", NOW))
        ids.append(ref.id)
    start = threading.Barrier(len(ids))

    def qualify(referral_id: str) -> str:
        start.wait()
        stored = referrals.qualify(referral_id, date(2026, 3, 1), 3, NOW)
        assert stored is not None
        return stored.status.value

    with ThreadPoolExecutor(len(ids)) as pool:
        outcomes = sorted(pool.map(qualify, ids))

    assert outcomes == ["qualified"] * 3 + ["rejected"] * 5


# -- rewards that wait ------------------------------------------------------------------------


def test_a_referrer_without_a_subscription_gets_the_reward_once_they_subscribe(
    program: MembershipProgram, fake: FakeProvider, referrals: MemoryReferrals, clock: Clock
) -> None:
    referred(program, fake, referrals, "bob")
    clock.advance(days=15)

    run = run_referrals(program, referrals, POLICY)
    assert (run.qualified, run.rewarded, run.waiting) == (1, 0, 1)

    join(program, fake, "ann")
    assert run_referrals(program, referrals, POLICY).rewarded == 1
    assert member(program, "ann").coupon.startswith("REFERRAL-")


def test_a_second_reward_waits_until_the_first_free_month_is_over(
    program: MembershipProgram, fake: FakeProvider, referrals: MemoryReferrals, clock: Clock
) -> None:
    ann = join(program, fake, "ann")
    referred(program, fake, referrals, "bob")
    referred(program, fake, referrals, "cy")
    clock.advance(days=15)

    run = run_referrals(program, referrals, POLICY)
    assert (run.rewarded, run.waiting) == (1, 1)
    first_end = member(program, "ann").discount_ends_at
    assert first_end is not None

    webhook = fake.renew(ann.provider_subscription_id or "")
    program.handle_webhook("fake", webhook.headers, webhook.body)
    clock.now = first_end + timedelta(minutes=1)
    assert run_referrals(program, referrals, POLICY).rewarded == 1
    assert len(referrals.in_status(ReferralStatus.REWARDED, 10)) == 2


def test_a_reward_found_in_place_is_recorded_without_applying_it_again(
    program: MembershipProgram, fake: FakeProvider, referrals: MemoryReferrals, clock: Clock
) -> None:
    ann = join(program, fake, "ann")
    referral = referred(program, fake, referrals, "bob")
    assert referral is not None
    clock.advance(days=15)
    referrals.qualify(referral.id, date(2026, 3, 1), None, clock())
    # A job died after the provider applied the discount, before recording it.
    program.apply_discount(ann.id, code=reward_code(POLICY, referral), percent_off=100, months=1)
    applied = member(program, "ann")

    assert run_referrals(program, referrals, POLICY).rewarded == 1
    assert member(program, "ann") == applied
