"""The paywall's Django models, one module per concern, re-exported here.

- :mod:`.catalog`: tiers and prices, edited in the Wagtail admin;
- :mod:`.members`: memberships, grants, customer links and meter usage (the core's ports);
- :mod:`.inbox`: webhooks stored before they are applied;
- :mod:`.journey`: cancellation answers and trial reminders;
- :mod:`.feeds`: members' private feed tokens;
- :mod:`.manual`: the bank-transfer provider's invoices and subscriptions.

See ``docs/wagtail.md`` (Storage and migrations).
"""

from __future__ import annotations

from .catalog import Price, Tier
from .feeds import FeedToken
from .fields import MEMBER_ID_LENGTH
from .inbox import WebhookEvent
from .journey import CancellationFeedback, TrialReminder
from .manual import (
    ManualCustomer,
    ManualInvoice,
    ManualInvoiceCounter,
    ManualPurchase,
    ManualSubscription,
)
from .members import CustomerLink, Grant, Membership, MeterUsage

__all__ = [
    "MEMBER_ID_LENGTH",
    "CancellationFeedback",
    "CustomerLink",
    "FeedToken",
    "Grant",
    "ManualCustomer",
    "ManualInvoice",
    "ManualInvoiceCounter",
    "ManualPurchase",
    "ManualSubscription",
    "Membership",
    "MeterUsage",
    "Price",
    "Tier",
    "TrialReminder",
    "WebhookEvent",
]
