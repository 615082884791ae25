"""The webhook inbox: store a verified webhook first, apply it after.

:func:`receive` verifies a webhook with its provider and stores it as a
:class:`~wagtail_paywall.models.WebhookEvent`, together with the canonical events it
translates to, and returns fast. :func:`process` applies those events through the
program: a failure is recorded on the row (``attempts``, ``last_error``, status
``failed``) and nothing of it is kept. A row is never marked processed unless every one
of its events was applied.

Retries: a failed row is due again after an exponential backoff
(``PAYWALL["INBOX_RETRY_BASE"]`` seconds, doubled per attempt up to
``PAYWALL["INBOX_RETRY_MAX"]``), kept in ``next_attempt_at``; any exception retries,
including a :class:`~membership_sdk.ProviderError` (a provider that is unreachable while
the event is applied). After ``PAYWALL["INBOX_MAX_ATTEMPTS"]`` failures the row is
``dead``: no worker takes it again, the admin shows it and its "Retry" button still works.

Workers: :func:`claim` hands out due rows under a row lock. On PostgreSQL it is
``SELECT ... FOR UPDATE SKIP LOCKED``, so several workers (``manage.py
paywall_process_inbox`` in several processes or on several machines) share the inbox
and never take the same row; the lock is held until the row's outcome is committed. On
SQLite there are no row locks: the database's single writer lock serialises workers,
and :func:`process` re-reads the row's status before applying it, so a row done by
another worker is left alone. :func:`process` takes the same row lock itself, so the
webhook task, the admin's "Retry" and a worker never apply one row at the same time.
"""

from __future__ import annotations

import hashlib
import logging
import random
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
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

from . import conf
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


_DONE = (WebhookEvent.Status.PROCESSED, WebhookEvent.Status.IGNORED)
_TO_PROCESS = (WebhookEvent.Status.RECEIVED, WebhookEvent.Status.FAILED)
#: Statuses the admin's "Retry" may process again (a worker never takes a ``dead`` row).
RETRYABLE = (*_TO_PROCESS, WebhookEvent.Status.DEAD)


def backoff(attempts: int) -> timedelta:
    """How long a row that failed ``attempts`` times waits before its next attempt:
    ``INBOX_RETRY_BASE * 2 ** (attempts - 1)`` seconds, at most ``INBOX_RETRY_MAX``, less
    up to a tenth at random so rows that failed together do not all return at once."""
    base = float(conf.get("INBOX_RETRY_BASE"))
    cap = float(conf.get("INBOX_RETRY_MAX"))
    delay = min(base * 2 ** max(attempts - 1, 0), cap)
    return timedelta(seconds=delay * (1 - random.random() / 10))


def due(now: datetime | None = None) -> QuerySet[WebhookEvent]:
    """Rows waiting to be applied: received, or failed and past their backoff; oldest first."""
    now = now or timezone.now()
    return WebhookEvent.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
        status__in=_TO_PROCESS,
    ).order_by("received_at", "pk")


@contextmanager
def claim(limit: int = 1, *, now: datetime | None = None) -> Iterator[list[WebhookEvent]]:
    """Claim up to ``limit`` due rows for this worker, inside one transaction.

    The rows stay locked (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) until the block ends
    and its transaction commits, so no other worker sees them; process them inside the
    block::

        with inbox.claim(10) as rows:
            for row in rows:
                inbox.process(row)
    """
    with transaction.atomic():
        yield list(due(now).select_for_update(skip_locked=True)[:limit])


def process_due(limit: int = 10, *, now: datetime | None = None) -> int:
    """Claim and process due rows one at a time, up to ``limit``; returns how many.

    One row per transaction: a worker holding several rows' locks (and the store's
    per-subscription locks their events take) could deadlock with another doing the same.
    """
    done = 0
    while done < limit:
        with claim(1, now=now) as rows:
            if not rows:
                break
            # claim() has locked and read the row in this transaction: no need to again.
            _process_locked(rows[0])
        done += 1
    return done


def process(row: WebhookEvent) -> WebhookEvent:
    """Apply the row's events; record the outcome on the row and return it.

    Processed and ignored rows are left alone, and so is a row another worker holds
    right now. On failure the row becomes ``failed`` with ``attempts`` counted,
    ``last_error`` set and ``next_attempt_at`` pushed back (or ``dead`` after
    ``INBOX_MAX_ATTEMPTS``); nothing the events changed is kept, and the row is
    processed again when it is due. A ``dead`` row passed here (the admin's "Retry") is
    tried once more.
    """
    with transaction.atomic():
        locked = WebhookEvent.objects.select_for_update(skip_locked=True).filter(pk=row.pk).first()
        if locked is None:
            # Another worker holds it (or it is gone); it records the outcome.
            return row
        return _process_locked(locked)


def _process_locked(row: WebhookEvent) -> WebhookEvent:
    if row.status in _DONE:
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
        if row.attempts >= int(conf.get("INBOX_MAX_ATTEMPTS")):
            row.status = WebhookEvent.Status.DEAD
            row.next_attempt_at = None
        else:
            row.status = WebhookEvent.Status.FAILED
            row.next_attempt_at = timezone.now() + backoff(row.attempts)
        row.last_error = "".join(traceback.format_exception_only(exc)).strip()
        row.save(update_fields=["status", "attempts", "last_error", "next_attempt_at"])
        return row
    # program.apply records the outcome on the row through the inbox port; reload it.
    row.refresh_from_db(fields=["status", "detail", "processed_at", "event_type"])
    ignored = bool(outcomes) and all(o is Outcome.IGNORED for o in outcomes)
    row.status = WebhookEvent.Status.IGNORED if ignored else WebhookEvent.Status.PROCESSED
    row.detail = "; ".join(details)
    row.last_error = ""
    row.processed_at = timezone.now()
    row.next_attempt_at = None
    row.save(
        update_fields=[
            "status",
            "attempts",
            "detail",
            "last_error",
            "processed_at",
            "next_attempt_at",
        ]
    )
    return row


def process_pending(limit: int = 100) -> int:
    """Process due rows, oldest first; returns how many were tried (see :func:`process_due`)."""
    return process_due(limit)
