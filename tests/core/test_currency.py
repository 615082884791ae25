"""Currencies: ISO 4217 codes and their minor units."""

from __future__ import annotations

import pytest

from membership_sdk import UnknownCurrency
from membership_sdk.currency import format_amount, minor_units, normalize_currency


@pytest.mark.parametrize(
    ("code", "digits"), [("EUR", 2), ("USD", 2), ("PLN", 2), ("DKK", 2), ("JPY", 0), ("KWD", 3)]
)
def test_minor_units_follow_iso_4217(code: str, digits: int) -> None:
    assert minor_units(code) == digits


@pytest.mark.parametrize(
    ("amount", "code", "shown"),
    [
        (1999, "EUR", "19.99"),
        (500, "USD", "5.00"),
        (4905, "PLN", "49.05"),
        (7500, "DKK", "75.00"),
        (1500, "JPY", "1500"),
        (1234, "KWD", "1.234"),
        (-250, "EUR", "-2.50"),
    ],
)
def test_amounts_in_minor_units_format_as_decimals(amount: int, code: str, shown: str) -> None:
    assert format_amount(amount, code) == shown


def test_codes_are_case_insensitive() -> None:
    assert normalize_currency("dkk") == "DKK"


def test_an_unknown_code_names_itself_and_gives_examples() -> None:
    with pytest.raises(UnknownCurrency, match=r"unknown currency 'ABC'; expected an ISO 4217"):
        minor_units("ABC")
