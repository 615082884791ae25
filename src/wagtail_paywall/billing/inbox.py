"""The webhook inbox: store a verified webhook first, apply it after.

:func:`receive` verifies a webhook and stores the row before anything is applied;
:func:`process` applies its events in one transaction and never marks a row processed unless
all were applied. A failure is rolled back and the row retried after an exponential backoff
(``INBOX_RETRY_BASE`` doubling up to ``INBOX_RETRY_MAX``); after ``INBOX_MAX_ATTEMPTS`` it is
``dead`` until "Retry" in the admin. On PostgreSQL :func:`claim` hands out due rows with
``SELECT ... FOR UPDATE SKIP LOCKED`` and :func:`process` takes the same row lock, so no row
is applied twice; SQLite has no row locks, but serialises writers, and :func:`process`
re-reads a row's status before applying it.

See ``docs/reliability.md`` (Inbox workers).
"""

from __future__ import annotations

import hashlib
import logging
import random
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from membership_sdk import BillingEvent, Outcome

from .. import conf
from ..models import WebhookEvent
from ..program import get_program

logger = logging.getLogger(__name__)

#: Headers worth keeping for an audit trail (signatures are kept; cookies never are).
_DROP_HEADERS = frozenset({"cookie", "authorization"})


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
        events=[e.to_dict() for e in events],
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
#: Statuses a worker applies (a failed row once its backoff has passed).
TO_PROCESS = (WebhookEvent.Status.RECEIVED, WebhookEvent.Status.FAILED)
#: Statuses the admin's "Retry" may process again (a worker never takes a ``dead`` row).
RETRYABLE = (*TO_PROCESS, WebhookEvent.Status.DEAD)


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
        status__in=TO_PROCESS,
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
                result = program.apply(BillingEvent.from_dict(data))
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
