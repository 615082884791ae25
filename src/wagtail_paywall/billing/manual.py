"""Bank transfers on a Wagtail site: what staff and the daily schedule do with the
``manual`` provider (:class:`~membership_sdk.providers.manual.ManualProvider`).

Every change the provider makes is reported as its signed webhook, stored in the webhook
inbox (:func:`wagtail_paywall.billing.inbox.receive`) in the same database transaction
as the change itself: a confirmed transfer is never recorded without its event, nor an
event without the transfer. The caller then has the stored rows processed the usual way
(``wagtail_paywall.tasks.deliver``), so memberships change exactly as they would for a
webhook from outside. See ``docs/manual.md``.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils.translation import gettext as _

from membership_sdk.providers.base import CheckoutSession, Webhook
from membership_sdk.providers.manual import Invoice, ManualProvider, UnknownInvoice

from ..formats import local_date, money
from ..models import WebhookEvent
from ..program import get_program
from . import inbox

PROVIDER = "manual"


class NotConfigured(LookupError):
    """The site does not take bank transfers (``PAYWALL["PROVIDERS"]`` has no ``manual``)."""


def provider() -> ManualProvider:
    """The site's manual provider.

    :raises NotConfigured: the site does not configure it.
    """
    found = get_program().providers.get(PROVIDER)
    if not isinstance(found, ManualProvider):
        raise NotConfigured(
            "the manual (bank transfer) provider is not configured: add "
            "PAYWALL['PROVIDERS']['manual'] to the settings"
        )
    return found


def bank_instructions(manual: ManualProvider, invoice: Invoice) -> str:
    """What the reader is told to do to pay ``invoice`` by bank transfer, in the active
    language, the amount and the due date as that language writes them (the core's
    :meth:`~membership_sdk.providers.manual.ManualProvider.instructions` is the plain
    English default for sites without Django)."""
    return _(
        "Transfer %(amount)s to %(holder)s, IBAN %(iban)s, BIC %(bic)s, quoting "
        "%(reference)s by %(due)s. Access starts when the payment is confirmed."
    ) % {
        "amount": money(invoice.amount, invoice.currency),
        "holder": manual.account_holder,
        "iban": manual.iban,
        "bic": manual.bic,
        "reference": invoice.reference,
        "due": local_date(invoice.due_at),
    }


def session_instructions(session: CheckoutSession) -> str:
    """What the checkout page tells the reader to do for ``session``: translated bank
    transfer instructions when the manual provider opened it (its id is the invoice
    reference), otherwise what the provider said."""
    found = get_program().providers.get(session.provider)
    if isinstance(found, ManualProvider):
        try:
            return bank_instructions(found, found.invoice(session.id))
        except UnknownInvoice:  # not an invoice reference after all
            pass
    return session.instructions


def _store(webhook: Webhook) -> WebhookEvent:
    return inbox.receive(PROVIDER, webhook.headers, webhook.body)


def mark_received(reference: str, paid_at: datetime | None = None) -> WebhookEvent:
    """Record that the transfer quoting ``reference`` arrived; returns the inbox row of
    the event it produced (not processed yet).

    :raises NotConfigured: the site does not take bank transfers.
    :raises ~membership_sdk.providers.manual.UnknownInvoice: no invoice has ``reference``.
    :raises ~membership_sdk.providers.manual.InvoiceClosed: it was paid or voided
        already (marking twice produces one event).
    :raises ProviderError: its subscription ended meanwhile; nothing changed.
    """
    manual = provider()
    with transaction.atomic():
        return _store(manual.confirm_payment(reference, paid_at))


def run_schedule(now: datetime | None = None) -> list[WebhookEvent]:
    """Issue renewal invoices, make unpaid renewals past due and void invoices that ran
    out, as :meth:`~membership_sdk.providers.manual.ManualProvider.run_schedule`
    describes; returns the inbox rows of the events it produced (not processed yet).

    :raises NotConfigured: the site does not take bank transfers.
    """
    rows: list[WebhookEvent] = []
    provider().run_schedule(now, send=lambda webhook: rows.append(_store(webhook)))
    return rows
