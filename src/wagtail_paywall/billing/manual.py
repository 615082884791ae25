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

from membership_sdk.providers.base import Webhook
from membership_sdk.providers.manual import ManualProvider

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
