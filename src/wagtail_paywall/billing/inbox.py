"""The webhook inbox: store a verified webhook first, apply it after.

:func:`receive` verifies a webhook and stores its row with one ``INSERT ... ON CONFLICT DO
NOTHING`` (a redelivery costs the same statement and one read). A *different* body under an
event id already stored is kept in a row of its own, status ``conflict``, logged and never
applied.

:func:`process` applies a row's events and marks it processed in one transaction. Whatever
fails, wherever (a plugin, the provider, the database refusing a write or the ``COMMIT``),
the transaction is rolled back and the failure recorded in a new one: the row becomes
``failed`` with ``attempts`` counted and is due again after an exponential backoff
(``INBOX_RETRY_BASE`` doubling up to ``INBOX_RETRY_MAX``); after ``INBOX_MAX_ATTEMPTS`` it is
``dead`` until "Retry" in the admin. Should even the failure not be recordable, the row keeps
its status and stays due. :func:`process_due` is the workers' loop; :func:`sweep` picks up
what no task is coming back for.

On PostgreSQL due rows are taken with ``SELECT ... FOR UPDATE SKIP LOCKED`` and
:func:`process` takes the same row lock, so no row is applied twice; SQLite has no row
locks, but serialises writers, and :func:`process` re-reads a row's status before applying it.

See ``docs/reliability.md``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
import traceback
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from django.db import DatabaseError, connections, router, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from membership_sdk import BillingEvent, MembershipProgram, Outcome
from membership_sdk.errors import UnknownShape

from .. import conf
from ..models import MemberCountry, WebhookEvent
from ..program import get_program
from ..store import applying_inbox_row, first_row

logger = logging.getLogger(__name__)

#: Headers worth keeping for an audit trail (signatures are kept; cookies never are).
_DROP_HEADERS = frozenset({"cookie", "authorization"})

_DONE = (WebhookEvent.Status.PROCESSED, WebhookEvent.Status.IGNORED)
#: Statuses a worker applies (a failed row once its backoff has passed).
TO_PROCESS = (WebhookEvent.Status.RECEIVED, WebhookEvent.Status.FAILED)
#: Statuses the admin's "Retry" may process again (a worker never takes a ``dead`` row).
RETRYABLE = (*TO_PROCESS, WebhookEvent.Status.DEAD)
#: A ``received`` row older than this has no task coming for it any more (its enqueue
#: failed, its worker died, its failure could not be recorded): :func:`sweep` takes it.
ORPHAN_AFTER = timedelta(minutes=1)
#: Tries, and the pause before each further one, at recording a failure the database
#: refused (SQLite's "database is locked" outlasting its busy timeout, a restart).
_RECORD_PAUSES = (0.0, 0.2, 1.0)


# -- receive ----------------------------------------------------------------------------------
def receive(provider: str, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
    """Verify a webhook and store it in the inbox; returns its row.

    :raises SignatureError: the signature is missing or wrong; nothing is stored.
    :raises MalformedEvent: the provider cannot read the body; nothing is stored.
    :raises UnknownProvider: no provider has that name.

    A webhook delivered again returns the row stored the first time. A webhook whose
    type the provider ignores is stored with status ``ignored``, for the record. A
    webhook reusing a stored event id with different content (other events once
    translated) is stored apart with status ``conflict`` and never applied. A verified
    webhook of a shape this SDK version cannot read (:class:`UnknownShape`) is stored
    with no events, to be read again when processed: it fails, with backoff, until an
    upgraded SDK reads it.
    """
    unreadable: UnknownShape | None = None
    try:
        events = get_program().providers[provider].parse_webhook(headers, body)
    except UnknownShape as exc:
        events, unreadable = [], exc
    if events:
        event_id = events[0].id
        event_type = events[0].type.value
    elif unreadable is not None and unreadable.event_id:
        event_id, event_type = unreadable.event_id, unreadable.event_type[:64]
    else:
        event_id = "body-" + hashlib.sha256(body).hexdigest()[:40]
        event_type = ""
    status = WebhookEvent.Status.RECEIVED if events else WebhookEvent.Status.IGNORED
    detail = "" if events else "the provider ignores this event type"
    if unreadable is not None:
        status = WebhookEvent.Status.RECEIVED
        detail = f"kept to retry: this version of the SDK cannot read it ({unreadable})"
    row = WebhookEvent(
        provider=provider,
        event_id=event_id,
        event_type=event_type,
        status=status,
        headers={k: v for k, v in headers.items() if k.lower() not in _DROP_HEADERS},
        body=body,
        events=[e.to_dict() for e in events],
        detail=detail,
        received_at=timezone.now(),
    )
    if _insert(row):
        return row
    existing = WebhookEvent.objects.get(provider=provider, event_id=event_id)
    # Compared as stored (JSON): what the body means, not its bytes, which a provider may
    # serialise anew on redelivery.
    if existing.events == json.loads(json.dumps(row.events)):
        return existing
    return _keep_conflict(existing, row)


def _keep_conflict(existing: WebhookEvent, row: WebhookEvent) -> WebhookEvent:
    """Store ``row``, whose event id ``existing`` already holds with other content, apart."""
    digest = hashlib.sha256(bytes(row.body)).hexdigest()[:24]
    original = row.event_id
    row.event_id = f"conflict:{digest}:{original}"[:255]
    row.status = WebhookEvent.Status.CONFLICT
    row.detail = (
        f"{row.provider} sent a different body under event id {original!r}, stored first "
        f"as row {existing.pk} ({existing.status}); kept for inspection, never applied"
    )
    if not _insert(row):
        # The same conflicting body again: one row is enough.
        return WebhookEvent.objects.get(provider=row.provider, event_id=row.event_id)
    logger.warning(
        "webhook %s:%s: a different body under a stored event id, kept as row %s "
        "(status conflict), not applied",
        row.provider,
        original,
        row.pk,
    )
    return row


#: The inbox's columns but the primary key, in the order of the cached INSERT.
_COLUMNS = [f for f in WebhookEvent._meta.concrete_fields if not f.primary_key]
_insert_sql: dict[str, str] = {}


def _insert(row: WebhookEvent) -> bool:
    """INSERT ``row`` unless its (provider, event id) is stored; whether it was, with its
    ``pk`` set. One statement on PostgreSQL and SQLite (3.35+), no transaction of its own."""
    alias = router.db_for_write(WebhookEvent)
    connection = connections[alias]
    # SQLite answers RETURNING from 3.35 on; Django 5.2 still runs on 3.31.
    if connection.vendor not in ("postgresql", "sqlite") or not (
        connection.features.can_return_columns_from_insert
    ):
        return _insert_portably(row, alias)
    sql = _insert_sql.get(connection.vendor)
    if sql is None:
        quote = connection.ops.quote_name
        sql = _insert_sql[connection.vendor] = (
            f"INSERT INTO {quote(WebhookEvent._meta.db_table)} "
            f"({', '.join(quote(f.column) for f in _COLUMNS)}) "
            f"VALUES ({', '.join(['%s'] * len(_COLUMNS))}) "
            f"ON CONFLICT ({quote('provider')}, {quote('event_id')}) DO NOTHING "
            f"RETURNING {quote(WebhookEvent._meta.pk.column)}"
        )
    params = [f.get_db_prep_save(getattr(row, f.attname), connection) for f in _COLUMNS]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        inserted = cursor.fetchone()
    if inserted is None:
        return False
    row.pk = inserted[0]
    row._state.adding = False
    row._state.db = alias
    return True


def _insert_portably(row: WebhookEvent, alias: str) -> bool:
    """:func:`_insert` for other databases: an INSERT whose unique violation is caught."""
    from django.db import IntegrityError

    if (
        WebhookEvent.objects.using(alias)
        .filter(provider=row.provider, event_id=row.event_id)
        .exists()
    ):
        return False
    try:
        with transaction.atomic(using=alias):
            row.save(using=alias, force_insert=True)
    except IntegrityError:
        return False
    return True


# -- process ----------------------------------------------------------------------------------
def backoff(attempts: int) -> timedelta:
    """How long a row that failed ``attempts`` times waits before its next attempt:
    ``INBOX_RETRY_BASE * 2 ** (attempts - 1)`` seconds, at most ``INBOX_RETRY_MAX``, less
    up to a tenth at random so rows that failed together do not all return at once."""
    base = float(conf.get("INBOX_RETRY_BASE"))
    cap = float(conf.get("INBOX_RETRY_MAX"))
    delay = min(base * 2 ** max(attempts - 1, 0), cap)
    return timedelta(seconds=delay * (1 - random.random() / 10))


def due(
    now: datetime | None = None, *, received_before: datetime | None = None
) -> QuerySet[WebhookEvent]:
    """Rows waiting to be applied: received, or failed and past their backoff; oldest first.

    :param received_before: only ``received`` rows stored before then (failed rows past
        their backoff are due whatever their age).
    """
    now = now or timezone.now()
    waiting = Q(status=WebhookEvent.Status.RECEIVED)
    if received_before is not None:
        waiting &= Q(received_at__lt=received_before)
    retry = Q(status=WebhookEvent.Status.FAILED) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    return WebhookEvent.objects.filter(waiting | retry).order_by("received_at", "pk")


def process(row: WebhookEvent) -> WebhookEvent:
    """Apply the row's events; record the outcome on the row and return it.

    Processed and ignored rows are left alone, and so is a row another worker holds
    right now. On failure the row becomes ``failed`` with ``attempts`` counted,
    ``last_error`` set and ``next_attempt_at`` pushed back (or ``dead`` after
    ``INBOX_MAX_ATTEMPTS``); nothing the events changed is kept, and the row is
    processed again when it is due. A ``dead`` row passed here (the admin's "Retry") is
    tried once more.

    :raises DatabaseError: the failure could not even be recorded (the database refused
        every try); the row keeps its status, stays due and :func:`sweep` takes it again.
    """
    locked: WebhookEvent | None = None
    try:
        with transaction.atomic():
            locked = first_row(
                WebhookEvent,
                "inbox_row_locked",
                lambda pk: (
                    WebhookEvent.objects.select_for_update(skip_locked=True)
                    .filter(pk=pk)
                    .order_by()[:1]
                ),
                row.pk,
                for_write=True,
            )
            if locked is None:
                # Another worker holds it (or it is gone); it records the outcome.
                return row
            if locked.status not in _DONE:
                _apply(locked)
    except Exception as exc:
        return _record_failure(locked or row, exc)
    return locked


def process_due(limit: int = 10, *, now: datetime | None = None) -> int:
    """Take due rows one at a time, oldest first, and process each; returns how many.

    One row per transaction: a worker holding several rows' locks (and the store's
    per-subscription locks their events take) could deadlock with another doing the same.
    Rows other workers hold are skipped.
    """
    done = 0
    while done < limit:
        if _process_next(due(now)) is None:
            break
        done += 1
    return done


def sweep(limit: int = 5, *, now: datetime | None = None) -> int:
    """Process up to ``limit`` rows no task is coming back for: failed rows past their
    backoff, and ``received`` rows older than :data:`ORPHAN_AFTER`; returns how many.

    The webhook task runs it after its own row, so a site whose task backend cannot
    schedule a retry (django-tasks' ``ImmediateBackend``) still retries.
    """
    now = now or timezone.now()
    done = 0
    while done < limit:
        if _process_next(due(now, received_before=now - ORPHAN_AFTER)) is None:
            break
        done += 1
    return done


def _process_next(rows: QuerySet[WebhookEvent]) -> WebhookEvent | None:
    """Lock the first of ``rows`` no other worker holds and process it; ``None``: none."""
    picked: WebhookEvent | None = None
    try:
        with transaction.atomic():
            picked = rows.select_for_update(skip_locked=True).first()
            if picked is None:
                return None
            _apply(picked)
    except Exception as exc:
        if picked is None:
            raise
        return _record_failure(picked, exc)
    return picked


def _apply(row: WebhookEvent) -> None:
    """Apply the locked row's events and mark it done, in the caller's transaction.

    The adapter's inbox port is told which row is being applied, so it neither asks
    whether the event was seen (the row is locked and not done) nor records the outcome
    in a statement of its own: the row gets one ``UPDATE`` here.
    """
    program = get_program()
    if not row.events:
        # Kept unread (an UnknownShape): read it again, with the SDK installed now.
        row.events = [e.to_dict() for e in _read_again(program, row)]
        row.save(update_fields=["events"])
    details: list[str] = []
    outcomes: list[Outcome] = []
    with applying_inbox_row(row.provider, row.event_id):
        for data in row.events:
            event = BillingEvent.from_dict(data)
            result = program.apply(event)
            if result.outcome is Outcome.APPLIED:
                MemberCountry.record_event(event)  # the Members screen's country segment
            outcomes.append(result.outcome)
            if result.detail:
                details.append(result.detail)
    ignored = bool(outcomes) and all(o is Outcome.IGNORED for o in outcomes)
    row.status = WebhookEvent.Status.IGNORED if ignored else WebhookEvent.Status.PROCESSED
    row.attempts += 1
    row.detail = "; ".join(details)
    row.last_error = ""
    row.processed_at = timezone.now()
    row.next_attempt_at = None
    _save_outcome(row)


#: What :func:`_apply` writes to the row it applied.
_OUTCOME = [
    WebhookEvent._meta.get_field(name)
    for name in ("status", "attempts", "detail", "last_error", "processed_at", "next_attempt_at")
]


def _save_outcome(row: WebhookEvent) -> None:
    """``row.save(update_fields=...)`` of the outcome columns in one ``UPDATE`` whose SQL
    is built once per connection (the ORM compiles it anew each time; the inbox has no
    signal receivers to tell)."""
    alias = router.db_for_write(WebhookEvent)
    connection = connections[alias]
    sql: str | None = getattr(connection, "_paywall_outcome_sql", None)
    if sql is None:
        quote = connection.ops.quote_name
        sql = connection._paywall_outcome_sql = (  # type: ignore[attr-defined]
            f"UPDATE {quote(WebhookEvent._meta.db_table)} SET "
            + ", ".join(f"{quote(f.column)} = %s" for f in _OUTCOME)
            + f" WHERE {quote(WebhookEvent._meta.pk.column)} = %s"
        )
    params = [f.get_db_prep_save(getattr(row, f.attname), connection) for f in _OUTCOME]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, row.pk])


def _read_again(program: MembershipProgram, row: WebhookEvent) -> Sequence[BillingEvent]:
    """The events of a stored body that was verified on arrival but could not be read.

    :raises UnknownShape: it still cannot be read, or its provider cannot read a stored
        body (it has no ``translate_body``).
    """
    read = getattr(program.providers[row.provider], "translate_body", None)
    if read is None:
        raise UnknownShape(f"provider {row.provider!r} cannot read a stored webhook body again")
    events: Sequence[BillingEvent] = read(bytes(row.body))
    return events


def _record_failure(row: WebhookEvent, exc: BaseException) -> WebhookEvent:
    """Record that applying ``row`` failed with ``exc``, in a transaction of its own (the
    attempt's was rolled back); returns the row as stored.

    Retried a few times when the database refuses (SQLite's lock outlasting its busy
    timeout); if it never accepts, the row keeps its status, stays due, and the error is
    raised.
    """
    logger.error(
        "webhook %s:%s failed: %s",
        row.provider,
        row.event_id,
        exc,
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    error = "".join(traceback.format_exception_only(exc)).strip()
    last: DatabaseError | None = None
    for pause in _RECORD_PAUSES:
        time.sleep(pause)
        try:
            return _store_failure(row, error)
        except DatabaseError as refused:
            logger.warning(
                "webhook %s:%s: could not record the failure (%s)",
                row.provider,
                row.event_id,
                refused,
            )
            last = refused
            if transaction.get_connection().in_atomic_block:
                break  # the caller's transaction is broken; it must roll back first
    logger.error(
        "webhook %s:%s stays %s and due: its failure could not be recorded",
        row.provider,
        row.event_id,
        row.status,
    )
    assert last is not None
    raise last from exc


def _store_failure(given: WebhookEvent, error: str) -> WebhookEvent:
    with transaction.atomic():
        row = WebhookEvent.objects.select_for_update().filter(pk=given.pk).first()
        if row is None:
            return given  # deleted meanwhile
        if row.status in _DONE:
            return row  # applied by another worker meanwhile
        row.attempts += 1
        if row.attempts >= int(conf.get("INBOX_MAX_ATTEMPTS")):
            row.status = WebhookEvent.Status.DEAD
            row.next_attempt_at = None
        else:
            row.status = WebhookEvent.Status.FAILED
            row.next_attempt_at = timezone.now() + backoff(row.attempts)
        row.last_error = error
        row.save(update_fields=["status", "attempts", "last_error", "next_attempt_at"])
        return row


def process_pending(limit: int = 100) -> int:
    """Process due rows, oldest first; returns how many were tried (see :func:`process_due`)."""
    return process_due(limit)
