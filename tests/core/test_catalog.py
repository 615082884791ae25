"""The catalog: immutable tiers and prices, validated when built."""

from __future__ import annotations

import dataclasses

import pytest
from sdk_builders import make_catalog

from membership_sdk import (
    Catalog,
    CatalogError,
    Coupon,
    DuplicateSlug,
    Interval,
    InvalidAmount,
    OfferKind,
    Price,
    Tier,
    UnknownCurrency,
    UnknownPrice,
    UnknownTier,
)


def test_tiers_are_immutable() -> None:
    tier = Tier("basic", "Basic", rank=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        tier.rank = 5  # type: ignore[misc]


def test_prices_are_immutable() -> None:
    price = Price("basic-monthly", 500, "EUR", tier="basic")
    with pytest.raises(dataclasses.FrozenInstanceError):
        price.amount = 1  # type: ignore[misc]


def test_price_keeps_its_own_copy_of_provider_ids() -> None:
    ids = {"stripe": "price_1"}
    price = Price("basic-monthly", 500, "EUR", tier="basic", provider_ids=ids)
    ids["stripe"] = "price_2"
    assert price.provider_ids == {"stripe": "price_1"}


def test_tier_entitlements_are_parsed_from_strings() -> None:
    tier = Tier("basic", "Basic", entitlements=("content.basic", "downloads: 3 per month"))
    assert [str(e) for e in tier.entitlements] == ["content.basic", "downloads: 3 per month"]


def test_currency_code_is_normalised_to_upper_case() -> None:
    assert Price("p", 100, "eur", tier="t").currency == "EUR"


@pytest.mark.parametrize("code", ["EUR", "USD", "PLN", "DKK", "JPY"])
def test_common_currencies_are_accepted(code: str) -> None:
    assert Price("p", 100, code, tier="t").currency == code


@pytest.mark.parametrize("code", ["XXX", "EURO", "", "eu"])
def test_unknown_currency_raises_naming_the_code(code: str) -> None:
    with pytest.raises(UnknownCurrency, match=repr(code)):
        Price("p", 100, code, tier="t")


def test_currency_must_be_a_string() -> None:
    with pytest.raises(UnknownCurrency, match="978"):
        Price("p", 100, 978, tier="t")  # type: ignore[arg-type]


@pytest.mark.parametrize("amount", [0, -1, -500])
def test_zero_or_negative_amount_raises_naming_the_price(amount: int) -> None:
    with pytest.raises(InvalidAmount, match=rf"price 'p'.*must be positive, got {amount}"):
        Price("p", amount, "EUR", tier="t")


@pytest.mark.parametrize("amount", [4.99, "499", True])
def test_amount_must_be_an_integer_number_of_minor_units(amount: object) -> None:
    with pytest.raises(InvalidAmount, match="integer in minor units"):
        Price("p", amount, "EUR", tier="t")  # type: ignore[arg-type]


def test_duplicate_tier_slug_raises_naming_it() -> None:
    with pytest.raises(DuplicateSlug, match="duplicate tier slug 'basic'"):
        Catalog(tiers=[Tier("basic", "Basic"), Tier("basic", "Also basic")])


def test_duplicate_price_id_raises_naming_it() -> None:
    with pytest.raises(DuplicateSlug, match="duplicate price id 'm'"):
        Catalog(
            tiers=[Tier("basic", "Basic", rank=1)],
            prices=[Price("m", 500, "EUR", tier="basic"), Price("m", 600, "EUR", tier="basic")],
        )


def test_one_provider_price_id_used_twice_raises_naming_both_prices() -> None:
    with pytest.raises(DuplicateSlug, match="'price_1' is used by both 'a' and 'b'"):
        Catalog(
            tiers=[Tier("basic", "Basic", rank=1)],
            prices=[
                Price("a", 500, "EUR", tier="basic", provider_ids={"stripe": "price_1"}),
                Price("b", 600, "EUR", tier="basic", provider_ids={"stripe": "price_1"}),
            ],
        )


def test_duplicate_coupon_code_raises_naming_it() -> None:
    with pytest.raises(DuplicateSlug, match="'SPRING'"):
        Catalog(coupons=[Coupon("SPRING", percent_off=10), Coupon("SPRING", percent_off=20)])


def test_duplicate_entitlement_on_a_tier_raises_naming_it() -> None:
    with pytest.raises(DuplicateSlug, match="'downloads'"):
        Tier("basic", "Basic", entitlements=("downloads", "downloads: 3 per month"))


def test_price_of_unknown_tier_raises_naming_price_tier_and_known_tiers() -> None:
    with pytest.raises(UnknownTier, match=r"price 'gold-monthly' is for tier 'gold'.*\['basic'\]"):
        Catalog(
            tiers=[Tier("basic", "Basic", rank=1)],
            prices=[Price("gold-monthly", 900, "EUR", tier="gold")],
        )


@pytest.mark.parametrize("slug", ["Basic", "", "with space", "ümlaut"])
def test_invalid_tier_slug_raises_naming_it(slug: str) -> None:
    with pytest.raises(CatalogError, match="invalid tier slug"):
        Tier(slug, "Name")


def test_negative_rank_is_rejected() -> None:
    with pytest.raises(CatalogError, match="rank must be an integer >= 0, got -1"):
        Tier("basic", "Basic", rank=-1)


def test_price_sells_exactly_one_of_a_tier_or_an_item() -> None:
    with pytest.raises(CatalogError, match="exactly one of tier= or item="):
        Price("p", 100, "EUR")
    with pytest.raises(CatalogError, match="exactly one of tier= or item="):
        Price("p", 100, "EUR", Interval.ONE_OFF, tier="t", item="i")


def test_item_price_must_be_one_off() -> None:
    with pytest.raises(CatalogError, match="an item price must be one_off"):
        Price("p", 100, "EUR", Interval.MONTH, item="ebook")


def test_one_off_price_cannot_have_a_trial() -> None:
    with pytest.raises(CatalogError, match="one-off price cannot have a trial"):
        Price("p", 100, "EUR", Interval.ONE_OFF, tier="t", trial_days=7)


def test_negative_trial_days_are_rejected() -> None:
    with pytest.raises(CatalogError, match="trial_days must be >= 0, got -3"):
        Price("p", 100, "EUR", tier="t", trial_days=-3)


def test_recurring_is_false_only_for_one_off_prices() -> None:
    assert Price("m", 100, "EUR", Interval.MONTH, tier="t").recurring
    assert Price("y", 100, "EUR", Interval.YEAR, tier="t").recurring
    assert not Price("o", 100, "EUR", Interval.ONE_OFF, tier="t").recurring


def test_interval_may_be_given_as_a_string() -> None:
    assert Price("y", 100, "EUR", "year", tier="t").interval is Interval.YEAR  # type: ignore[arg-type]


def test_tiers_are_listed_by_rank() -> None:
    assert [t.slug for t in make_catalog().tiers] == ["free", "basic", "premium"]


def test_unknown_tier_lookup_names_the_tier_and_the_known_ones() -> None:
    with pytest.raises(UnknownTier, match=r"unknown tier 'gold'; known tiers: \['basic'"):
        make_catalog().tier("gold")


def test_unknown_price_lookup_names_the_price() -> None:
    with pytest.raises(
        UnknownPrice, match="unknown price 'gold-monthly': it is not in the catalog"
    ):
        make_catalog().price("gold-monthly")


def test_archived_price_is_unknown_unless_asked_for() -> None:
    catalog = Catalog(
        tiers=[Tier("basic", "Basic", rank=1)],
        prices=[Price("old", 400, "EUR", tier="basic", archived=True)],
    )
    with pytest.raises(UnknownPrice, match="'old': it is archived"):
        catalog.price("old")
    assert catalog.price("old", include_archived=True).amount == 400
    assert catalog.prices_for_tier("basic") == ()


def test_price_for_provider_maps_the_provider_id_or_returns_none_for_a_foreign_one() -> None:
    catalog = make_catalog()
    price = catalog.price_for_provider("acme", "p_basic")
    assert price is not None
    assert price.id == "basic-monthly"
    assert catalog.price_for_provider("acme", "p_other") is None
    assert catalog.price_for_provider("other", "p_basic") is None


def test_free_tier_is_the_lowest_unpriced_tier() -> None:
    free = make_catalog().free_tier
    assert free is not None
    assert free.slug == "free"


def test_catalog_without_an_unpriced_tier_has_no_free_tier() -> None:
    catalog = Catalog(
        tiers=[Tier("basic", "Basic", rank=1)], prices=[Price("m", 100, "EUR", tier="basic")]
    )
    assert catalog.free_tier is None


def test_offers_from_rank_list_priced_tiers_at_or_above_it() -> None:
    offers = make_catalog().offers_from_rank(1)
    assert [(o.kind, o.slug) for o in offers] == [
        (OfferKind.TIER, "basic"),
        (OfferKind.TIER, "premium"),
    ]
    assert [p.id for p in offers[1].prices] == ["premium-monthly", "premium-yearly"]


def test_offers_for_an_entitlement_are_the_tiers_that_carry_it() -> None:
    offers = make_catalog().offers_for_entitlement("content.premium")
    assert [o.slug for o in offers] == ["premium"]


def test_offers_for_an_item_use_its_display_name() -> None:
    (offer,) = make_catalog().offers_for_item("ebook:python")
    assert (offer.kind, offer.name, offer.prices[0].id) == (
        OfferKind.PURCHASE,
        "Python, the e-book",
        "ebook",
    )
    assert make_catalog().offers_for_item("ebook:unknown") == ()


def test_coupon_needs_exactly_one_kind_of_discount() -> None:
    with pytest.raises(CatalogError, match="'X': set exactly one of percent_off or amount_off"):
        Coupon("X")
    with pytest.raises(CatalogError, match="exactly one"):
        Coupon("X", percent_off=10, amount_off=100, currency="EUR")


@pytest.mark.parametrize("percent", [0, 101, -5])
def test_coupon_percent_must_be_between_1_and_100(percent: int) -> None:
    with pytest.raises(InvalidAmount, match=r"'X': percent_off must be 1\.\.100"):
        Coupon("X", percent_off=percent)


def test_coupon_amount_must_be_positive_and_in_a_known_currency() -> None:
    with pytest.raises(InvalidAmount, match="amount_off must be positive"):
        Coupon("X", amount_off=0, currency="EUR")
    with pytest.raises(UnknownCurrency, match="'ZZZ'"):
        Coupon("X", amount_off=100, currency="ZZZ")
    assert Coupon("X", amount_off=100, currency="pln").currency == "PLN"


def test_coupons_are_looked_up_by_code() -> None:
    catalog = Catalog(coupons=[Coupon("SPRING", percent_off=10)])
    coupon = catalog.coupon("SPRING")
    assert coupon is not None
    assert coupon.percent_off == 10
    assert catalog.coupon("AUTUMN") is None
