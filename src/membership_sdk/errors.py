"""Errors raised by the membership SDK.

Every error the SDK raises derives from :class:`MembershipError`, so callers can
catch one class. Messages name the culprit and what was expected::

    MembershipError
    ├── CatalogError            invalid tiers, prices, offers or entitlements
    │   ├── UnknownCurrency     a currency code that is not ISO 4217
    │   ├── InvalidAmount       zero or negative amounts, wrong types
    │   ├── DuplicateSlug       two catalog items share a slug
    │   └── UnknownPrice        a price id the catalog does not hold
    ├── CouponError             a code that cannot discount this checkout; says why
    ├── InvalidTransition       a membership status change the state machine forbids
    ├── EventError              a billing event that cannot be applied
    │   ├── MalformedEvent      missing or mistyped fields, unparsable bodies
    │   └── SignatureError      a webhook whose signature does not verify
    ├── PluginError             a plugin that fails to register or misbehaves
    │   ├── UnknownProvider     a provider name nobody registered
    │   └── UnknownSetting      a settings key a provider does not declare
    ├── ProviderError           a payment provider failed; keeps the provider's words apart
    └── ReconcileError          reconciling with a provider cannot start or resume
        └── ReconcileInterrupted    the provider failed mid-listing; carries where to resume

A provider's own exception is never leaked raw: providers translate it into
:class:`ProviderError` with ``raise ... from``, keeping the provider's message in
:attr:`ProviderError.provider_message`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .reconcile import ReconcileState


class MembershipError(Exception):
    """Base class of every error raised by the SDK."""


class CatalogError(MembershipError, ValueError):
    """A tier, price, offer or entitlement is invalid."""


class UnknownCurrency(CatalogError):
    """A currency code is not a known ISO 4217 code."""


class InvalidAmount(CatalogError):
    """An amount is zero, negative or not an integer number of minor units."""


class DuplicateSlug(CatalogError):
    """Two items of the same kind share a slug or id."""


class UnknownPrice(CatalogError, LookupError):
    """A price id is not in the catalog (or is archived)."""


class UnknownTier(CatalogError, LookupError):
    """A tier slug is not in the catalog."""


class CouponError(MembershipError, ValueError):
    """A coupon or promotion code cannot discount this checkout. Nothing was changed.

    :ivar code: the code as the member typed it.
    :ivar reason: why, for machines: one of :data:`COUPON_REASONS` (``"unknown"``,
        ``"expired"``, ``"used_up"``, ``"already_redeemed"``, ``"not_for_this_plan"``,
        ``"not_first_time"``,
        ``"wrong_currency"``).
    """

    def __init__(self, message: str, *, code: str, reason: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason


#: Every :attr:`CouponError.reason`.
COUPON_REASONS = (
    "unknown",
    "expired",
    "used_up",
    "already_redeemed",
    "not_for_this_plan",
    "not_first_time",
    "wrong_currency",
)


class InvalidTransition(MembershipError):
    """A membership status change is not allowed by the state machine."""

    def __init__(self, current: object, target: object, allowed: frozenset[object]) -> None:
        names = ", ".join(sorted(str(s) for s in allowed)) or "none"
        super().__init__(
            f"cannot move a membership from {current!s} to {target!s}; "
            f"allowed from {current!s}: {names}"
        )
        self.current = current
        self.target = target


class EventError(MembershipError):
    """A billing event cannot be applied."""


class MalformedEvent(EventError, ValueError):
    """A billing event or webhook body is missing fields or has the wrong types."""


class UnknownShape(MalformedEvent):
    """A verified webhook whose event this version of the SDK cannot read: a field it needs
    is in none of the places the API versions it knows put it (a newer API version, say).

    Unlike other malformed bodies it is worth keeping: an adapter stores it and tries
    again, and an upgraded SDK reads it (the Wagtail adapter's inbox keeps it as a
    ``failed`` row). Never access for a shape nobody checked.

    :ivar event_id: the provider's id of the event, when it could be read (``""`` if not).
    :ivar event_type: the provider's type of the event (``""`` if unknown).
    """

    def __init__(self, message: str, *, event_id: str = "", event_type: str = "") -> None:
        super().__init__(message)
        self.event_id = event_id
        self.event_type = event_type


class SignatureError(EventError):
    """A webhook signature is missing, forged, expired or made with an unknown secret."""


class PluginError(MembershipError):
    """A plugin failed to register or returned something the SDK cannot use."""


class UnknownProvider(PluginError, LookupError):
    """No payment provider is registered under the requested name."""


class UnknownSetting(PluginError, KeyError):
    """A provider's :class:`~membership_sdk.providers.SettingsSpec` declares no such key."""

    # KeyError's str() is the repr of its argument; show the message as written.
    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ProviderError(MembershipError):
    """A payment provider failed.

    :param message: our explanation, naming the operation that failed.
    :param code: a short machine-readable code (``"unreachable"``, ``"card_declined"``).
    :param provider_message: the provider's own words, kept apart from ours.
    :param retryable: whether trying the same operation later may succeed.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str = "provider_error",
        provider_message: str | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.provider_message = provider_message
        self.retryable = retryable


class ReconcileError(MembershipError):
    """Reconciling with a provider cannot start: the provider is not registered or cannot
    list its subscriptions, or a saved position is unreadable or another provider's."""


class ReconcileInterrupted(ReconcileError):
    """The provider failed while its subscriptions were listed.

    :param state: the position and counts so far; pass it as ``resume_from`` to continue.
    :param error: the provider's failure (also the exception's ``__cause__``).
    """

    def __init__(self, message: str, *, state: ReconcileState, error: ProviderError) -> None:
        super().__init__(message)
        self.state = state
        self.error = error
