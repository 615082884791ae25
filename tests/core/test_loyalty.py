"""Loyalty: rewards for the months a member paid, given once per member and reward."""

from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from membership_sdk import (
    Catalog,
    CouponError,
    MembershipError,
    MembershipProgram,
    Status,
    hookimpl,
)
from membership_sdk.catalog import Coupon, Duration
from membership_sdk.loyalty import (
    REFUND_REASONS,
    Award,
    CodeNotUsable,
    LoyaltyError,
    LoyaltyReward,
    MemoryLoyalty,
    Tenure,
    due_rewards,
    give_rewards,
    paid_span,
    personal_code,
    standing,
    tenure,
    use_on_membership,
    why_not_on,
)
from membership_sdk.membership import Membership
from membership_sdk.providers.fake import FakeProvider
from membership_sdk.testing import sample_catalog, sample_program

START = datetime(2024, 3, 10, 9, 0, tzinfo=UTC)


def months(n: int, start: datetime = START) -> datetime:
    index = start.month - 1 + n
    return start.replace(year=start.year + index // 12, month=index % 12 + 1)


def membership(
    id: str = "ms1",
    *,
    status: Status = Status.ACTIVE,
    started: datetime = START,
    paid_to: datetime | None = None,
    period_end: datetime | None = None,
    **fields: Any,
) -> Membership:
    return Membership(
        id=id,
        member_id="m1",
        tier="gold",
        status=status,
        provider="fake",
        started_at=started,
        paid_through=paid_to,
        current_period_end=period_end if period_end is not None else paid_to,
        **fields,
    )


COUPON = Coupon("LOYAL20", percent_off=20, duration=Duration.ONCE, name="20% off a year")
YEAR_COUPON = LoyaltyReward("year-one", "20% off a year", 12, coupon=COUPON)
ARCHIVE = LoyaltyReward("archive", "The archive", 24, entitlement="downloads.archive")


# -- tenure -------------------------------------------------------------------------------------


def test_a_member_who_never_paid_has_no_tenure() -> None:
    assert tenure([], months(5)) == Tenure(None, 0)


def test_tenure_counts_the_paid_months_and_the_member_since_date() -> None:
    active = membership(paid_to=months(32))

    standing_now = tenure([active], months(31))

    assert standing_now.member_since == START
    assert standing_now.paid_months == 31


def test_time_paid_in_advance_counts_only_once_it_has_passed() -> None:
    yearly = membership(paid_to=months(12))

    assert tenure([yearly], months(1)).paid_months == 1


def test_trial_days_do_not_count() -> None:
    trial_end = START + timedelta(days=14)
    converted = membership(trial_end=trial_end, paid_to=months(12, trial_end))

    standing_now = tenure([converted], months(12))

    assert standing_now.member_since == trial_end
    assert standing_now.paid_months == 11


def test_a_trial_running_has_no_tenure() -> None:
    trialing = membership(status=Status.TRIALING, trial_end=months(1), paid_to=None)

    assert tenure([trialing], START + timedelta(days=10)) == Tenure(None, 0)


def test_an_unpaid_past_due_period_does_not_count() -> None:
    past_due = membership(status=Status.PAST_DUE, paid_to=months(6), period_end=months(7))

    assert tenure([past_due], months(9)).paid_months == 6


def test_a_pause_counts_only_the_period_paid_before_it() -> None:
    paused = membership(
        status=Status.PAUSED, paid_to=months(4), paused_until=months(7), period_end=months(4)
    )

    assert tenure([paused], months(6)).paid_months == 4


def test_a_past_pause_passed_as_a_break_does_not_count() -> None:
    resumed = membership(paid_to=months(13))

    standing_now = tenure([resumed], months(12), breaks=[(months(4), months(7))])

    assert standing_now.paid_months == 9


def test_gaps_between_memberships_do_not_count() -> None:
    first = membership("a", status=Status.CANCELED, paid_to=months(5))
    second = membership("b", started=months(10), paid_to=months(15))

    standing_now = tenure([second, first], months(14))

    assert standing_now.member_since == START
    assert standing_now.paid_months == 5 + 4


def test_two_memberships_paid_at_the_same_time_count_once() -> None:
    one = membership("a", paid_to=months(7))
    other = membership("b", started=months(2), paid_to=months(7))

    assert tenure([one, other], months(6)).paid_months == 6


def test_leftover_days_of_several_memberships_add_up_to_months() -> None:
    first = membership("a", status=Status.CANCELED, paid_to=START + timedelta(days=20))
    second = membership(
        "b",
        started=months(3),
        status=Status.CANCELED,
        paid_to=months(3) + timedelta(days=20),
    )

    assert tenure([first, second], months(8)).paid_months == 1


def test_a_membership_canceled_at_once_counts_up_to_its_end() -> None:
    ended = membership(status=Status.CANCELED, paid_to=months(6), period_end=months(5))

    assert tenure([ended], months(9)).paid_months == 5


def test_a_withdrawal_counts_nothing() -> None:
    withdrawn = membership(
        status=Status.CANCELED,
        paid_to=months(1),
        period_end=START + timedelta(days=3),
        cancel_reason="withdrawal",
    )

    assert paid_span(withdrawn, months(2)) is None


def test_a_refund_ends_the_paid_time_when_it_was_made() -> None:
    refunded = membership(
        paid_to=months(7),
        cancel_at_period_end=True,
        canceled_at=months(6) + timedelta(days=1),
        cancel_reason="a full refund of pi_6",
    )

    assert tenure([refunded], months(7)).paid_months == 6


def test_an_incomplete_membership_counts_nothing() -> None:
    assert paid_span(membership(status=Status.INCOMPLETE, paid_to=None), months(3)) is None


def test_the_programs_refund_is_read_as_a_refund() -> None:
    program = sample_program(sample_catalog("fake", monthly="fake_gold"))
    fake = program.providers["fake"]
    assert isinstance(fake, FakeProvider)
    session = program.start_checkout(
        "m1", "gold-monthly", provider="fake", success_url="/", cancel_url="/"
    )
    webhook = fake.complete_checkout(session.id)
    program.handle_webhook("fake", webhook.headers, webhook.body)
    [paid] = program.store.memberships.for_member("m1")

    _, after = program.refund(paid.id)

    # Refunded the moment it started: no paid time, though access lasts the period.
    assert after.cancel_reason.startswith(REFUND_REASONS)
    assert after.current_period_end is not None
    assert paid_span(after, after.current_period_end) is None


# -- rewards --------------------------------------------------------------------------------------


def test_a_reward_is_an_entitlement_or_a_coupon_never_both() -> None:
    with pytest.raises(LoyaltyError, match="exactly one of an entitlement or a coupon"):
        LoyaltyReward("both", "Both", 12, entitlement="downloads.archive", coupon=COUPON)
    with pytest.raises(LoyaltyError, match="exactly one"):
        LoyaltyReward("none", "None", 12)


@pytest.mark.parametrize("after", [0, -1, True, 1.5])
def test_a_reward_comes_after_at_least_one_whole_month(after: Any) -> None:
    with pytest.raises(LoyaltyError, match="after_months must be a whole number >= 1"):
        LoyaltyReward("early", "Early", after, entitlement="downloads.archive")


def test_a_reward_names_a_valid_entitlement_and_key() -> None:
    with pytest.raises(LoyaltyError, match="'bad one'"):
        LoyaltyReward("bad", "Bad", 3, entitlement="bad one")
    with pytest.raises(LoyaltyError, match="invalid loyalty reward key"):
        LoyaltyReward("a:b", "Bad", 3, entitlement="downloads")


def test_days_are_only_for_an_entitlement() -> None:
    with pytest.raises(LoyaltyError, match="days must be >= 1 and only with an entitlement"):
        LoyaltyReward("c", "C", 3, coupon=COUPON, days=30)


def test_rewards_are_due_once_their_months_are_paid() -> None:
    rewards = [ARCHIVE, YEAR_COUPON]

    assert due_rewards(rewards, Tenure(START, 11)) == []
    assert due_rewards(rewards, Tenure(START, 12)) == [YEAR_COUPON]
    assert due_rewards(rewards, Tenure(START, 30)) == [YEAR_COUPON, ARCHIVE]
    assert due_rewards(rewards, Tenure(START, 30), ["year-one"]) == [ARCHIVE]


def test_the_standing_names_the_next_reward_and_the_months_to_go() -> None:
    received = Award("m1", "year-one", months(12), 12, coupon_code="LOYAL20-ABCDEFGH")

    now = standing([ARCHIVE, YEAR_COUPON], Tenure(START, 21), [received])

    assert now.received == (received,)
    assert now.due == ()
    assert (now.next, now.months_to_next) == (ARCHIVE, 3)


def test_a_personal_code_is_for_one_member_and_one_redemption() -> None:
    code = personal_code(YEAR_COUPON, "m1")

    assert code.code.startswith("LOYAL20-")
    assert (code.member_id, code.max_redemptions, code.percent_off) == ("m1", 1, 20)
    assert personal_code(YEAR_COUPON, "m1").code != code.code


# -- giving ---------------------------------------------------------------------------------


class Rewarded:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    @hookimpl
    def membership_loyalty_rewarded(
        self, member_id: str, reward: LoyaltyReward, award: Award, tenure: Tenure
    ) -> None:
        self.calls.append({"member_id": member_id, "reward": reward.key, "award": award})


@pytest.fixture
def rewarded() -> Rewarded:
    return Rewarded()


@pytest.fixture
def loyal(rewarded: Rewarded) -> MembershipProgram:
    """A program whose member m1 has paid 25 months."""
    program = sample_program(sample_catalog("fake", monthly="fake_gold"), plugins=[rewarded])
    program.clock = lambda: months(25)
    program.store.memberships.save(membership(paid_to=months(26)))
    return program


def test_giving_grants_the_entitlement_and_makes_the_personal_code(
    loyal: MembershipProgram, rewarded: Rewarded
) -> None:
    loyalty = MemoryLoyalty()

    given = give_rewards(loyal, loyalty, "m1", [ARCHIVE, YEAR_COUPON])

    assert [a.reward for a in given] == ["year-one", "archive"]
    grant = loyal.store.grants.get(given[1].grant_id)
    assert grant is not None
    assert grant.source == "loyalty:archive:m1"
    assert "downloads.archive" in loyal.context("m1").entitlements
    [coupon] = loyalty.coupons.values()
    assert coupon.code == given[0].coupon_code
    assert coupon.member_id == "m1"
    assert [c["reward"] for c in rewarded.calls] == ["year-one", "archive"]


def test_an_entitlement_reward_with_days_ends_by_itself(loyal: MembershipProgram) -> None:
    month_of_archive = dataclasses.replace(ARCHIVE, days=30)

    [award] = give_rewards(loyal, MemoryLoyalty(), "m1", [month_of_archive])

    grant = loyal.store.grants.get(award.grant_id)
    assert grant is not None
    assert grant.ends_at == months(25) + timedelta(days=30)


def test_giving_twice_gives_each_reward_once(loyal: MembershipProgram, rewarded: Rewarded) -> None:
    loyalty = MemoryLoyalty()
    give_rewards(loyal, loyalty, "m1", [ARCHIVE, YEAR_COUPON])

    again = give_rewards(loyal, loyalty, "m1", [ARCHIVE, YEAR_COUPON])

    assert again == []
    assert len(loyal.store.grants.for_member("m1")) == 1
    assert len(loyalty.coupons) == 1
    assert len(rewarded.calls) == 2


def test_two_jobs_at_once_give_each_reward_once(loyal: MembershipProgram) -> None:
    loyalty = MemoryLoyalty()
    barrier = threading.Barrier(8)

    def job(_: int) -> int:
        barrier.wait()
        # Both read "not received" before either claims: the claim decides.
        return len(give_rewards(loyal, loyalty, "m1", [ARCHIVE], received=()))

    with ThreadPoolExecutor(8) as pool:
        assert sum(pool.map(job, range(8))) == 1
    assert len(loyal.store.grants.for_member("m1")) == 1


def test_a_member_short_of_the_months_gets_nothing(loyal: MembershipProgram) -> None:
    loyal.clock = lambda: months(11)

    assert give_rewards(loyal, MemoryLoyalty(), "m1", [YEAR_COUPON]) == []


def test_a_reward_given_is_kept_when_the_membership_ends(loyal: MembershipProgram) -> None:
    loyalty = MemoryLoyalty()
    [award] = give_rewards(loyal, loyalty, "m1", [ARCHIVE])
    [paid] = loyal.store.memberships.for_member("m1")
    loyal.store.memberships.save(
        paid.replace(status=Status.CANCELED, canceled_at=months(25), current_period_end=months(25))
    )

    assert give_rewards(loyal, loyalty, "m1", [ARCHIVE]) == []
    grant = loyal.store.grants.get(award.grant_id)
    assert grant is not None
    assert grant.active(months(30))


# -- personal codes at checkout -----------------------------------------------------------------


def _catalog_with(coupon: Coupon) -> MembershipProgram:
    sample = sample_catalog("fake", monthly="fake_gold")
    catalog = Catalog(sample.tiers, sample.prices, (*sample.coupons, coupon), items=sample.items)
    return sample_program(catalog)


def test_the_member_may_use_their_personal_code_at_checkout() -> None:
    program = _catalog_with(personal_code(YEAR_COUPON, "m1", code="LOYAL20-MINE"))

    session = program.start_checkout(
        "m1",
        "gold-monthly",
        provider="fake",
        success_url="/",
        cancel_url="/",
        coupon="loyal20-mine",
    )

    assert session.id


def test_another_member_cannot_use_a_personal_code() -> None:
    program = _catalog_with(personal_code(YEAR_COUPON, "m1", code="LOYAL20-MINE"))

    with pytest.raises(CouponError) as caught:
        program.start_checkout(
            "m2",
            "gold-monthly",
            provider="fake",
            success_url="/",
            cancel_url="/",
            coupon="LOYAL20-MINE",
        )

    assert caught.value.reason == "unknown"
    assert "m1" not in str(caught.value)


# -- personal codes on a running membership -----------------------------------------------------


def _paying(program: MembershipProgram, member_id: str = "m1") -> Membership:
    """``member_id`` subscribed to gold monthly through the fake provider and paid."""
    session = program.start_checkout(
        member_id, "gold-monthly", provider="fake", success_url="/", cancel_url="/"
    )
    fake = program.providers["fake"]
    assert isinstance(fake, FakeProvider)
    webhook = fake.complete_checkout(session.id)
    program.handle_webhook("fake", webhook.headers, webhook.body)
    [paying] = program.store.memberships.for_member(member_id)
    return paying


def test_a_paying_member_puts_their_personal_code_on_their_membership() -> None:
    program = _catalog_with(personal_code(YEAR_COUPON, "m1", code="LOYAL20-MINE"))
    paying = _paying(program)
    list_amount = program.catalog.price("gold-monthly").amount

    after = use_on_membership(program, "m1", paying.id, "loyal20-mine")

    assert after.coupon == "LOYAL20-MINE"
    assert after.amount == list_amount * 80 // 100
    assert after.discount_ends_at is not None  # once: the next monthly payment only
    assert program.redemptions.redeemed("LOYAL20-MINE", "m1")


def test_a_code_used_on_the_membership_is_refused_at_checkout_and_on_it_again() -> None:
    program = _catalog_with(personal_code(YEAR_COUPON, "m1", code="LOYAL20-MINE"))
    paying = _paying(program)
    use_on_membership(program, "m1", paying.id, "LOYAL20-MINE")

    with pytest.raises(CouponError) as at_checkout:
        program.start_checkout(
            "m1", "gold-monthly", provider="fake", success_url="/", cancel_url="/",
            coupon="LOYAL20-MINE",
        )  # fmt: skip
    with pytest.raises(CouponError) as again:
        use_on_membership(program, "m1", paying.id, "LOYAL20-MINE")

    assert at_checkout.value.reason == again.value.reason == "already_redeemed"


def test_another_members_code_or_membership_is_refused_and_nothing_changes() -> None:
    program = _catalog_with(personal_code(YEAR_COUPON, "m1", code="LOYAL20-MINE"))
    mine = _paying(program)
    theirs = _paying(program, "m2")

    with pytest.raises(CouponError) as not_their_code:
        use_on_membership(program, "m2", theirs.id, "LOYAL20-MINE")
    with pytest.raises(MembershipError, match="has no membership"):
        use_on_membership(program, "m2", mine.id, "LOYAL20-MINE")

    assert not_their_code.value.reason == "unknown"
    assert program.store.memberships.get(mine.id) == mine
    assert program.store.memberships.get(theirs.id) == theirs
    assert not program.redemptions.redeemed("LOYAL20-MINE", "m1")


def test_a_catalog_coupon_for_checkouts_is_not_a_personal_code() -> None:
    program = _catalog_with(Coupon("EVERYONE", percent_off=10))
    paying = _paying(program)

    with pytest.raises(CouponError) as refused:
        use_on_membership(program, "m1", paying.id, "EVERYONE")

    assert refused.value.reason == "unknown"


def test_a_membership_with_a_discount_running_is_refused_as_providers_replace_it() -> None:
    program = _catalog_with(personal_code(YEAR_COUPON, "m1", code="LOYAL20-MINE"))
    paying = _paying(program)
    staying = program.apply_discount(paying.id, code="STAY", percent_off=30, months=3)

    with pytest.raises(CodeNotUsable) as refused:
        use_on_membership(program, "m1", paying.id, "LOYAL20-MINE")

    assert refused.value.reason == "discount_running"
    assert program.store.memberships.get(paying.id) == staying
    assert not program.redemptions.redeemed("LOYAL20-MINE", "m1")


def test_a_membership_canceling_at_its_period_end_cannot_take_a_code() -> None:
    program = _catalog_with(personal_code(YEAR_COUPON, "m1", code="LOYAL20-MINE"))
    paying = _paying(program)
    program.store.memberships.save(paying.replace(cancel_at_period_end=True))

    with pytest.raises(CodeNotUsable) as refused:
        use_on_membership(program, "m1", paying.id, "LOYAL20-MINE")

    assert refused.value.reason == "not_live"


def test_a_provider_that_cannot_discount_a_running_subscription_is_named() -> None:
    program = _catalog_with(personal_code(YEAR_COUPON, "m1", code="LOYAL20-MINE"))
    elsewhere = _paying(program).replace(provider="elsewhere")

    assert why_not_on(program, elsewhere) == "unsupported"


def test_a_repeating_code_discounts_its_months_and_a_forever_code_for_ever() -> None:
    three = Coupon("LOYAL3", percent_off=10, duration=Duration.REPEATING, months=3)
    ever = Coupon("LOYALX", percent_off=10, duration=Duration.FOREVER)
    program = _catalog_with(
        personal_code(LoyaltyReward("r3", "Three", 12, coupon=three), "m1", code="LOYAL3-A")
    )
    paying = _paying(program)
    after = use_on_membership(program, "m1", paying.id, "LOYAL3-A")
    forever = _catalog_with(
        personal_code(LoyaltyReward("rx", "Ever", 12, coupon=ever), "m1", code="LOYALX-A")
    )
    paying_too = _paying(forever)
    after_too = use_on_membership(forever, "m1", paying_too.id, "LOYALX-A")

    assert paying.current_period_end is not None
    assert after.discount_ends_at == months(3, paying.current_period_end)
    assert (after_too.coupon, after_too.discount_ends_at) == ("LOYALX-A", None)


def test_a_reward_given_is_kept_after_a_refund_of_the_latest_period(
    loyal: MembershipProgram,
) -> None:
    loyalty = MemoryLoyalty()
    [award] = give_rewards(loyal, loyalty, "m1", [ARCHIVE])
    [paid] = loyal.store.memberships.for_member("m1")
    loyal.store.memberships.save(
        paid.replace(
            cancel_at_period_end=True,
            canceled_at=months(25),
            cancel_reason="a full refund of pi_25",
        )
    )

    assert tenure(loyal.store.memberships.for_member("m1"), months(26)).paid_months == 25
    assert give_rewards(loyal, loyalty, "m1", [ARCHIVE]) == []
    grant = loyal.store.grants.get(award.grant_id)
    assert grant is not None
    assert grant.revoked_at is None
