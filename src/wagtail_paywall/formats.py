"""Amounts and dates as the reader's language writes them.

:func:`money` is the one place a reader-facing page, email or admin report turns minor units
into text: ``money(1200, "EUR")`` is ``12,00 €`` in German, ``€ 12,00`` in Dutch and
``€12.00`` in English, in the language active at the call (Django's
:func:`~django.utils.translation.get_language`; an email is rendered in the member's
language). :func:`local_date` does the same for dates. Machine output (CSV exports, JSON)
keeps the core's plain :func:`membership_sdk.currency.format_amount` (``12.00``).

See ``docs/wagtail.md`` (Local formats and currencies).
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency
from django.conf import settings
from django.utils import formats, timezone, translation

from membership_sdk.currency import minor_units

__all__ = ["babel_locale", "local_date", "money"]


@lru_cache(maxsize=64)
def _parse(language: str) -> Locale:
    try:
        return Locale.parse(translation.to_locale(language))
    except (UnknownLocaleError, ValueError):
        # "de-xx" -> "de"; a language Babel does not know at all -> English.
        base = language.split("-")[0]
        try:
            return Locale.parse(base)
        except (UnknownLocaleError, ValueError):
            return Locale.parse("en")


def babel_locale(language: str | None = None) -> Locale:
    """The Babel locale of ``language`` (a Django language code such as ``"pt-br"``), by
    default the active one (``LANGUAGE_CODE`` outside a request)."""
    return _parse((language or translation.get_language() or settings.LANGUAGE_CODE).lower())


def money(amount_minor: int, currency: str, language: str | None = None) -> str:
    """``amount_minor`` units of ``currency`` as ``language`` (default: the active language)
    writes them, currency sign included: ``money(5000, "PLN", "pl")`` is ``50,00 zł``.

    The number of decimals is the currency's (ISO 4217: two for EUR, none for JPY); raises
    :class:`~membership_sdk.errors.UnknownCurrency` for a code that is not one.
    """
    exp = minor_units(currency)
    value = Decimal(amount_minor).scaleb(-exp)
    return format_currency(value, currency.upper(), locale=babel_locale(language))


def local_date(value: datetime.date | datetime.datetime, fmt: str = "DATE_FORMAT") -> str:
    """``value`` in the active language's ``DATE_FORMAT`` (``30. November 2026`` in German,
    ``30 listopada 2026`` in Polish); a datetime is first put in the current time zone.
    ``fmt`` may be any of Django's format names (``DATETIME_FORMAT``, ``SHORT_DATE_FORMAT``)."""
    if isinstance(value, datetime.datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        if fmt in ("DATE_FORMAT", "SHORT_DATE_FORMAT"):
            value = value.date()
    return formats.date_format(value, fmt)
