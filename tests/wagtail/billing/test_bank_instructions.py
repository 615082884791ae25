"""Bank-transfer instructions speak the reader's language: the checkout page, the account
page's pending plan change and the payment emails say how to pay in the visitor's (or the
member's) language, the amount and the due date as that language writes them. See
``docs/manual.md``."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import translation
from wagtail.users.models import UserProfile

from membership_sdk import MembershipProgram
from wagtail_paywall.billing.manual import bank_instructions
from wagtail_paywall.formats import local_date
from wagtail_paywall.models import ManualInvoice

from .manual_helpers import Clock, manual_provider, membership_of, receive

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.wagtail.journey_fixtures", "tests.wagtail.billing.manual_fixtures"]

CHECKOUT = "/paywall/checkout/"
ACCOUNT = "/paywall/account/"


@pytest.fixture(autouse=True)
def localised() -> Iterator[None]:
    """A site that serves each visitor in their language (LocaleMiddleware)."""
    middleware = [
        *settings.MIDDLEWARE[:1],
        "django.middleware.locale.LocaleMiddleware",
        *settings.MIDDLEWARE[1:],
    ]
    languages = [("en", "English"), ("de", "Deutsch"), ("nl", "Nederlands"), ("pl", "Polski")]
    with override_settings(MIDDLEWARE=middleware, LANGUAGES=languages):
        yield
    translation.activate(settings.LANGUAGE_CODE)


def test_a_german_reader_is_told_how_to_pay_in_german_with_a_german_amount(
    site: MembershipProgram, reader: Any, login: Callable[..., Client]
) -> None:
    response = login(reader).post(
        CHECKOUT,
        {"price": "supporter-monthly", "provider": "manual"},
        HTTP_ACCEPT_LANGUAGE="de",
    )

    html = response.content.decode()
    invoice = ManualInvoice.objects.get()
    assert response.status_code == 200
    assert "Überweisen Sie 5,00\xa0€ an " in html
    assert f"Verwendungszweck {invoice.reference}, bis " in html
    assert "Transfer" not in html


def test_an_english_reader_sees_the_amount_as_english_writes_it(
    site: MembershipProgram, reader: Any, login: Callable[..., Client]
) -> None:
    response = login(reader).post(CHECKOUT, {"price": "supporter-monthly", "provider": "manual"})

    html = response.content.decode()
    invoice = ManualInvoice.objects.get()
    assert "Transfer €5.00 to Your Publisher Ltd, IBAN " in html
    assert f"quoting {invoice.reference} by " in html


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("nl", "Maak €\xa0120,00 over naar "),
        ("pl", "Przelej 120,00\xa0€ na rachunek "),
        ("da", "Overfør 120,00\xa0€ til "),
    ],
)
def test_the_instructions_are_written_in_each_language_with_its_due_date(
    site: MembershipProgram,
    reader: Any,
    invoice_for: Callable[..., str],
    language: str,
    expected: str,
) -> None:
    manual = manual_provider()
    invoice = manual.invoice(invoice_for(reader))

    with translation.override(language):
        text = bank_instructions(manual, invoice)
        due = local_date(invoice.due_at)

    assert text.startswith(expected)
    assert invoice.reference in text
    assert due in text


def test_a_german_bank_transfer_member_gets_the_payment_failed_email_in_german(
    site: MembershipProgram,
    reader: Any,
    invoice_for: Callable[..., str],
    clock: Clock,
    django_capture_on_commit_callbacks: Any,
) -> None:
    UserProfile.objects.create(user=reader, preferred_language="de")
    receive(invoice_for(reader))
    end = membership_of(reader).current_period_end
    assert end is not None
    clock.now = end - timedelta(days=14)
    call_command("paywall_bank_transfers", stdout=io.StringIO())
    mail.outbox.clear()
    clock.now = end

    with django_capture_on_commit_callbacks(execute=True):
        call_command("paywall_bank_transfers", stdout=io.StringIO())

    (email,) = mail.outbox
    renewal = ManualInvoice.objects.get(state="open")
    assert "Überweisen Sie 120,00\xa0€ an " in email.body
    assert f"Verwendungszweck {renewal.reference}, bis " in email.body
    assert "Transfer" not in email.body


def test_a_pending_bank_transfer_plan_change_is_explained_in_german(
    site: MembershipProgram,
    reader: Any,
    invoice_for: Callable[..., str],
    login: Callable[..., Client],
) -> None:
    receive(invoice_for(reader, "supporter-monthly"))
    site.change_plan(str(membership_of(reader).pk), "premium-yearly")
    invoice = ManualInvoice.objects.get(state="open")

    html = login(reader).get(ACCOUNT, HTTP_ACCEPT_LANGUAGE="de").content.decode()

    assert f'data-pending-invoice="{invoice.reference}"' in html
    assert f"Verwendungszweck {invoice.reference}, bis " in html
    assert "Überweisen Sie " in html
