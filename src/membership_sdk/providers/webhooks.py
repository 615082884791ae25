"""Signed JSON webhooks, as the built-in ``fake`` and ``manual`` providers send them.

Third-party providers may reuse both halves: :class:`WebhookSigner` signs and verifies
bodies the way most payment services do (an HMAC-SHA256 over ``"{timestamp}.{body}"``
in a ``t=<unix>,v1=<hex>`` header, with a timestamp tolerance against replays and
several secrets at once while one is rotated), and :func:`encode_event` /
:func:`decode_event` write and read one canonical event as JSON::

    {"id": "evt_1", "type": "subscription.updated", "created": 1767225600,
     "livemode": false,
     "data": {"object": "subscription", "id": "sub_1", "customer": "cus_1",
              "client_reference_id": "member-42", "price": "price_gold", "status": "active",
              "version": 3, "current_period_end": 1769904000, ...}}
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ..errors import MalformedEvent, SignatureError
from ..events import (
    BillingEvent,
    EventType,
    PurchaseSnapshot,
    PurchaseState,
    SubscriptionSnapshot,
)
from ..membership import Status
from .base import Webhook

#: Seconds a signed webhook stays valid; older (or far-future) timestamps are replays.
DEFAULT_TOLERANCE = 300


def utcnow() -> datetime:
    """The current time as an aware UTC datetime, to whole seconds (as webhooks carry it)."""
    return datetime.now(UTC).replace(microsecond=0)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # HTTP header names are case-insensitive and frameworks spell them differently.
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


class WebhookSigner:
    """Sign and verify webhook bodies with HMAC-SHA256.

    :param secrets: the secrets to accept; the first one signs. Pass two while rotating
        a secret so webhooks signed with either verify.
    :param header: the header carrying the signature (``"Fake-Signature"``).
    :param tolerance: seconds a signature's timestamp may differ from ``clock()``.
    :param clock: returns the current aware datetime; tests pass one they control.
    """

    def __init__(
        self,
        secrets: str | Sequence[str],
        *,
        header: str,
        tolerance: float = DEFAULT_TOLERANCE,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        accepted = [secrets] if isinstance(secrets, str) else list(secrets)
        if not accepted or not all(isinstance(s, str) and s for s in accepted):
            raise ValueError(f"{header}: expected one or more non-empty secrets, got {secrets!r}")
        self.secrets: tuple[str, ...] = tuple(accepted)
        self.header = header
        self.tolerance = tolerance
        self.clock = clock

    def signature(self, body: bytes, timestamp: int, secret: str | None = None) -> str:
        """The hex HMAC-SHA256 of ``"{timestamp}.{body}"`` under ``secret`` (default: the first)."""
        key = (secret if secret is not None else self.secrets[0]).encode()
        return hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()

    def sign(self, body: bytes, *, timestamp: int | None = None) -> Webhook:
        """A webhook carrying ``body`` and a signature header made now (or at ``timestamp``)."""
        t = int(self.clock().timestamp()) if timestamp is None else timestamp
        headers = {
            "Content-Type": "application/json",
            self.header: f"t={t},v1={self.signature(body, t)}",
        }
        return Webhook(headers=headers, body=body)

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        """Return if a signature in ``headers`` matches ``body`` under an accepted secret.

        :raises SignatureError: the header is missing or unreadable, the timestamp is
            outside the tolerance, or no signature matches any accepted secret.
        """
        value = _header(headers, self.header)
        if not value:
            raise SignatureError(f"missing {self.header} header; the webhook is not signed")
        timestamp: int | None = None
        candidates: list[str] = []
        for part in value.split(","):
            key, _, item = part.strip().partition("=")
            # ASCII only: str.isdigit() accepts "²", and compare_digest refuses non-ASCII.
            if key == "t" and item.isascii() and item.isdigit():
                timestamp = int(item)
            elif key == "v1" and item and item.isascii():
                candidates.append(item)
        if timestamp is None or not candidates:
            raise SignatureError(
                f"unreadable {self.header} header {value!r}; expected 't=<unix time>,v1=<hex>'"
            )
        # Whole seconds as ints: a timestamp of 400 digits must not overflow a float.
        age = int(self.clock().timestamp()) - timestamp
        if abs(age) > self.tolerance:
            raise SignatureError(
                f"{self.header} timestamp {timestamp} is {age:+d}s from now, outside the "
                f"{self.tolerance:g}s tolerance; a replayed or delayed webhook"
            )
        for secret in self.secrets:
            expected = self.signature(body, timestamp, secret)
            if any(hmac.compare_digest(expected, c) for c in candidates):
                return
        raise SignatureError(
            f"{self.header} does not match the body under any configured secret; "
            "the body was altered or signed with another secret"
        )


# -------------------------------------------------------------------------------------------
# JSON encoding of canonical events
# -------------------------------------------------------------------------------------------


def _ts(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp())


def encode_event(
    event_id: str,
    type: str,
    occurred_at: datetime,
    snapshot: SubscriptionSnapshot | PurchaseSnapshot,
    *,
    member_id: str | None = None,
    livemode: bool = False,
) -> bytes:
    """The JSON body of one event carrying ``snapshot``'s full state."""
    data: dict[str, Any]
    if isinstance(snapshot, SubscriptionSnapshot):
        data = {
            "object": "subscription",
            "id": snapshot.id,
            "customer": snapshot.customer_id,
            "client_reference_id": member_id,
            "price": snapshot.price,
            "status": snapshot.raw_status or str(snapshot.status),
            "version": snapshot.version,
            "current_period_end": _ts(snapshot.current_period_end),
            "started_at": _ts(snapshot.started_at),
            "trial_end": _ts(snapshot.trial_end),
            "cancel_at_period_end": snapshot.cancel_at_period_end,
            "canceled_at": _ts(snapshot.canceled_at),
        }
        if snapshot.amount is not None:
            # A discount: sent only when there is one, so other bodies keep their shape.
            data["amount"] = snapshot.amount
            data["coupon"] = snapshot.coupon
            data["discount_ends_at"] = _ts(snapshot.discount_ends_at)
        if snapshot.price_since is not None and snapshot.price_since != snapshot.started_at:
            # A plan change in place (other bodies keep their shape).
            data["price_since"] = _ts(snapshot.price_since)
        if snapshot.paused_until is not None:
            data["paused_until"] = _ts(snapshot.paused_until)
    else:
        data = {
            "object": "purchase",
            "id": snapshot.id,
            "customer": snapshot.customer_id,
            "client_reference_id": member_id,
            "price": snapshot.price,
            "state": str(snapshot.state),
            "version": snapshot.version,
            "paid_at": _ts(snapshot.paid_at),
        }
        if snapshot.checkout_id:
            data["checkout"] = snapshot.checkout_id
    payload = {
        "id": event_id,
        "type": type,
        "created": _ts(occurred_at),
        "livemode": livemode,
        "data": data,
    }
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


class _Reader:
    """Typed access to a JSON object, raising MalformedEvent naming the field."""

    def __init__(self, where: str, obj: object) -> None:
        if not isinstance(obj, dict):
            raise MalformedEvent(f"{where} must be a JSON object, got {type(obj).__name__}")
        self.where = where
        self.obj: dict[str, Any] = obj

    def _get(self, key: str, kind: type | tuple[type, ...], label: str, optional: bool) -> Any:
        value = self.obj.get(key)
        if value is None and optional:
            return None
        # bool is an int in Python, never in JSON.
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            got = "missing" if key not in self.obj else f"{type(value).__name__} {value!r}"
            raise MalformedEvent(f"{self.where}.{key} must be {label}, got {got}")
        return value

    def text(self, key: str) -> str:
        value: str = self._get(key, str, "a non-empty string", False)
        if not value:
            raise MalformedEvent(f"{self.where}.{key} must be a non-empty string, got ''")
        return value

    def optional_text(self, key: str) -> str | None:
        value: str | None = self._get(key, str, "a string or null", True)
        return value or None

    def integer(self, key: str) -> int:
        value: int = self._get(key, int, "an integer", False)
        return value

    def optional_integer(self, key: str) -> int | None:
        value: int | None = self._get(key, int, "an integer or null", True)
        return value

    def time(self, key: str, optional: bool = True) -> datetime | None:
        value: int | None = self._get(key, int, "a unix timestamp", optional)
        return None if value is None else datetime.fromtimestamp(value, UTC)

    def flag(self, key: str) -> bool:
        value: bool | None = self._get(key, bool, "true or false", True)
        return bool(value)


def decode_event(provider: str, body: bytes) -> list[BillingEvent]:
    """Read a body written by :func:`encode_event` into zero or one billing event.

    Event types that are not an :class:`~membership_sdk.events.EventType` value give an
    empty list: providers send many kinds of events a site does not need.

    :raises MalformedEvent: the body is not JSON or a field is missing or mistyped; the
        message names the field.
    """
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedEvent(f"{provider} webhook body is not JSON: {exc}") from exc
    top = _Reader(f"{provider} webhook", payload)
    event_id = top.text("id")
    type_name = top.text("type")
    try:
        event_type = EventType(type_name)
    except ValueError:
        return []
    where = f"{provider} webhook {event_id}"
    top.where = where
    occurred_at = top.time("created", optional=False)
    assert occurred_at is not None
    data = _Reader(f"{where}: data", top.obj.get("data"))
    kind = data.text("object")
    member_id = data.optional_text("client_reference_id")
    subscription: SubscriptionSnapshot | None = None
    purchase: PurchaseSnapshot | None = None
    if kind == "subscription":
        raw_status = data.text("status")
        subscription = SubscriptionSnapshot(
            id=data.text("id"),
            customer_id=data.text("customer"),
            price=data.text("price"),
            status=Status.parse(raw_status),
            version=data.integer("version"),
            current_period_end=data.time("current_period_end"),
            started_at=data.time("started_at"),
            trial_end=data.time("trial_end"),
            cancel_at_period_end=data.flag("cancel_at_period_end"),
            canceled_at=data.time("canceled_at"),
            raw_status=raw_status,
            amount=data.optional_integer("amount"),
            coupon=data.optional_text("coupon") or "",
            discount_ends_at=data.time("discount_ends_at"),
            price_since=data.time("price_since") or data.time("started_at"),
            paused_until=data.time("paused_until"),
        )
    elif kind == "purchase":
        state = data.text("state")
        try:
            purchase_state = PurchaseState(state)
        except ValueError:
            raise MalformedEvent(
                f"{where}: data.state must be one of {[str(s) for s in PurchaseState]}, "
                f"got {state!r}"
            ) from None
        purchase = PurchaseSnapshot(
            id=data.text("id"),
            customer_id=data.text("customer"),
            price=data.text("price"),
            state=purchase_state,
            version=data.integer("version"),
            paid_at=data.time("paid_at"),
            checkout_id=data.optional_text("checkout") or "",
        )
    else:
        raise MalformedEvent(
            f"{where}: data.object must be 'subscription' or 'purchase', got {kind!r}"
        )
    livemode = top.flag("livemode")
    return [
        BillingEvent(
            provider=provider,
            id=event_id,
            type=event_type,
            occurred_at=occurred_at,
            subscription=subscription,
            purchase=purchase,
            member_id=member_id,
            livemode=livemode,
            data=payload,
        )
    ]
