"""Entitlements: keys with optional quotas, and how quotas of one key merge."""

from __future__ import annotations

import pytest

from membership_sdk import CatalogError, Entitlement, Period, Quota
from membership_sdk.entitlements import merge_quotas


def test_a_bare_key_parses_to_an_unlimited_entitlement() -> None:
    assert Entitlement.parse("content.premium") == Entitlement("content.premium")


def test_a_quota_spec_parses_to_limit_and_period() -> None:
    assert Entitlement.parse("downloads: 10 per month") == Entitlement(
        "downloads", Quota(10, Period.MONTH)
    )


@pytest.mark.parametrize("period", ["day", "week", "month", "year"])
def test_every_period_is_understood(period: str) -> None:
    parsed = Entitlement.parse(f"downloads: 2 per {period}")
    assert parsed.quota == Quota(2, Period(period))


def test_whitespace_around_a_spec_is_tolerated() -> None:
    assert Entitlement.parse("  downloads :  5 per week ") == Entitlement(
        "downloads", Quota(5, Period.WEEK)
    )


def test_an_entitlement_prints_as_its_spec() -> None:
    assert str(Entitlement.parse("downloads: 10 per month")) == "downloads: 10 per month"
    assert str(Entitlement("course.python-101")) == "course.python-101"


def test_parsing_an_entitlement_returns_it_unchanged() -> None:
    ent = Entitlement("downloads", Quota(1))
    assert Entitlement.parse(ent) is ent


@pytest.mark.parametrize(
    "spec", ["downloads: ten per month", "downloads: 10 per fortnight", "downloads 10", ""]
)
def test_an_unparsable_spec_is_rejected_naming_it(spec: str) -> None:
    with pytest.raises(CatalogError, match="invalid entitlement"):
        Entitlement.parse(spec)


@pytest.mark.parametrize("key", ["Content", "-x", "has space", ""])
def test_an_invalid_key_is_rejected_naming_it(key: str) -> None:
    with pytest.raises(CatalogError, match=f"invalid entitlement key {key!r}"):
        Entitlement(key)


@pytest.mark.parametrize("limit", [0, -1, True])
def test_a_quota_limit_must_be_a_positive_integer(limit: int) -> None:
    with pytest.raises(CatalogError, match="quota limit must be a positive integer"):
        Quota(limit)


def test_an_unlimited_grant_beats_any_quota() -> None:
    assert merge_quotas(None, Quota(10)) is None
    assert merge_quotas(Quota(10), None) is None


def test_of_two_quotas_over_one_period_the_larger_wins() -> None:
    assert merge_quotas(Quota(3), Quota(10)) == Quota(10)
    assert merge_quotas(Quota(10), Quota(3)) == Quota(10)


def test_of_two_quotas_over_different_periods_the_more_generous_rate_wins() -> None:
    daily = Quota(2, Period.DAY)  # about 60 a month
    monthly = Quota(10, Period.MONTH)
    assert merge_quotas(daily, monthly) == daily
    assert merge_quotas(monthly, Quota(100, Period.YEAR)) == monthly
