"""The paywall's Django models, one module per concern, re-exported here.

- :mod:`.catalog`: tiers and prices, edited in the Wagtail admin;
- :mod:`.coupons`: coupon codes and their redemptions;
- :mod:`.members`: memberships, grants, customer links and meter usage (the core's ports);
- :mod:`.inbox`: webhooks stored before they are applied;
- :mod:`.journey`: cancellation answers and trial reminders;
- :mod:`.activity` and :mod:`.at_risk`: days members read, and members at risk;
- :mod:`.ledger`: every change of a membership that matters for the metrics;
- :mod:`.attribution` and :mod:`.experiments`: the page a checkout started from, and A/B
  tests of the paywall;
- :mod:`.feeds`: members' private feed tokens;
- :mod:`.loyalty`: loyalty rewards for paid months, and the awards members received;
- :mod:`.gifts`: gift memberships, their codes and the orders they come from;
- :mod:`.retention`: retention offers shown in the cancel flow, and the answers;
- :mod:`.dunning`: failed-payment episodes and their recovery;
- :mod:`.manual`: the bank-transfer provider's invoices and subscriptions;
- :mod:`.segments`: members' billing countries and saved segments (the Members screen).
- :mod:`.referrals`: members' referral codes, friends' claims and referrals.
- :mod:`.deliveries`: delivery products, their issues, shipping addresses and manifests.
- :mod:`.services`: members' requests of services with a quota (consultations).

See ``docs/wagtail.md`` (Storage and migrations).
"""

from __future__ import annotations

from .activity import ReadingActivity
from .at_risk import AtRisk
from .attribution import Attribution
from .cancellation import CancellationDeclaration
from .catalog import Price, Tier
from .coupons import Coupon, CouponRedemption
from .deliveries import DeliveryIssue, DeliveryProduct, DeliveryRecipient, ShippingAddress
from .dunning import PaymentRecovery
from .experiments import PaywallExposure, PaywallTest, PaywallVariant
from .feeds import FeedToken
from .fields import MEMBER_ID_LENGTH
from .gifts import DjangoGifts, Gift, GiftOrder
from .inbox import WebhookEvent
from .journey import CancellationFeedback, TrialReminder
from .ledger import LedgerEntry
from .loyalty import DjangoLoyalty, LoyaltyAward, LoyaltyReward
from .manual import (
    ManualCustomer,
    ManualInvoice,
    ManualInvoiceCounter,
    ManualPurchase,
    ManualSubscription,
)
from .members import CustomerLink, Grant, Membership, MeterUsage
from .privacy import DjangoErasures, ErasedCustomer, Erasure
from .referrals import DjangoReferrals, Referral, ReferralClaim, ReferralCode
from .retention import RetentionAttempt, configured_offers
from .segments import MemberCountry, SavedSegment
from .services import DjangoServices, ServiceRequest
from .usage import DjangoUsage, UsagePeriod, UsageRate, UsageRecord

__all__ = [
    "MEMBER_ID_LENGTH",
    "AtRisk",
    "Attribution",
    "CancellationDeclaration",
    "CancellationFeedback",
    "Coupon",
    "CouponRedemption",
    "CustomerLink",
    "DeliveryIssue",
    "DeliveryProduct",
    "DeliveryRecipient",
    "DjangoErasures",
    "DjangoGifts",
    "DjangoLoyalty",
    "DjangoReferrals",
    "DjangoServices",
    "DjangoUsage",
    "ErasedCustomer",
    "Erasure",
    "FeedToken",
    "Gift",
    "GiftOrder",
    "Grant",
    "LedgerEntry",
    "LoyaltyAward",
    "LoyaltyReward",
    "ManualCustomer",
    "ManualInvoice",
    "ManualInvoiceCounter",
    "ManualPurchase",
    "ManualSubscription",
    "MemberCountry",
    "Membership",
    "MeterUsage",
    "PaymentRecovery",
    "PaywallExposure",
    "PaywallTest",
    "PaywallVariant",
    "Price",
    "ReadingActivity",
    "Referral",
    "ReferralClaim",
    "ReferralCode",
    "RetentionAttempt",
    "SavedSegment",
    "ServiceRequest",
    "ShippingAddress",
    "Tier",
    "TrialReminder",
    "UsagePeriod",
    "UsageRate",
    "UsageRecord",
    "WebhookEvent",
    "configured_offers",
]
