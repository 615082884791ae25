"""What a member whose payment failed is told: where to fix it and until when access lasts.

:func:`payment_context` fills the ``payment_failed`` and ``payment_reminder`` emails
(:mod:`wagtail_paywall.billing.emails`):

- a provider with a card on file (``fake``, ``stripe``, any with a billing portal):
  ``update_url``, the site's "update your payment method" address
  (``paywall:payment_method``), which opens the fake provider's card page or the
  provider's billing portal for the signed-in member. A portal session expires within
  minutes, so the email carries the site's stable address, never the session's;
- ``manual`` (bank transfer): ``invoice_reference`` and ``bank_instructions`` of the
  open invoice: a transfer cannot be retried, only made;
- every provider: ``grace_ends``, when access ends unless the payment arrives (the last
  paid period's end plus ``PAYWALL["GRACE_DAYS"]``).

See ``docs/dunning.md``.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import timedelta
from typing import Any

from django.urls import NoReverseMatch, reverse
from wagtail.models import Site

from membership_sdk import Membership
from membership_sdk.dunning import grace_ends
from membership_sdk.providers.manual import OPEN, Invoice, ManualProvider

from .. import conf
from ..program import get_program
from .manual import bank_instructions


def _absolute(path: str) -> str:
    site = Site.objects.filter(is_default_site=True).first()
    return f"{site.root_url.rstrip('/')}{path}" if site is not None else path


def open_invoice(provider: ManualProvider, membership: Membership) -> Invoice | None:
    """The open (renewal) invoice of ``membership``'s bank-transfer subscription."""
    subscription = membership.provider_subscription_id
    if not subscription:
        return None
    invoices = provider.store.invoices(state=OPEN, subscription=subscription)
    return invoices[0] if invoices else None


def payment_context(membership: Membership) -> dict[str, Any]:
    """The template context saying how ``membership``'s member pays what is due:
    ``grace_ends`` (or ``None``), then ``update_url`` or, for a bank transfer,
    ``invoice_reference`` and ``bank_instructions`` (empty strings when unknown)."""
    grace = timedelta(days=conf.get("GRACE_DAYS"))
    context: dict[str, Any] = {
        "grace_ends": grace_ends(membership.paid_through, membership.current_period_end, grace),
        "update_url": "",
        "invoice_reference": "",
        "bank_instructions": "",
    }
    provider = get_program().providers.get(membership.provider)
    if isinstance(provider, ManualProvider):
        invoice = open_invoice(provider, membership)
        if invoice is not None:
            context["invoice_reference"] = invoice.reference
            context["bank_instructions"] = bank_instructions(provider, invoice)
        return context
    with suppress(NoReverseMatch):  # a site that does not route the member pages
        context["update_url"] = _absolute(reverse("paywall:payment_method"))
    return context
