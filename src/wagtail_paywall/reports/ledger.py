"""Writing the membership ledger (:class:`~wagtail_paywall.models.LedgerEntry`).

This module is an adapter plugin: on the core's ``membership_changed`` hook it records the
change of stored state, compared with the membership's last ledger entry (not with the
hook's ``before``), so a change is recorded once however often it is reported: a
duplicated webhook stores nothing, a late older snapshot is not stored, and a change that
moves nothing the metrics read (a new period end, a renewal at the same price) writes no
row. :func:`backfill` writes the history of memberships stored before the ledger existed;
the first change recorded for such a membership writes that history first, so the ledger
is the same whether the backfill runs before or after it.
See ``docs/metrics.md`` (The ledger).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime

from django.db import IntegrityError, transaction
from django.db.models import Max, Min
from django.utils import timezone

from membership_sdk import BillingEvent, Catalog, hookimpl
from membership_sdk import membership as core
from membership_sdk.errors import UnknownPrice
from membership_sdk.membership import PAYING, TERMINAL, Status
from membership_sdk.metrics import ended_at, monthly_recurring

from ..models import LedgerEntry, Membership
from ..program import get_program
from . import cache

Kind = LedgerEntry.Kind
State = LedgerEntry.State
BATCH = 2000


@dataclass(frozen=True, slots=True)
class Point:
    """What the ledger knows of a membership at one instant."""

    status: str
    state: str
    mrr: int
    currency: str
    tier: str

    @classmethod
    def none(cls) -> Point:
        return cls("", State.NONE, 0, "", "")


def point(membership: core.Membership, catalog: Catalog, at: datetime) -> Point:
    """The membership's state and MRR at ``at`` (a price the catalog lost counts 0)."""
    try:
        price = catalog.price(membership.price_id or "", include_archived=True)
    except UnknownPrice:
        price = None
    mrr = round(monthly_recurring(membership, price, at)) if price is not None else 0
    if membership.status is Status.TRIALING:
        state = State.TRIALING
    elif membership.status in PAYING:
        state = State.PAID if mrr > 0 else State.UNPAID
    elif membership.status is Status.PAUSED:
        state = State.UNPAID
    else:
        state = State.NONE
    return Point(
        membership.status.value,
        state,
        mrr if state == State.PAID else 0,
        price.currency if price is not None else "",
        membership.tier,
    )


def movement(before: Point, after: Point, paid_before: bool) -> str:
    """The kind of a move from ``before`` to ``after`` (same currency); ``paid_before``:
    the member paid for some membership earlier (a return is a reactivation)."""
    if before.mrr == 0 and after.mrr > 0:
        return Kind.REACTIVATED if paid_before else Kind.NEW
    if before.mrr > 0 and after.mrr == 0:
        return Kind.CHURNED
    if after.mrr > before.mrr:
        return Kind.EXPANSION
    if after.mrr < before.mrr:
        return Kind.CONTRACTION
    return Kind.CHANGED


def _change(state: str, before: Point, after: Point) -> int:
    """+1 when ``after`` entered ``state``, -1 when it left it, else 0."""
    return (after.state == state) - (before.state == state)


def month(at: datetime) -> date:
    return timezone.localtime(at).date().replace(day=1) if timezone.is_aware(at) else at.date()


def entries(
    membership_id: str,
    member_id: str,
    seq: int,
    before: Point,
    after: Point,
    at: datetime,
    *,
    paid_before: bool,
    cohort: date | None,
    reason: str = "",
) -> list[LedgerEntry]:
    """The rows recording ``before`` -> ``after``: none when nothing the metrics read moved;
    two when a paying membership changed currency (a churn in the old one, then a start)."""
    if before == after:
        return []
    rows: list[LedgerEntry] = []
    if before.mrr > 0 and after.currency != before.currency:
        gone = Point(after.status, State.NONE, 0, before.currency, before.tier)
        rows += entries(
            membership_id, member_id, seq, before, gone, at, paid_before=True, cohort=cohort
        )
        before, seq, paid_before = Point.none(), seq + 1, True
    if cohort is None and after.mrr > 0:
        cohort = month(at)
    kind = movement(before, after, paid_before)
    rows.append(
        LedgerEntry(
            membership_id=membership_id,
            seq=seq,
            member_id=member_id,
            at=at,
            kind=kind,
            tier=after.tier or before.tier,
            currency=after.currency or before.currency,
            status_before=before.status,
            status_after=after.status,
            state_before=before.state,
            state_after=after.state,
            mrr_before=before.mrr,
            mrr_after=after.mrr,
            cohort=cohort,
            cancel_reason=reason if kind == Kind.CHURNED else "",
            month=month(at),
            paid=_change(State.PAID, before, after),
            trialing=_change(State.TRIALING, before, after),
            unpaid=_change(State.UNPAID, before, after),
        )
    )
    return rows


def _last_point(row: LedgerEntry) -> Point:
    return Point(row.status_after, row.state_after, row.mrr_after, row.currency, row.tier)


def record(
    before: core.Membership | None,
    after: core.Membership,
    at: datetime | None = None,
    catalog: Catalog | None = None,
) -> list[LedgerEntry]:
    """Record ``after`` (as stored at ``at``, default now) in the ledger; returns the rows
    written (none when it moved nothing since the membership's last entry).

    Without an entry yet, the change is taken from ``before`` (``None``: a new
    membership). Two writers racing for the same membership collide on the entry's
    sequence number; the loser reads the winner's entry and records only what remains.
    """
    at = at or timezone.now()
    catalog = catalog or get_program().catalog
    new = point(after, catalog, at)
    for attempt in range(3):
        try:
            with transaction.atomic():
                rows = _record(before, after, new, at, catalog, retry=attempt > 0)
        except IntegrityError:
            if attempt == 2:
                raise
            continue
        if rows:
            # Now (the writer's own next read sees it) and after the commit (a report
            # computed meanwhile from the old rows is not kept).
            cache.changed()
            transaction.on_commit(cache.changed)
        return rows
    return []  # pragma: no cover - the loop returns or raises


def _record(
    before: core.Membership | None,
    after: core.Membership,
    new: Point,
    at: datetime,
    catalog: Catalog,
    *,
    retry: bool = False,
) -> list[LedgerEntry]:
    # A membership the program has just created has no entry yet: no need to look, unless
    # a racing writer of its first entry won (this is the retry after colliding on seq 1).
    last = (
        None
        if before is None and not retry
        else LedgerEntry.objects.filter(membership_id=after.id).order_by("-seq").first()
    )
    if last is not None:
        old, seq = _last_point(last), last.seq + 1
        if old == new:
            return []
    elif before is not None and point(before, catalog, at) == new:
        return []
    # The member's cohort (every entry of theirs carries the same one) and whether they
    # ever paid, in one read.
    member = LedgerEntry.objects.filter(member_id=after.member_id).aggregate(
        cohort=Min("cohort"), most=Max("mrr_after")
    )
    cohort = member["cohort"]
    paid_before = (member["most"] or 0) > 0
    opening: list[LedgerEntry] = []
    if last is None:
        # A membership stored before the ledger existed: first its history up to
        # ``before`` (the opening entries the backfill would write), then the change.
        old, seq = Point.none(), 1
        if before is not None:
            opening, old = _history_entries(before, catalog, at, paid_before, cohort)
            seq += len(opening)
            for entry in opening:
                cohort = cohort or entry.cohort
                paid_before = paid_before or entry.mrr_after > 0
    rows = opening + entries(
        after.id,
        after.member_id,
        seq,
        old,
        new,
        at,
        paid_before=paid_before,
        cohort=cohort,
        reason=after.cancel_reason,
    )
    return LedgerEntry.objects.bulk_create(rows)


@hookimpl
def membership_changed(
    before: core.Membership | None, after: core.Membership, event: BillingEvent | None
) -> None:
    """Record every stored membership change (this module is an adapter plugin)."""
    record(before, after, event.occurred_at if event is not None else None)


# -- backfill -------------------------------------------------------------------------------
def history(
    m: core.Membership, catalog: Catalog, now: datetime
) -> Iterator[tuple[datetime, Point]]:
    """The states a stored membership went through, as far as its dates tell: its start
    (on trial, or paying its price), the end of a trial it converted from, its current
    state (a pause, a 100%-off coupon) and its end."""
    start = m.started_at
    if start is None or m.status in (Status.INCOMPLETE, Status.UNKNOWN):
        return
    trial = m.trial_end is not None and m.trial_end > start
    converted = trial and m.status is not Status.TRIALING
    if trial:
        yield start, point(m.replace(status=Status.TRIALING), catalog, start)
    paid_from = m.trial_end if trial and m.trial_end is not None else start
    if m.status in TERMINAL:
        if not trial or converted:
            yield paid_from, point(m.replace(status=Status.ACTIVE), catalog, paid_from)
        end = min(ended_at(m) or now, now)
        yield max(end, paid_from), point(m, catalog, now)
        return
    if m.status is not Status.TRIALING:
        yield paid_from, point(m.replace(status=Status.ACTIVE), catalog, paid_from)
    yield max(min(now, paid_from), start), point(m, catalog, now)


def _history_entries(
    m: core.Membership,
    catalog: Catalog,
    now: datetime,
    paid_before: bool,
    cohort: date | None,
) -> tuple[list[LedgerEntry], Point]:
    """The entries (from seq 1) writing ``m``'s :func:`history`, and the last point."""
    rows: list[LedgerEntry] = []
    prev = Point.none()
    for at, new in history(m, catalog, now):
        for entry in entries(
            m.id,
            m.member_id,
            len(rows) + 1,
            prev,
            new,
            at,
            paid_before=paid_before,
            cohort=cohort,
            reason=m.cancel_reason,
        ):
            rows.append(entry)
            cohort = cohort or entry.cohort
            paid_before = paid_before or entry.mrr_after > 0
        prev = new
    return rows, prev


def backfill(progress: Callable[[int, int], None] | None = None) -> int:
    """Write the ledger history of every membership that has no entry yet (in order of
    start, so each member's cohort is the month they first paid); returns the rows
    written. ``progress(done, total)`` is called after each batch. Running it again
    writes nothing more."""
    now = timezone.now()
    catalog = get_program().catalog
    recorded = LedgerEntry.objects.values("membership_id")
    todo = Membership.objects.exclude(id__in=recorded).order_by("started_at", "id")
    total = todo.count()
    cohorts: dict[str, date] = dict(
        LedgerEntry.objects.filter(cohort__isnull=False)
        .values("member_id")
        .annotate(c=Min("cohort"))
        .values_list("member_id", "c")
    )
    written = done = 0
    batch: list[LedgerEntry] = []
    for row in todo.iterator(chunk_size=BATCH):
        m = row.to_core()
        rows, _ = _history_entries(
            m, catalog, now, m.member_id in cohorts, cohorts.get(m.member_id)
        )
        for entry in rows:
            if entry.cohort is not None:
                cohorts.setdefault(m.member_id, entry.cohort)
        batch += rows
        done += 1
        if len(batch) >= BATCH:
            LedgerEntry.objects.bulk_create(batch, ignore_conflicts=True)
            written += len(batch)
            batch = []
            if progress is not None:
                progress(done, total)
    if batch:
        LedgerEntry.objects.bulk_create(batch, ignore_conflicts=True)
        written += len(batch)
    if progress is not None:
        progress(done, total)
    if written:
        cache.changed()
    return written
