"""Canonical billing events.

Providers translate their webhooks into :class:`BillingEvent` values carrying the
provider object's *latest state* (a :class:`SubscriptionSnapshot` or a
:class:`PurchaseSnapshot`), never a delta. Applying events is therefore idempotent and
order-safe: the snapshot with the highest ``version`` wins, whatever order events
arrive in and however often.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from .errors import MalformedEvent
from .membership import Status


class EventType(StrEnum):
    """What happened, as the provider saw it. Application is driven by the snapshot."""

    SUBSCRIPTION_CREATED = "subscription.created"
    SUBSCRIPTION_UPDATED = "subscription.updated"
    SUBSCRIPTION_DELETED = "subscription.deleted"
    PAYMENT_SUCCEEDED = "payment.succeeded"
    PAYMENT_FAILED = "payment.failed"
    PURCHASE_COMPLETED = "purchase.completed"
    PURCHASE_REFUNDED = "purchase.refunded"


@dataclass(frozen=True, slots=True)
class SubscriptionSnapshot:
    """A provider's subscription as it stood at ``version``.

    ``price`` is the provider's price id; ``raw_status`` keeps the provider's own word
    while ``status`` is its translation (``UNKNOWN`` when there is none).
    """

    id: str
    customer_id: str
    price: str
    status: Status
    version: int
    current_period_end: datetime | None = None
    started_at: datetime | None = None
    trial_end: datetime | None = None
    cancel_at_period_end: bool = False
    canceled_at: datetime | None = None
    raw_status: str = ""


class PurchaseState(StrEnum):
    PAID = "paid"
    REFUNDED = "refunded"


@dataclass(frozen=True, slots=True)
class PurchaseSnapshot:
    """A one-off payment for ``price`` (the provider's price id) as it stood at ``version``."""

    id: str
    customer_id: str
    price: str
    state: PurchaseState
    version: int
    paid_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class BillingEvent:
    """One provider event, translated.

    ``(provider, id)`` is unique: applying the same pair twice changes nothing.
    ``member_id`` is set when the provider carried our member id (for example in a
    checkout's client reference); otherwise the member is found by ``customer_id``.
    """

    provider: str
    id: str
    type: EventType
    occurred_at: datetime
    subscription: SubscriptionSnapshot | None = None
    purchase: PurchaseSnapshot | None = None
    member_id: str | None = None
    livemode: bool = False
    data: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("provider", "id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise MalformedEvent(f"billing event needs a non-empty {name}, got {value!r}")
        if (self.subscription is None) == (self.purchase is None):
            raise MalformedEvent(
                f"billing event {self.provider}:{self.id} must carry exactly one of a "
                "subscription or a purchase snapshot"
            )
        if not isinstance(self.occurred_at, datetime) or self.occurred_at.tzinfo is None:
            raise MalformedEvent(
                f"billing event {self.provider}:{self.id}: occurred_at must be an aware "
                f"datetime, got {self.occurred_at!r}"
            )

    @property
    def customer_id(self) -> str:
        snap = self.subscription or self.purchase
        assert snap is not None
        return snap.customer_id


class Outcome(StrEnum):
    """What applying an event did."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    STALE = "stale"
    IGNORED = "ignored"


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """The result of applying one event; ``detail`` explains ignored and stale events."""

    outcome: Outcome
    event: BillingEvent
    detail: str = ""
    membership_id: str | None = None
