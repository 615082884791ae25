"""Canonical billing events.

Providers translate their webhooks into :class:`BillingEvent` values carrying the
provider object's *latest state* (a :class:`SubscriptionSnapshot` or a
:class:`PurchaseSnapshot`), never a delta. Applying events is therefore idempotent and
order-safe: the snapshot with the highest ``version`` wins, whatever order events
arrive in and however often.

:meth:`BillingEvent.to_dict` and :meth:`BillingEvent.from_dict` turn an event into a
JSON-safe dict and back; adapters store events in that shape (an inbox row), so it only
ever grows new optional keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

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

    ``paid_through`` is set only by an event that reports a payment (a paid invoice, a
    confirmed transfer): the end of the period that payment covers. ``None`` says
    nothing about payments; the program then keeps what it knew (see
    :attr:`~membership_sdk.membership.Membership.paid_through`).

    ``unpaid_since`` is where a period the provider reports as unpaid began (Stripe's
    past-due subscription starts its new period before it charges for it): an upper
    bound on what was paid, never a payment. It may lower the membership's
    ``paid_through`` (or set it when no payment is known), never raise it, so a
    subscription left past due does not earn a new grace period each time it rolls
    over.

    ``price_since`` is when the subscription moved to its current ``price`` (its start
    for one never changed), as the provider records it, so that events applied in any
    order agree on it. ``paused_until`` is when a paused subscription resumes by itself
    (``None``: paused until resumed). ``amount`` is what each period is charged after
    discounts, in minor units (``None``: the price's list amount); ``coupon`` is the
    code of the discount applied and ``discount_ends_at`` when it stops applying
    (``None``: for as long as the subscription lasts).
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
    paid_through: datetime | None = None
    unpaid_since: datetime | None = None
    price_since: datetime | None = None
    paused_until: datetime | None = None
    amount: int | None = None
    coupon: str = ""
    discount_ends_at: datetime | None = None


class PurchaseState(StrEnum):
    """Where a payment stands: paid, refunded in full, or taken back by a chargeback the
    site lost (``charged_back``). Both of the last take back what the payment bought."""

    PAID = "paid"
    REFUNDED = "refunded"
    CHARGED_BACK = "charged_back"


@dataclass(frozen=True, slots=True)
class PurchaseSnapshot:
    """A one-off payment for ``price`` (the provider's price id) as it stood at ``version``.

    ``checkout_id`` is the id of the checkout session that took the payment (the
    :class:`~membership_sdk.providers.CheckoutSession` ``id``), when the provider says:
    what the buyer entered at that checkout is found by it.
    """

    id: str
    customer_id: str
    price: str
    state: PurchaseState
    version: int
    paid_at: datetime | None = None
    checkout_id: str = ""


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
    #: The customer's billing country (ISO 3166-1 alpha-2, ``"DE"``) when the provider
    #: reported one with this event (a completed checkout), else ``None``.
    country: str | None = None
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

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict of this event, read back by :meth:`from_dict`.

        Keys: ``provider``, ``id``, ``type``, ``occurred_at`` (ISO 8601), ``member_id``,
        ``livemode``, ``country`` (only when set), and ``subscription`` or ``purchase`` (a
        dict of the snapshot's fields, times in ISO 8601 or ``None``). The free-form
        ``data`` is not kept.
        """
        out: dict[str, Any] = {
            "provider": self.provider,
            "id": self.id,
            "type": self.type.value,
            "occurred_at": self.occurred_at.isoformat(),
            "member_id": self.member_id,
            "livemode": self.livemode,
        }
        if self.country:
            out["country"] = self.country
        if self.subscription is not None:
            s = self.subscription
            out["subscription"] = {
                "id": s.id,
                "customer_id": s.customer_id,
                "price": s.price,
                "status": s.status.value,
                "version": s.version,
                "current_period_end": _iso(s.current_period_end),
                "started_at": _iso(s.started_at),
                "trial_end": _iso(s.trial_end),
                "cancel_at_period_end": s.cancel_at_period_end,
                "canceled_at": _iso(s.canceled_at),
                "raw_status": s.raw_status,
                "paid_through": _iso(s.paid_through),
                "unpaid_since": _iso(s.unpaid_since),
                "price_since": _iso(s.price_since),
                "paused_until": _iso(s.paused_until),
                "amount": s.amount,
                "coupon": s.coupon,
                "discount_ends_at": _iso(s.discount_ends_at),
            }
        if self.purchase is not None:
            p = self.purchase
            out["purchase"] = {
                "id": p.id,
                "customer_id": p.customer_id,
                "price": p.price,
                "state": p.state.value,
                "version": p.version,
                "paid_at": _iso(p.paid_at),
                "checkout_id": p.checkout_id,
            }
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BillingEvent:
        """The event :meth:`to_dict` made ``data`` from (``data`` comes back empty).

        A status the SDK does not know reads as ``Status.UNKNOWN``, as from a provider.
        ``livemode`` and ``subscription.cancel_at_period_end`` must be ``true`` or
        ``false``; a row stored without them reads as ``false``.

        :raises MalformedEvent: a field is missing or has the wrong type (an empty
            ``occurred_at``, the string ``"false"`` for a flag); the message names it
            (``'subscription.version'``) and the value.
        """
        fields = _Fields(data, "")
        subscription = purchase = None
        if fields.get("subscription"):
            s = fields.nested("subscription")
            subscription = SubscriptionSnapshot(
                id=s.text("id"),
                customer_id=s.text("customer_id"),
                price=s.text("price"),
                status=Status.parse(s.text("status")),
                version=s.integer("version"),
                current_period_end=s.optional_time("current_period_end"),
                started_at=s.optional_time("started_at"),
                trial_end=s.optional_time("trial_end"),
                cancel_at_period_end=s.flag("cancel_at_period_end"),
                canceled_at=s.optional_time("canceled_at"),
                raw_status=s.text("raw_status", default=""),
                paid_through=s.optional_time("paid_through"),
                unpaid_since=s.optional_time("unpaid_since"),
                price_since=s.optional_time("price_since"),
                paused_until=s.optional_time("paused_until"),
                amount=s.optional_integer("amount"),
                coupon=s.text("coupon", default=""),
                discount_ends_at=s.optional_time("discount_ends_at"),
            )
        if fields.get("purchase"):
            p = fields.nested("purchase")
            purchase = PurchaseSnapshot(
                id=p.text("id"),
                customer_id=p.text("customer_id"),
                price=p.text("price"),
                state=p.choice("state", PurchaseState),
                version=p.integer("version"),
                paid_at=p.optional_time("paid_at"),
                checkout_id=p.text("checkout_id", default=""),
            )
        occurred = fields.time("occurred_at")
        member_id = fields.get("member_id")
        if member_id is not None and not isinstance(member_id, str):
            raise fields.bad("member_id", "a string or null", member_id)
        country = fields.get("country")
        if country is not None and not (
            isinstance(country, str)
            and len(country) == 2
            and country.isascii()
            and country.isalpha()
        ):
            raise fields.bad("country", "a two-letter country code or null", country)
        return cls(
            provider=fields.text("provider"),
            id=fields.text("id"),
            type=fields.choice("type", EventType),
            occurred_at=occurred,
            subscription=subscription,
            purchase=purchase,
            member_id=member_id,
            livemode=fields.flag("livemode"),
            country=country,
        )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


_MISSING = object()
_E = TypeVar("_E", bound=StrEnum)


class _Fields:
    """Reads one level of an event dict, raising :class:`MalformedEvent` that names the
    field by its dotted path."""

    def __init__(self, data: object, prefix: str) -> None:
        if not isinstance(data, Mapping):
            where = f"{prefix[:-1]!r} " if prefix else ""
            raise MalformedEvent(
                f"billing event dict: {where}must be a mapping, got {type(data).__name__}"
            )
        self.data: Mapping[str, Any] = data
        self.prefix = prefix

    def bad(self, key: str, expected: str, value: object) -> MalformedEvent:
        return MalformedEvent(
            f"billing event dict: {self.prefix + key!r} must be {expected}, got {value!r}"
        )

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def required(self, key: str) -> Any:
        value = self.data.get(key, _MISSING)
        if value is _MISSING or value is None:
            raise MalformedEvent(f"billing event dict: {self.prefix + key!r} is missing")
        return value

    def nested(self, key: str) -> _Fields:
        return _Fields(self.required(key), f"{self.prefix}{key}.")

    def text(self, key: str, *, default: str | None = None) -> str:
        value = self.data.get(key, default) if default is not None else self.required(key)
        if not isinstance(value, str):
            raise self.bad(key, "a string", value)
        return value

    def integer(self, key: str) -> int:
        value = self.required(key)
        # int("3") is accepted as before; bool and float are not versions.
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise self.bad(key, "an integer", value)
        try:
            return int(value)
        except ValueError:
            raise self.bad(key, "an integer", value) from None

    def optional_integer(self, key: str) -> int | None:
        """An integer, or ``None`` for an absent key or ``null``."""
        if self.data.get(key) is None:
            return None
        return self.integer(key)

    def flag(self, key: str) -> bool:
        """A boolean; an absent key (a row stored without it) reads as ``False``."""
        value = self.data.get(key, False)
        # Never bool(value): the string "false" would read as True.
        if not isinstance(value, bool):
            raise self.bad(key, "true or false", value)
        return value

    def time(self, key: str) -> datetime:
        value = self.required(key)
        if not isinstance(value, str) or not value:
            raise self.bad(key, "an ISO 8601 time", value)
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            raise self.bad(key, "an ISO 8601 time", value) from None

    def optional_time(self, key: str) -> datetime | None:
        """A time, or ``None`` when the key is absent, null or empty."""
        if not self.data.get(key):
            return None
        return self.time(key)

    def choice(self, key: str, enum: type[_E]) -> _E:
        value = self.required(key)
        try:
            return enum(value)
        except ValueError:
            known = ", ".join(repr(m.value) for m in enum)
            raise self.bad(key, f"one of {known}", value) from None


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
