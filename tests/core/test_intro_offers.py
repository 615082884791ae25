"""Intro offers: "the first 3 months at €1" on a price, applied by every checkout of it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from test_coupons import NOW, Clock, ids, program_for

from membership_sdk import Catalog, CatalogError, Coupon, InvalidAmount, Price, Tier
from membership_sdk.catalog import Interval
from membership_sdk.discounts import intro_discount
from membership_sdk.providers.fake import FakeProvider
from membership_sdk.providers.manual import ManualProvider

INTRO = Price(
    "gold-monthly",
    900,
    "EUR",
    tier="gold",
    intro_amount=100,
    intro_periods=3,
    provider_ids=ids("g"),
)


def catalog(*coupons: Coupon) -> Catalog:
    return Catalog([Tier("gold", "Gold", rank=1)], [INTRO], coupons)


@pytest.mark.parametrize(
    ("fields", "error", "match"),
    [
        ({"intro_amount": 100}, CatalogError, "needs both intro_amount and intro_periods"),
        ({"intro_amount": 900, "intro_periods": 1}, InvalidAmount, "must be below"),
        ({"intro_amount": -1, "intro_periods": 1}, InvalidAmount, ">= 0"),
        ({"intro_amount": 100, "intro_periods": 2, "trial_days": 7}, CatalogError, "not both"),
    ],
)
def test_an_intro_offer_that_makes_no_sense_is_refused_naming_the_price(
    fields: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match) as caught:
        Price("p", 900, "EUR", tier="gold", **fields)
    assert "'p'" in str(caught.value)


def test_a_one_off_price_has_no_intro_offer() -> None:
    with pytest.raises(CatalogError, match="one-off"):
        Price("p", 900, "EUR", Interval.ONE_OFF, item="x", intro_amount=1, intro_periods=1)


def test_the_intro_offer_is_a_discount_for_its_periods() -> None:
    discount = intro_discount(INTRO)
    assert discount is not None
    assert (discount.amount, discount.periods, discount.off, discount.intro) == (100, 3, 800, True)
    assert discount.describe() == "EUR 1.00 a month for 3 months, then EUR 9.00"


@pytest.fixture
def clock() -> Clock:
    return Clock()


def start(program: Any, provider: str = "fake", **kw: Any) -> Any:
    return program.start_checkout(
        "m1", "gold-monthly", provider=provider, success_url="/ok", cancel_url="/no", **kw
    )


def test_the_fake_provider_charges_the_intro_amount_then_the_list_price(clock: Clock) -> None:
    program = program_for(catalog(), clock)
    fake = program.providers["fake"]
    assert isinstance(fake, FakeProvider)
    webhook = fake.complete_checkout(start(program).id)
    program.handle_webhook("fake", webhook.headers, webhook.body)
    [membership] = program.store.memberships.for_member("m1")
    assert (membership.amount, membership.coupon) == (100, "")
    assert membership.discount_ends_at == datetime(2026, 6, 10, 8, 0, tzinfo=UTC)
    assert membership.charged(900, NOW) == 100
    assert membership.charged(900, datetime(2026, 6, 10, 8, 0, tzinfo=UTC)) == 900


def test_the_manual_provider_invoices_the_intro_amount_for_its_periods(clock: Clock) -> None:
    program = program_for(catalog(), clock)
    manual = program.providers["manual"]
    assert isinstance(manual, ManualProvider)
    first = manual.invoice(start(program, "manual").id)
    manual.confirm_payment(first.reference)
    sub = next(iter(manual.store.live_subscriptions())).id
    amounts = [first.amount]
    for _ in range(3):
        invoice = manual.issue_renewal(sub)
        amounts.append(invoice.amount)
        manual.confirm_payment(invoice.reference)
    assert amounts == [100, 100, 100, 900]


def test_a_code_cheaper_than_the_intro_offer_replaces_it(clock: Clock) -> None:
    program = program_for(catalog(Coupon("FREE", percent_off=100)), clock)
    fake = program.providers["fake"]
    assert isinstance(fake, FakeProvider)
    session = fake.checkout(start(program, coupon="FREE").id)
    assert session.discount is not None
    assert (session.discount.code, session.discount.amount) == ("FREE", 0)


def test_a_code_dearer_than_the_intro_offer_is_not_used_nor_redeemed(clock: Clock) -> None:
    program = program_for(catalog(Coupon("TEN", percent_off=10, max_redemptions=1)), clock)
    fake = program.providers["fake"]
    assert isinstance(fake, FakeProvider)
    session = fake.checkout(start(program, coupon="TEN").id)
    assert session.discount is not None
    assert session.discount.intro
    assert program.redemptions.count("TEN", NOW) == 0
