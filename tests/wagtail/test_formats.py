"""Amounts and dates as the reader's language writes them (docs/wagtail.md, Local formats
and currencies)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.core import mail
from django.template import Context, Template
from django.test import Client
from django.utils import translation
from wagtail.users.models import UserProfile

from membership_sdk import Membership as CoreMembership
from membership_sdk import Status, UnknownCurrency
from membership_sdk.currency import format_amount
from wagtail_paywall.billing.emails import send_membership_email
from wagtail_paywall.formats import babel_locale, local_date, money

NBSP = "\xa0"


@pytest.mark.parametrize(
    ("language", "amount", "currency", "expected"),
    [
        ("de", 1200, "EUR", f"12,00{NBSP}€"),
        ("nl", 1200, "EUR", f"€{NBSP}12,00"),
        ("pl", 5000, "PLN", f"50,00{NBSP}zł"),
        ("da", 9000, "DKK", f"90,00{NBSP}kr."),
        ("en", 1200, "USD", "$12.00"),
        ("en", 1200, "EUR", "€12.00"),
        ("de", 123456, "EUR", f"1.234,56{NBSP}€"),
        ("en", 500, "JPY", "¥500"),
    ],
)
def test_an_amount_is_written_as_its_language_writes_it(
    language: str, amount: int, currency: str, expected: str
) -> None:
    assert money(amount, currency, language) == expected


def test_the_active_language_is_used_by_default() -> None:
    with translation.override("pl"):
        assert money(5000, "PLN") == f"50,00{NBSP}zł"
    with translation.override("en"):
        assert money(5000, "PLN") == "PLN50.00"


def test_a_regional_language_uses_its_region_and_an_unknown_one_falls_back() -> None:
    assert str(babel_locale("de-at")) == "de_AT"
    assert str(babel_locale("pt-br")) == "pt_BR"
    assert str(babel_locale("xx-yy")) == "en"


def test_an_unknown_currency_is_refused_by_name() -> None:
    with pytest.raises(UnknownCurrency, match="'XYZ'"):
        money(100, "XYZ", "en")


def test_machine_output_keeps_the_plain_decimal() -> None:
    """CSV exports use the core's format: no sign, a point, whatever the language."""
    with translation.override("de"):
        assert format_amount(1200, "EUR") == "12.00"


@pytest.mark.parametrize(
    ("language", "expected"),
    [("de", "30. November 2026"), ("pl", "30 listopada 2026"), ("en", "Nov. 30, 2026")],
)
def test_a_date_is_written_as_its_language_writes_it(language: str, expected: str) -> None:
    with translation.override(language):
        assert local_date(datetime.date(2026, 11, 30)) == expected


def test_the_template_filters_format_a_price_and_a_date() -> None:
    template = Template(
        "{% load paywall_tags %}{{ price|money }} | {{ 900|paywall_money:'DKK' }} | "
        "{{ day|local_date }} | {{ none|money }}"
    )
    context = Context(
        {"price": {"amount": 1200, "currency": "EUR"}, "day": datetime.date(2026, 11, 30)}
    )
    with translation.override("nl"):
        assert template.render(context) == (f"€{NBSP}12,00 | DKK{NBSP}9,00 | 30 november 2026 | ")


@pytest.mark.django_db
def test_the_pricing_page_shows_amounts_in_the_readers_language(
    client: Client, catalog: dict[str, Any]
) -> None:
    with translation.override("de"):
        html = client.get("/paywall/pricing/").content.decode()
    assert f"12,00{NBSP}€" in html
    assert "12.00 EUR" not in html


@pytest.mark.django_db
def test_an_email_writes_its_dates_in_the_members_language(
    make_user: Any, program: Any, settings: Any
) -> None:
    """The welcome email of a trial, to a member who reads Polish, dates its end in Polish
    whatever language the sender runs in, on a site that speaks the visitor's language
    (``LocaleMiddleware``; docs/i18n.md)."""
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE,
        "django.middleware.locale.LocaleMiddleware",
    ]
    user = make_user("ania")
    UserProfile.objects.create(user=user, preferred_language="pl")
    trial_end = datetime.datetime(2026, 11, 30, 12, tzinfo=datetime.UTC)
    membership = CoreMembership(
        id="m1",
        member_id=str(user.pk),
        tier="premium",
        status=Status.TRIALING,
        provider="fake",
        trial_end=trial_end,
        current_period_end=trial_end,
    )

    with translation.override("en"):
        assert send_membership_email("welcome", membership)

    assert "30 listopada 2026" in mail.outbox[-1].body
