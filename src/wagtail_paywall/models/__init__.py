"""The paywall's Django models, one module per concern, re-exported here.

- :mod:`.catalog`: tiers and prices, edited in the Wagtail admin;
- :mod:`.coupons`: coupon codes and their redemptions;
- :mod:`.members`: memberships, grants, customer links and meter usage (the core's ports);
- :mod:`.inbox`: webhooks stored before they are applied;
- :mod:`.journey`: cancellation answers and trial reminders;
- :mod:`.feeds`: members' private feed tokens;
- :mod:`.gifts`: gift memberships, their codes and the orders they come from;
- :mod:`.retention`: retention offers shown in the cancel flow, and the answers;
- :mod:`.dunning`: failed-payment episodes and their recovery;
- :mod:`.manual`: the bank-transfer provider's invoices and subscriptions.

See ``docs/wagtail.md`` (Storage and migrations).
"""

from __future__ import annotations

from .catalog import Price, Tier
from .coupons import Coupon, CouponRedemption
from .dunning import PaymentRecovery
from .feeds import FeedToken
from .fields import MEMBER_ID_LENGTH
from .gifts import DjangoGifts, Gift, GiftOrder
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
from .retention import RetentionAttempt, configured_offers

__all__ = [
    "MEMBER_ID_LENGTH",
    "CancellationFeedback",
    "Coupon",
    "CouponRedemption",
    "CustomerLink",
    "DjangoGifts",
    "FeedToken",
    "Gift",
    "GiftOrder",
    "Grant",
    "ManualCustomer",
    "ManualInvoice",
    "ManualInvoiceCounter",
    "ManualPurchase",
    "ManualSubscription",
    "Membership",
    "MeterUsage",
    "PaymentRecovery",
    "Price",
    "RetentionAttempt",
    "Tier",
    "TrialReminder",
    "WebhookEvent",
    "configured_offers",
]
