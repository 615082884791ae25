"""Payment providers.

A provider is an object satisfying :class:`Provider`. Providers register through the
:func:`~membership_sdk.hookspecs.membership_register_providers` hook; the built-in ones
(:mod:`.fake`, :mod:`.manual`, :mod:`.stripe`) take the same path as third-party ones.
Each declares what it reads from its settings in a :class:`SettingsSpec`.
"""

from __future__ import annotations

from .base import (
    CheckoutRequest,
    CheckoutSession,
    ListedSubscription,
    PaidPeriod,
    Pausing,
    PaymentLookup,
    PlanChangePreview,
    PlanChanges,
    ProrationLine,
    Provider,
    PurchaseRefunds,
    Refund,
    RenewalPrices,
    ScheduledCancellation,
    SubscriptionDiscounts,
    SubscriptionListing,
    SubscriptionPage,
    SubscriptionRefunds,
    UsageInvoiceRequest,
    UsageInvoicing,
    UsageReport,
    UsageReporting,
    Webhook,
)
from .settings import Setting, SettingsSpec

__all__ = [
    "CheckoutRequest",
    "CheckoutSession",
    "ListedSubscription",
    "PaidPeriod",
    "Pausing",
    "PaymentLookup",
    "PlanChangePreview",
    "PlanChanges",
    "ProrationLine",
    "Provider",
    "PurchaseRefunds",
    "Refund",
    "RenewalPrices",
    "ScheduledCancellation",
    "Setting",
    "SettingsSpec",
    "SubscriptionDiscounts",
    "SubscriptionListing",
    "SubscriptionPage",
    "SubscriptionRefunds",
    "UsageInvoiceRequest",
    "UsageInvoicing",
    "UsageReport",
    "UsageReporting",
    "Webhook",
]
