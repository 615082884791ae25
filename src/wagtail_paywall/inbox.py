"""The webhook inbox: store a verified webhook first, apply it after.

:func:`receive` verifies a webhook with its provider and stores it as a
:class:`~wagtail_paywall.models.WebhookEvent`, together with the canonical events it
translates to, and returns fast. :func:`process` applies those events through the
program: a failure is recorded on the row (``attempts``, ``last_error``, status
``failed``) and nothing of it is kept, so the event can be retried (the admin's
"Retry" button calls :func:`process` again). A row is never marked processed unless
every one of its events was applied.
"""

from __future__ import annotations

import hashlib
import logging
import traceback
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from membership_sdk import (
    BillingEvent,
    EventType,
    Outcome,
    PurchaseSnapshot,
    PurchaseState,
    Status,
    SubscriptionSnapshot,
)

from .models import WebhookEvent
from .program import get_program

logger = logging.getLogger(__name__)

#: Headers worth keeping for an audit trail (signatures are kept; cookies never are).
_DROP_HEADERS = frozenset({"cookie", "authorization"})


# -- event (de)serialisation ------------------------------------------------------------------
def _dt(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def event_to_json(event: BillingEvent) -> dict[str, Any]:
    """A JSON-safe dict of ``event`` (its free-form ``data`` is not kept)."""
    out: dict[str, Any] = {
        "provider": event.provider,
        "id": event.id,
        "type": event.type.value,
        "occurred_at": _dt(event.occurred_at),
        "member_id": event.member_id,
        "livemode": event.livemode,
    }
    if event.subscription is not None:
        s = event.subscription
        out["subscription"] = {
            "id": s.id,
            "customer_id": s.customer_id,
            "price": s.price,
            "status": s.status.value,
            "version": s.version,
            "current_period_end": _dt(s.current_period_end),
            "started_at": _dt(s.started_at),
            "trial_end": _dt(s.trial_end),
            "cancel_at_period_end": s.cancel_at_period_end,
            "canceled_at": _dt(s.canceled_at),
            "raw_status": s.raw_status,
        }
    if event.purchase is not None:
        p = event.purchase
        out["purchase"] = {
            "id": p.id,
            "customer_id": p.customer_id,
            "price": p.price,
            "state": p.state.value,
            "version": p.version,
            "paid_at": _dt(p.paid_at),
        }
    return out


def event_from_json(data: Mapping[str, Any]) -> BillingEvent:
    subscription = purchase = None
    if data.get("subscription"):
        s = data["subscription"]
        subscription = SubscriptionSnapshot(
            id=s["id"],
            customer_id=s["customer_id"],
            price=s["price"],
            status=Status.parse(s["status"]),
            version=int(s["version"]),
            current_period_end=_parse_dt(s.get("current_period_end")),
            started_at=_parse_dt(s.get("started_at")),
            trial_end=_parse_dt(s.get("trial_end")),
            cancel_at_period_end=bool(s.get("cancel_at_period_end")),
            canceled_at=_parse_dt(s.get("canceled_at")),
            raw_status=s.get("raw_status", ""),
        )
    if data.get("purchase"):
        p = data["purchase"]
        purchase = PurchaseSnapshot(
            id=p["id"],
            customer_id=p["customer_id"],
            price=p["price"],
            state=PurchaseState(p["state"]),
            version=int(p["version"]),
            paid_at=_parse_dt(p.get("paid_at")),
        )
    occurred = _parse_dt(data["occurred_at"])
    assert occurred is not None
    return BillingEvent(
        provider=data["provider"],
        id=data["id"],
        type=EventType(data["type"]),
        occurred_at=occurred,
        subscription=subscription,
        purchase=purchase,
        member_id=data.get("member_id"),
        livemode=bool(data.get("livemode")),
    )


# -- receive and process ----------------------------------------------------------------------
def receive(provider: str, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
    """Verify a webhook and store it in the inbox; returns its row.

    :raises SignatureError: the signature is missing or wrong; nothing is stored.
    :raises MalformedEvent: the provider cannot read the body; nothing is stored.
    :raises UnknownProvider: no provider has that name.

    A webhook delivered again returns the row stored the first time. A webhook whose
    type the provider ignores is stored with status ``ignored``, for the record.
    """
    events = get_program().providers[provider].parse_webhook(headers, body)
    if events:
        event_id = events[0].id
        event_type = events[0].type.value
    else:
        event_id = "body-" + hashlib.sha256(body).hexdigest()[:40]
        event_type = ""
    existing = WebhookEvent.objects.filter(provider=provider, event_id=event_id).first()
    if existing is not None:
        return existing
    row = WebhookEvent(
        provider=provider,
        event_id=event_id,
        event_type=event_type,
        status=WebhookEvent.Status.RECEIVED if events else WebhookEvent.Status.IGNORED,
        headers={k: v for k, v in headers.items() if k.lower() not in _DROP_HEADERS},
        body=body,
        events=[event_to_json(e) for e in events],
        detail="" if events else "the provider ignores this event type",
    )
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        # The same event arrived twice at once; the other request stored it.
        return WebhookEvent.objects.get(provider=provider, event_id=event_id)
    return row


def process(row: WebhookEvent) -> WebhookEvent:
    """Apply the row's events; record the outcome on the row and return it.

    Processed and ignored rows are left alone. On failure the row becomes ``failed``
    with ``attempts`` counted and ``last_error`` set; nothing the events changed is
    kept, and the row can be processed again later.
    """
    if row.status in (WebhookEvent.Status.PROCESSED, WebhookEvent.Status.IGNORED):
        return row
    program = get_program()
    row.attempts += 1
    details: list[str] = []
    outcomes: list[Outcome] = []
    try:
        with transaction.atomic():
            for data in row.events:
                result = program.apply(event_from_json(data))
                outcomes.append(result.outcome)
                if result.detail:
                    details.append(result.detail)
    except Exception as exc:
        logger.exception("webhook %s:%s failed", row.provider, row.event_id)
        row.status = WebhookEvent.Status.FAILED
        row.last_error = "".join(traceback.format_exception_only(exc)).strip()
        row.save(update_fields=["status", "attempts", "last_error"])
        return row
    # program.apply records the outcome on the row through the inbox port; reload it.
    row.refresh_from_db(fields=["status", "detail", "processed_at", "event_type"])
    ignored = bool(outcomes) and all(o is Outcome.IGNORED for o in outcomes)
    row.status = WebhookEvent.Status.IGNORED if ignored else WebhookEvent.Status.PROCESSED
    row.detail = "; ".join(details)
    row.last_error = ""
    row.processed_at = timezone.now()
    row.save(update_fields=["status", "attempts", "detail", "last_error", "processed_at"])
    return row


def process_pending(limit: int = 100) -> int:
    """Process received rows, oldest first; returns how many were tried."""
    rows = list(
        WebhookEvent.objects.filter(status=WebhookEvent.Status.RECEIVED).order_by("received_at")[
            :limit
        ]
    )
    for row in rows:
        process(row)
    return len(rows)
