"""ISO 4217 currencies and their minor units."""

from __future__ import annotations

from .errors import UnknownCurrency

# Minor-unit exponents from ISO 4217. Zero-decimal and three-decimal currencies are
# listed because getting them wrong charges a customer 100x or 1/10 of the price.
MINOR_UNITS: dict[str, int] = {
    "AED": 2, "ARS": 2, "AUD": 2, "BGN": 2, "BHD": 3, "BRL": 2, "CAD": 2, "CHF": 2,
    "CLP": 0, "CNY": 2, "COP": 2, "CZK": 2, "DKK": 2, "EGP": 2, "EUR": 2, "GBP": 2,
    "HKD": 2, "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2, "ISK": 0, "JOD": 3, "JPY": 0,
    "KRW": 0, "KWD": 3, "MXN": 2, "MYR": 2, "NOK": 2, "NZD": 2, "OMR": 3, "PHP": 2,
    "PLN": 2, "RON": 2, "RSD": 2, "SAR": 2, "SEK": 2, "SGD": 2, "THB": 2, "TND": 3,
    "TRY": 2, "TWD": 2, "UAH": 2, "USD": 2, "VND": 0, "ZAR": 2,
}  # fmt: skip


def normalize_currency(code: object) -> str:
    """Return the upper-case ISO 4217 code, or raise :class:`UnknownCurrency`."""
    if not isinstance(code, str) or code.upper() not in MINOR_UNITS:
        raise UnknownCurrency(
            f"unknown currency {code!r}; expected an ISO 4217 code such as 'EUR', 'USD', 'PLN'"
        )
    return code.upper()


def minor_units(code: str) -> int:
    """Number of digits after the decimal point for ``code`` (2 for EUR, 0 for JPY)."""
    return MINOR_UNITS[normalize_currency(code)]


def format_amount(amount: int, code: str) -> str:
    """Format an amount in minor units as a plain decimal string: ``1999, "EUR" -> "19.99"``."""
    exp = minor_units(code)
    if exp == 0:
        return str(amount)
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**exp)
    return f"{sign}{whole}.{frac:0{exp}d}"
