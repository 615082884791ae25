"""Member prices: a one-off item costs less for members ("€9, members €5"). The catalog
checks them, the member's price follows what they hold as the access decision resolves
it, and the checkout charges it, decided on the server, on the ``fake`` and ``manual``
providers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from membership_sdk import (
    Catalog,
    Coupon,
    CouponError,
    GrantKind,
    MembershipProgram,
    MemoryStore,
    Price,
    Tier,
    resolve_context,
)
from membership_sdk.catalog import Interval
from membership_sdk.discounts import Discount
from membership_sdk.errors import CatalogError, InvalidAmount, UnknownTier
from membership_sdk.member_prices import (
    cheaper,
    member_discount,
    member_priced,
    price_for,
    tier_prices,
)
from membership_sdk.plugins import get_plugin_manager
from membership_sdk.providers.fake import FakeProvider
from membership_sdk.providers.manual import ManualProvider

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
IDS = {"fake": "p_{}", "manual": "m_{}"}
ITEM = "event:summer-meetup"


def ids(slug: str) -> dict[str, str]:
    return {name: pattern.format(slug) for name, pattern in IDS.items()}


def ticket(**member_amounts: int) -> Price:
    return Price(
        "meetup-ticket",
        900,
        "EUR",
        Interval.ONE_OFF,
        item=ITEM,
        provider_ids=ids("ticket"),
        member_amounts=member_amounts,
    )


def catalog(price: Price | None = None, *coupons: Coupon) -> Catalog:
    return Catalog(
        [
            Tier("free", "Free", rank=0),
            Tier("basic", "Basic", rank=1),
            Tier("gold", "Gold", rank=2),
        ],
        [
            Price("basic-monthly", 500, "EUR", tier="basic", provider_ids=ids("basic")),
            Price("gold-monthly", 1000, "EUR", tier="gold", provider_ids=ids("gold")),
            price if price is not None else ticket(basic=500),
        ],
        coupons,
        items={ITEM: "Summer meetup"},
    )


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def program_for(cat: Catalog, clock: Clock) -> MembershipProgram:
    return MembershipProgram(
        cat,
        MemoryStore(),
        pm=get_plugin_manager(load_entrypoints=False),
        provider_config={"fake": {"clock": clock}, "manual": {"clock": clock}},
        development=True,
        clock=clock,
    )


def fake_of(program: MembershipProgram) -> FakeProvider:
    fake = program.providers["fake"]
    assert isinstance(fake, FakeProvider)
    return fake


def checkout(program: MembershipProgram, member: str = "m1", **kw: Any) -> Any:
    options: dict[str, Any] = {"provider": "fake", "success_url": "/ok", "cancel_url": "/no"}
    options.update(kw)
    price = options.pop("price", "meetup-ticket")
    return program.start_checkout(member, price, **options)


def join(program: MembershipProgram, member: str = "m1", price: str = "basic-monthly") -> str:
    """``member`` pays ``price`` at the fake provider; returns the subscription id."""
    fake = fake_of(program)
    session = checkout(program, member, price=price, attempt="join")
    hook = fake.complete_checkout(session.id)
    program.handle_webhook("fake", hook.headers, hook.body)
    return fake.checkout(session.id).result or ""


def deliver(program: MembershipProgram, hook: Any) -> None:
    program.handle_webhook("fake", hook.headers, hook.body)


# -- the catalog -------------------------------------------------------------------------------
def test_a_member_price_must_be_below_the_list_price() -> None:
    with pytest.raises(InvalidAmount, match=r"'meetup-ticket'.*tier 'basic' \(900\).*900"):
        ticket(basic=900)


@pytest.mark.parametrize("amount", [0, -5, 4.5, True, "500"])
def test_a_member_price_must_be_a_positive_whole_number_of_minor_units(amount: Any) -> None:
    with pytest.raises(InvalidAmount, match=r"'meetup-ticket'.*tier 'basic'.*positive integer"):
        ticket(basic=amount)


def test_member_prices_are_for_one_off_items_not_for_tier_prices() -> None:
    with pytest.raises(CatalogError, match=r"'basic-monthly'.*one-off item prices"):
        Price("basic-monthly", 500, "EUR", tier="basic", member_amounts={"gold": 300})


def test_the_catalog_refuses_a_member_price_for_a_tier_it_does_not_hold() -> None:
    with pytest.raises(UnknownTier, match=r"'meetup-ticket'.*tier 'platinum'"):
        catalog(ticket(platinum=500))


def test_the_catalog_lists_the_items_with_member_prices_on_sale() -> None:
    cat = catalog()
    assert [p.id for p in member_priced(cat)] == ["meetup-ticket"]
    assert member_priced(cat, "USD") == ()


# -- what a visitor pays ---------------------------------------------------------------------
def test_an_anonymous_visitor_pays_the_list_price() -> None:
    cat = catalog()
    paid = price_for(cat.price("meetup-ticket"), resolve_context(cat, NOW))
    assert (paid.amount, paid.saving, paid.member) == (900, 0, False)


def test_a_registered_reader_without_a_paid_tier_pays_the_list_price() -> None:
    cat = catalog()
    paid = price_for(cat.price("meetup-ticket"), resolve_context(cat, NOW, member_id="m1"))
    assert (paid.amount, paid.tier) == (900, None)


def test_a_member_of_the_tier_pays_the_member_price_and_sees_the_saving(clock: Clock) -> None:
    program = program_for(catalog(), clock)
    join(program)
    paid = price_for(program.catalog.price("meetup-ticket"), program.context("m1"))
    assert (paid.amount, paid.saving, paid.tier) == (500, 400, "basic")


def test_a_member_of_a_higher_ranked_tier_gets_the_lower_tiers_member_price(
    clock: Clock,
) -> None:
    program = program_for(catalog(), clock)
    join(program, price="gold-monthly")
    paid = price_for(program.catalog.price("meetup-ticket"), program.context("m1"))
    assert (paid.amount, paid.tier) == (500, "basic")


def test_a_member_of_a_lower_ranked_tier_pays_the_list_price(clock: Clock) -> None:
    program = program_for(catalog(ticket(gold=300)), clock)
    join(program, price="basic-monthly")
    paid = price_for(program.catalog.price("meetup-ticket"), program.context("m1"))
    assert paid.amount == 900


def test_a_member_who_qualifies_for_several_member_prices_pays_the_lowest(clock: Clock) -> None:
    program = program_for(catalog(ticket(basic=500, gold=300)), clock)
    join(program, price="gold-monthly")
    paid = price_for(program.catalog.price("meetup-ticket"), program.context("m1"))
    assert (paid.amount, paid.tier) == (300, "gold")


def test_a_comp_of_the_tier_gives_the_member_price(clock: Clock) -> None:
    program = program_for(catalog(), clock)
    program.grant("m1", GrantKind.COMP, tier="basic", days=30)
    paid = price_for(program.catalog.price("meetup-ticket"), program.context("m1"))
    assert paid.amount == 500


def test_a_member_price_of_the_free_tier_is_for_every_signed_in_reader() -> None:
    cat = catalog(ticket(free=700))
    signed_in = price_for(cat.price("meetup-ticket"), resolve_context(cat, NOW, member_id="m1"))
    anonymous = price_for(cat.price("meetup-ticket"), resolve_context(cat, NOW))
    assert (signed_in.amount, anonymous.amount) == (700, 900)


def test_the_pricing_page_shows_what_each_tier_pays_by_rank() -> None:
    cat = catalog(ticket(gold=600, basic=500))
    rows = [(r.tier, r.amount, r.saving) for r in tier_prices(cat.price("meetup-ticket"), cat)]
    # Gold members pay Basic's lower price: they hold a tier ranked at least as high.
    assert rows == [("basic", 500, 400), ("gold", 500, 400)]


# -- a lapsed member pays the list price -----------------------------------------------------
def test_an_expired_member_pays_the_list_price(clock: Clock) -> None:
    program = program_for(catalog(), clock)
    sub = join(program)
    deliver(program, fake_of(program).expire(sub))
    assert price_for(program.catalog.price("meetup-ticket"), program.context("m1")).amount == 900


def test_a_member_who_canceled_keeps_the_member_price_until_the_paid_period_ends(
    clock: Clock,
) -> None:
    program = program_for(catalog(), clock)
    join(program)
    [membership] = program.store.memberships.for_member("m1")
    program.cancel(membership.id, at_period_end=True)
    price = program.catalog.price("meetup-ticket")
    assert price_for(price, program.context("m1")).amount == 500
    clock.now += timedelta(days=40)
    assert price_for(price, program.context("m1")).amount == 900


def test_a_member_who_canceled_at_once_pays_the_list_price(clock: Clock) -> None:
    program = program_for(catalog(), clock)
    join(program)
    [membership] = program.store.memberships.for_member("m1")
    program.cancel(membership.id, at_period_end=False)
    assert price_for(program.catalog.price("meetup-ticket"), program.context("m1")).amount == 900


def test_a_past_due_member_keeps_the_member_price_through_the_grace_period_only(
    clock: Clock,
) -> None:
    program = program_for(catalog(), clock)
    sub = join(program)
    clock.now += timedelta(days=31)
    deliver(program, fake_of(program).fail_payment(sub))
    price = program.catalog.price("meetup-ticket")
    assert price_for(price, program.context("m1")).amount == 500  # within 3 days of grace
    clock.now += timedelta(days=3)
    assert price_for(price, program.context("m1")).amount == 900


# -- the checkout charges it -----------------------------------------------------------------
def test_a_member_checks_out_at_the_member_price_on_the_fake_provider(clock: Clock) -> None:
    program = program_for(catalog(), clock)
    join(program)
    session = checkout(program, attempt="buy")
    fake = fake_of(program)
    sold = fake.checkout(session.id)
    assert (sold.amount, sold.discount and sold.discount.member_tier) == (500, "basic")
    deliver(program, fake.complete_checkout(session.id))
    assert ITEM in program.context("m1").purchases
    assert fake.purchase_amount(sold.result or "") == (500, "EUR")


def test_a_member_is_invoiced_the_member_price_on_the_manual_provider(clock: Clock) -> None:
    program = program_for(catalog(), clock)
    join(program)
    session = checkout(program, provider="manual", attempt="buy")
    manual = program.providers["manual"]
    assert isinstance(manual, ManualProvider)
    assert session.amount == 500
    assert manual.invoice(session.id).amount == 500


@pytest.mark.parametrize("provider", ["fake", "manual"])
def test_a_visitor_who_is_no_member_is_charged_the_list_price(clock: Clock, provider: str) -> None:
    program = program_for(catalog(), clock)
    session = checkout(program, provider=provider)
    if provider == "fake":
        assert fake_of(program).checkout(session.id).amount == 900
    else:
        assert session.amount == 900


def test_an_expired_member_is_charged_the_list_price(clock: Clock) -> None:
    program = program_for(catalog(), clock)
    deliver(program, fake_of(program).expire(join(program)))
    session = checkout(program, attempt="buy")
    assert fake_of(program).checkout(session.id).amount == 900


def test_joining_between_two_tries_of_one_checkout_gives_a_new_session_at_the_member_price(
    clock: Clock,
) -> None:
    program = program_for(catalog(), clock)
    before = checkout(program, attempt="same")
    join(program)
    after = checkout(program, attempt="same")
    assert before.id != after.id
    assert fake_of(program).checkout(after.id).amount == 500


# -- coupons and member prices never combine ----------------------------------------------------
def test_the_cheaper_of_a_member_price_and_a_coupon_applies_never_both() -> None:
    def discount(amount: int, **kw: Any) -> Discount:
        return Discount("p", 900, amount, "EUR", Interval.ONE_OFF, 1, **kw)

    member = discount(500, member_tier="basic")
    assert cheaper(member, discount(400, code="HALF")) == discount(400, code="HALF")
    assert cheaper(member, discount(600, code="SOME")) is member
    assert cheaper(member, discount(500, code="SAME")) is member  # the member price on a tie
    assert cheaper(None, discount(400, code="HALF")) == discount(400, code="HALF")


def test_a_catalog_coupon_is_not_for_an_item_even_with_a_member_price(clock: Clock) -> None:
    program = program_for(catalog(None, Coupon("SPRING", percent_off=50)), clock)
    join(program)
    with pytest.raises(CouponError) as caught:
        checkout(program, coupon="SPRING", attempt="buy")
    assert caught.value.reason == "not_for_this_plan"
    assert program.redemptions.count("SPRING", clock.now) == 0


def test_a_code_the_catalog_does_not_know_does_not_combine_with_a_member_price(
    clock: Clock,
) -> None:
    program = program_for(catalog(), clock)
    join(program)
    fake = fake_of(program)
    opened = len(fake.sessions)
    with pytest.raises(CouponError, match=r"member price for tier 'basic'") as caught:
        checkout(program, coupon="PROMO-ONLY-AT-STRIPE", attempt="buy")
    assert caught.value.reason == "not_for_this_plan"
    assert len(fake.sessions) == opened


def test_the_member_discount_names_the_tier_and_takes_the_saving_off_once(clock: Clock) -> None:
    program = program_for(catalog(), clock)
    join(program)
    discount = member_discount(program.catalog.price("meetup-ticket"), program.context("m1"))
    assert discount is not None
    assert (discount.member_tier, discount.amount, discount.amount_off, discount.periods) == (
        "basic",
        500,
        400,
        1,
    )
    assert not discount.intro
    assert not discount.code
