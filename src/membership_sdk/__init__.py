"""membership_sdk: tiers, entitlements, memberships, one access decision, billing events
applied idempotently and in any order, and payment providers as pluggy plugins.

Plugins implement hooks with :data:`hookimpl`::

    from membership_sdk import hookimpl

    @hookimpl
    def membership_activated(membership, event):
        send_welcome_mail(membership.member_id)
"""

from __future__ import annotations

from .access import (
    AccessContext,
    AllOf,
    AnyOf,
    AnyTier,
    Decision,
    Drip,
    Embargo,
    HasEntitlement,
    Metered,
    MinTier,
    Public,
    Purchase,
    Reason,
    Registered,
    Resource,
    Rule,
    Window,
    decide,
    resolve_context,
)
from .catalog import Catalog, Coupon, Interval, Offer, OfferKind, Price, Tier
from .entitlements import Entitlement, Period, Quota
from .errors import (
    CatalogError,
    CouponError,
    DuplicateSlug,
    EventError,
    InvalidAmount,
    InvalidTransition,
    MalformedEvent,
    MembershipError,
    PluginError,
    ProviderError,
    SignatureError,
    UnknownCurrency,
    UnknownPrice,
    UnknownProvider,
    UnknownTier,
)
from .events import (
    ApplyResult,
    BillingEvent,
    EventType,
    Outcome,
    PurchaseSnapshot,
    PurchaseState,
    SubscriptionSnapshot,
)
from .hookspecs import hookimpl
from .membership import Grant, GrantKind, Membership, Status
from .memory import MemoryStore
from .plugins import Providers, get_plugin_manager
from .program import MembershipProgram

__all__ = [
    "AccessContext", "AllOf", "AnyOf", "AnyTier", "ApplyResult", "BillingEvent", "Catalog",
    "CatalogError", "Coupon", "CouponError", "Decision", "Drip", "DuplicateSlug", "Embargo",
    "Entitlement", "EventError", "EventType", "Grant", "GrantKind", "HasEntitlement", "Interval",
    "InvalidAmount", "InvalidTransition", "MalformedEvent", "Membership", "MembershipError",
    "MembershipProgram", "MemoryStore", "Metered", "MinTier", "Offer", "OfferKind", "Outcome",
    "Period", "PluginError", "Price", "ProviderError", "Providers", "Public", "Purchase",
    "PurchaseSnapshot", "PurchaseState", "Quota", "Reason", "Registered", "Resource", "Rule",
    "SignatureError", "Status", "SubscriptionSnapshot", "Tier", "UnknownCurrency",
    "UnknownPrice", "UnknownProvider", "UnknownTier", "Window", "decide", "get_plugin_manager",
    "hookimpl", "resolve_context",
]  # fmt: skip
