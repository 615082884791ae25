"""Coupons at checkout: checked before the provider is asked, counted atomically, applied
by the ``fake`` and ``manual`` providers, and put on running subscriptions."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from membership_sdk import (
    Catalog,
    Coupon,
    CouponError,
    MembershipError,
    MembershipProgram,
    MemoryStore,
    Price,
    ProviderError,
    Tier,
)
from membership_sdk.catalog import Duration, Interval
from membership_sdk.discounts import coupon_discount, discounted
from membership_sdk.errors import CatalogError, UnknownTier
from membership_sdk.memory import MemoryRedemptions
from membership_sdk.plugins import get_plugin_manager
from membership_sdk.providers import SubscriptionDiscounts
from membership_sdk.providers.fake import FakeProvider
from membership_sdk.providers.manual import ManualProvider

NOW = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
IDS = {"fake": "p_{}", "manual": "m_{}"}


def ids(slug: str) -> dict[str, str]:
    return {name: pattern.format(slug) for name, pattern in IDS.items()}


def catalog(*coupons: Coupon) -> Catalog:
    return Catalog(
        [Tier("basic", "Basic", rank=1), Tier("gold", "Gold", rank=2)],
        [
            Price("basic-monthly", 500, "EUR", tier="basic", provider_ids=ids("basic")),
            Price("gold-monthly", 1000, "EUR", tier="gold", provider_ids=ids("gold")),
            Price("gold-yearly", 10000, "EUR", Interval.YEAR, tier="gold", provider_ids=ids("gy")),
            Price("gold-usd", 1100, "USD", tier="gold", provider_ids=ids("gusd")),
        ],
        coupons,
    )


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def program_for(cat: Catalog, clock: Clock, **kw: Any) -> MembershipProgram:
    return MembershipProgram(
        cat,
        MemoryStore(),
        pm=get_plugin_manager(load_entrypoints=False),
        provider_config={"fake": {"clock": clock}, "manual": {"clock": clock}},
        development=True,
        clock=clock,
        **kw,
    )


SPRING = Coupon("SPRING", percent_off=50, duration=Duration.REPEATING, months=3)


def checkout(program: MembershipProgram, member: str = "m1", **kw: Any) -> Any:
    options: dict[str, Any] = {"provider": "fake", "success_url": "/ok", "cancel_url": "/no"}
    options.update(kw)
    price = options.pop("price", "gold-monthly")
    return program.start_checkout(member, price, **options)


def pay_fake(program: MembershipProgram, session_id: str) -> None:
    fake = program.providers["fake"]
    assert isinstance(fake, FakeProvider)
    webhook = fake.complete_checkout(session_id)
    program.handle_webhook("fake", webhook.headers, webhook.body)


# -- the coupon in the catalog ------------------------------------------------------------
def test_a_repeating_coupon_needs_its_months() -> None:
    with pytest.raises(CatalogError, match=r"'X'.*months >= 1"):
        Coupon("X", percent_off=10, duration=Duration.REPEATING)


def test_months_are_refused_on_a_coupon_that_lasts_for_ever() -> None:
    with pytest.raises(CatalogError, match="only for a repeating coupon"):
        Coupon("X", percent_off=10, duration=Duration.FOREVER, months=2)


def test_a_coupon_for_an_unknown_tier_is_refused_by_the_catalog() -> None:
    with pytest.raises(UnknownTier, match="'X' is for tier 'platinum'"):
        catalog(Coupon("X", percent_off=10, tiers=("platinum",)))


def test_codes_are_matched_whatever_their_case() -> None:
    cat = catalog(SPRING)
    assert cat.coupon(" spring ") is SPRING


def test_percent_off_rounds_to_the_nearest_minor_unit() -> None:
    assert discounted(999, percent_off=15, amount_off=None) == 849
    assert discounted(500, percent_off=100, amount_off=None) == 0
    assert discounted(500, percent_off=None, amount_off=700) == 0


def test_a_three_month_coupon_discounts_a_yearly_price_for_its_first_year() -> None:
    cat = catalog(SPRING)
    discount = coupon_discount(SPRING, cat.price("gold-yearly"))
    assert (discount.amount, discount.periods) == (5000, 1)
    assert discount.ends_at(NOW) == NOW.replace(year=2027)


# -- why a code is refused ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("coupon", "price", "reason"),
    [
        (Coupon("X", percent_off=10, expires_at=NOW), "gold-monthly", "expired"),
        (Coupon("X", percent_off=10, tiers=("basic",)), "gold-monthly", "not_for_this_plan"),
        (Coupon("X", percent_off=10, prices=("gold-yearly",)), "gold-monthly", "not_for_this_plan"),
        (Coupon("X", amount_off=200, currency="EUR"), "gold-usd", "wrong_currency"),
    ],
)
def test_a_bad_code_is_refused_with_its_reason_before_the_provider_is_asked(
    clock: Clock, coupon: Coupon, price: str, reason: str
) -> None:
    program = program_for(catalog(coupon), clock)
    fake = program.providers["fake"]
    assert isinstance(fake, FakeProvider)
    with pytest.raises(CouponError) as caught:
        checkout(program, price=price, coupon="x")
    assert caught.value.reason == reason
    assert fake.sessions == {}
    assert program.redemptions.count("X", NOW) == 0


@pytest.mark.parametrize("provider", ["fake", "manual"])
def test_a_code_nobody_knows_is_refused_as_unknown(clock: Clock, provider: str) -> None:
    program = program_for(catalog(SPRING), clock)
    with pytest.raises(CouponError) as caught:
        checkout(program, provider=provider, coupon="NOPE")
    assert (caught.value.reason, caught.value.code) == ("unknown", "NOPE")


def test_a_first_time_code_is_refused_to_someone_who_was_a_member(clock: Clock) -> None:
    welcome = Coupon("WELCOME", percent_off=20, first_time_only=True)
    program = program_for(catalog(welcome), clock)
    pay_fake(program, checkout(program).id)
    with pytest.raises(CouponError) as caught:
        checkout(program, price="basic-monthly", coupon="WELCOME", attempt="2")
    assert caught.value.reason == "not_first_time"


def test_a_used_up_code_is_refused_and_the_member_keeps_nothing_reserved(clock: Clock) -> None:
    program = program_for(catalog(Coupon("ONE", percent_off=10, max_redemptions=1)), clock)
    checkout(program, "m1", coupon="ONE")
    with pytest.raises(CouponError) as caught:
        checkout(program, "m2", coupon="ONE")
    assert caught.value.reason == "used_up"
    assert program.redemptions.count("ONE", NOW) == 1


# -- redemptions -------------------------------------------------------------------------------
def test_an_abandoned_checkout_gives_its_redemption_back_when_the_hold_lapses(
    clock: Clock,
) -> None:
    program = program_for(catalog(Coupon("ONE", percent_off=10, max_redemptions=1)), clock)
    checkout(program, "m1", coupon="ONE")
    clock.now += timedelta(hours=25)
    checkout(program, "m2", coupon="ONE")  # m1 never paid: the code is free again
    assert program.redemptions.count("ONE", clock.now) == 1


def test_a_checkout_the_provider_refused_gives_its_redemption_back_at_once(
    clock: Clock,
) -> None:
    program = program_for(catalog(Coupon("ONE", percent_off=10, max_redemptions=1)), clock)
    fake = program.providers["fake"]
    assert isinstance(fake, FakeProvider)
    fake.simulate_outage()
    with pytest.raises(ProviderError):
        checkout(program, "m1", coupon="ONE")
    fake.simulate_outage(None)
    assert program.redemptions.count("ONE", NOW) == 0
    checkout(program, "m2", coupon="ONE")


def test_a_paid_checkout_redeems_the_code_for_good(clock: Clock) -> None:
    program = program_for(catalog(Coupon("ONE", percent_off=10, max_redemptions=1)), clock)
    pay_fake(program, checkout(program, "m1", coupon="ONE").id)
    clock.now += timedelta(days=30)
    assert program.redemptions.count("ONE", clock.now) == 1
    with pytest.raises(CouponError, match="used up"):
        checkout(program, "m2", coupon="ONE")


def test_a_member_who_redeemed_a_code_cannot_use_it_on_a_second_subscription(
    clock: Clock,
) -> None:
    program = program_for(catalog(Coupon("ONE", percent_off=50, max_redemptions=1)), clock)
    pay_fake(program, checkout(program, "m1", coupon="ONE").id)
    (first,) = program.store.memberships.for_member("m1")
    program.cancel(first.id, at_period_end=False)
    with pytest.raises(CouponError) as caught:
        checkout(program, "m1", coupon="ONE", attempt="2")
    assert caught.value.reason == "already_redeemed"


def test_a_member_retrying_a_checkout_counts_once(clock: Clock) -> None:
    program = program_for(catalog(Coupon("TWO", percent_off=10, max_redemptions=2)), clock)
    checkout(program, "m1", coupon="TWO")
    checkout(program, "m1", coupon="two", attempt="again")
    assert program.redemptions.count("TWO", NOW) == 1


def test_parallel_checkouts_never_redeem_more_than_max_redemptions(clock: Clock) -> None:
    program = program_for(catalog(Coupon("FIVE", percent_off=10, max_redemptions=5)), clock)

    def attempt(n: int) -> str:
        try:
            checkout(program, f"m{n}", coupon="FIVE")
        except CouponError as exc:
            return exc.reason
        return "ok"

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(attempt, range(40)))
    assert results.count("ok") == 5
    assert set(results) == {"ok", "used_up"}


def test_memory_redemptions_count_holds_and_redeemed_ones() -> None:
    store = MemoryRedemptions()
    assert store.reserve("A", "m1", 2, NOW, NOW + timedelta(hours=1))
    store.confirm("A", "m2", NOW)
    assert not store.reserve("A", "m3", 2, NOW, NOW + timedelta(hours=1))
    store.release("A", "m1")
    store.release("A", "m2")  # a confirmed redemption stays
    assert store.count("A", NOW) == 1


# -- the fake provider applies it -------------------------------------------------------------
def test_the_fake_subscription_charges_the_discount_then_the_list_price(clock: Clock) -> None:
    program = program_for(catalog(SPRING), clock)
    session = checkout(program, coupon="spring")
    pay_fake(program, session.id)
    [membership] = program.store.memberships.for_member("m1")
    assert (membership.amount, membership.coupon) == (500, "SPRING")
    assert membership.discount_ends_at == datetime(2026, 6, 10, 8, 0, tzinfo=UTC)
    fake = program.providers["fake"]
    assert isinstance(fake, FakeProvider)
    sub = membership.provider_subscription_id or ""
    for _ in range(3):
        webhook = fake.renew(sub)
    program.handle_webhook("fake", webhook.headers, webhook.body)
    [renewed] = program.store.memberships.for_member("m1")
    assert (renewed.amount, renewed.coupon, renewed.discount_ends_at) == (None, "", None)
    assert renewed.charged(1000, clock.now) == 1000


def test_a_once_coupon_on_the_fake_provider_discounts_the_first_month_only(
    clock: Clock,
) -> None:
    program = program_for(catalog(Coupon("HALF", percent_off=50)), clock)
    pay_fake(program, checkout(program, coupon="HALF").id)
    [membership] = program.store.memberships.for_member("m1")
    assert membership.charged(1000, NOW) == 500
    assert membership.charged(1000, datetime(2026, 4, 10, 8, 0, tzinfo=UTC)) == 1000


# -- the manual provider invoices it ----------------------------------------------------------
def test_manual_invoices_the_discounted_amount_then_the_list_price(clock: Clock) -> None:
    program = program_for(catalog(Coupon("HALF", percent_off=50)), clock)
    manual = program.providers["manual"]
    assert isinstance(manual, ManualProvider)
    session = checkout(program, provider="manual", coupon="HALF")
    assert manual.invoice(session.id).amount == 500
    assert "EUR 5.00" in session.instructions
    webhook = manual.confirm_payment(session.id)
    program.handle_webhook("manual", webhook.headers, webhook.body)
    [membership] = program.store.memberships.for_member("m1")
    assert (membership.amount, membership.coupon) == (500, "HALF")
    renewal = manual.issue_renewal(membership.provider_subscription_id or "")
    assert renewal.amount == 1000


def test_manual_renewals_stay_discounted_while_a_repeating_coupon_lasts(clock: Clock) -> None:
    program = program_for(catalog(SPRING), clock)
    manual = program.providers["manual"]
    assert isinstance(manual, ManualProvider)
    session = checkout(program, provider="manual", coupon="SPRING")
    manual.confirm_payment(session.id)
    sub = next(iter(manual.store.live_subscriptions())).id
    amounts = []
    for _ in range(3):
        invoice = manual.issue_renewal(sub)
        amounts.append(invoice.amount)
        manual.confirm_payment(invoice.reference)
    assert amounts == [500, 500, 1000]


# -- a discount on a running subscription -------------------------------------------------------
@pytest.mark.parametrize("provider", ["fake", "manual"])
def test_apply_discount_discounts_the_coming_months_and_stores_the_answer(
    clock: Clock, provider: str
) -> None:
    program = program_for(catalog(), clock)
    session = checkout(program, provider=provider)
    backend = program.providers[provider]
    assert isinstance(backend, SubscriptionDiscounts)
    if isinstance(backend, ManualProvider):
        webhook = backend.confirm_payment(session.id)
    else:
        assert isinstance(backend, FakeProvider)
        webhook = backend.complete_checkout(session.id)
    program.handle_webhook(provider, webhook.headers, webhook.body)
    [membership] = program.store.memberships.for_member("m1")
    after = program.apply_discount(membership.id, code="STAY", percent_off=30, months=2)
    assert (after.amount, after.coupon) == (700, "STAY")
    assert after.discount_ends_at == datetime(2026, 6, 10, 8, 0, tzinfo=UTC)
    assert program.store.memberships.get(membership.id) == after


def test_apply_discount_refuses_terms_that_make_no_sense(clock: Clock) -> None:
    program = program_for(catalog(), clock)
    with pytest.raises(MembershipError, match="exactly one of percent_off or amount_off"):
        program.apply_discount("any", code="STAY", percent_off=10, amount_off=100)
    with pytest.raises(MembershipError, match="months must be >= 1"):
        program.apply_discount("any", code="STAY", percent_off=10, months=0)


# -- metrics count what is paid ---------------------------------------------------------------
def test_mrr_counts_the_discounted_amount_while_the_discount_lasts(clock: Clock) -> None:
    from membership_sdk.metrics import mrr

    program = program_for(catalog(SPRING, Coupon("FREE", percent_off=100)), clock)
    pay_fake(program, checkout(program, "m1", coupon="SPRING").id)
    pay_fake(program, checkout(program, "m2", coupon="FREE").id)
    pay_fake(program, checkout(program, "m3", price="gold-yearly").id)
    members = [m for who in ("m1", "m2", "m3") for m in program.store.memberships.for_member(who)]
    assert mrr(members, program.catalog, NOW) == {"EUR": 500 + 0 + 833}
    later = datetime(2026, 7, 1, tzinfo=UTC)
    assert mrr(members, program.catalog, later) == {"EUR": 1000 + 1000 + 833}


def test_a_fake_state_file_saved_before_discounts_existed_still_loads(tmp_path: Any) -> None:
    import pickle

    state_file = tmp_path / "fake.pickle"
    fake = FakeProvider(state_file=state_file)
    fake.customers["m1"] = "cus_1"
    from membership_sdk.providers.simulated import SimulatedSubscription

    sub = SimulatedSubscription("sub_1", "cus_1", "m1", "p", Interval.MONTH, "active", NOW, NOW)
    for name in ("list_amount", "amount", "coupon", "discount_ends_at"):
        object.__delattr__(sub, name)  # as an older version pickled it
    state = {"customers": {"m1": "cus_1"}, "subscriptions": {"sub_1": sub}}
    state_file.write_bytes(pickle.dumps(state))
    restored = FakeProvider(state_file=state_file)
    snapshot = restored.subscriptions["sub_1"].snapshot()
    assert (snapshot.amount, snapshot.coupon) == (None, "")
