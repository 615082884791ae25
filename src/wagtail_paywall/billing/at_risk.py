"""Members at risk: the daily job that marks memberships deviating from normal, and why.

:func:`find_members_at_risk` evaluates each :class:`~wagtail_paywall.models.AtRisk.Reason`
as one SQL query over the memberships (aggregates and ``EXISTS`` subqueries, never a Python
loop over members), then, per reason, in one transaction:

1. closes the open marks whose reason no longer holds: ``churned`` when the membership
   ended (canceled or expired), ``saved`` otherwise;
2. inserts a mark for each membership newly showing the reason, with one
   ``INSERT ... SELECT`` that skips a mark already open (a partial unique index keeps two
   runs at once from adding one twice).

Then :func:`notify` calls the ``membership_at_risk`` hook once per new mark; a mark whose
hook call failed is called again on the next run.

Reads count from :class:`~wagtail_paywall.models.ReadingActivity`
(:mod:`wagtail_paywall.billing.activity`). See ``docs/at-risk.md``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import EmptyResultSet, ImproperlyConfigured
from django.db import connections, router, transaction
from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import (
    Coalesce,
    Concat,
    ExtractMonth,
    ExtractYear,
    RowNumber,
    TruncDate,
)
from django.utils import timezone

from membership_sdk import MembershipProgram
from membership_sdk.membership import Status

from .. import conf
from ..models import AtRisk, Grant, Membership, ReadingActivity
from ..program import get_program
from .activity import activity_day

logger = logging.getLogger(__name__)

Reason = AtRisk.Reason
Outcome = AtRisk.Outcome

#: Memberships that are members now: they give access or are about to charge.
LIVE = (Status.TRIALING.value, Status.ACTIVE.value, Status.PAST_DUE.value)
#: A membership in one of these has ended: its open marks close as churned.
ENDED = (Status.CANCELED.value, Status.EXPIRED.value)
#: Days of reading compared with the cohort's.
COHORT_WINDOW_DAYS = 30
#: PostgreSQL's ``work_mem`` inside the job's transactions (only there).
JOB_WORK_MEM = "256MB"
#: Marks handed to the hook per transaction.
NOTIFY_BATCH = 500


@dataclass(frozen=True)
class Thresholds:
    """The job's settings, from ``PAYWALL["AT_RISK"]`` (each key optional)."""

    #: A paying member with no read in this many days is a sleeper.
    SLEEPER_DAYS: int = 21
    #: A trial with at most this many reads is quiet...
    TRIAL_READS: int = 2
    #: ...once it is this many days old.
    TRIAL_AFTER_DAYS: int = 3
    #: A downgrade counts for this many days after it took effect.
    DOWNGRADE_DAYS: int = 30
    #: Reads in the last 30 days below this percentage of the cohort's median.
    COHORT_PERCENT: int = 25

    @classmethod
    def from_settings(cls) -> Thresholds:
        """The configured thresholds.

        :raises ImproperlyConfigured: an unknown key, or a value that is not a whole
            number in its range; the message names the key.
        """
        given: Any = conf.get("AT_RISK")
        if not isinstance(given, Mapping):
            raise ImproperlyConfigured(
                f"PAYWALL['AT_RISK'] must be a dict of thresholds, got {given!r}"
            )
        known = {f.name for f in fields(cls)}
        values: dict[str, int] = {}
        for key, value in given.items():
            if key not in known:
                raise ImproperlyConfigured(
                    f"PAYWALL['AT_RISK'] has an unknown key {key!r}; known: {sorted(known)}"
                )
            top = 100 if key == "COHORT_PERCENT" else 3660
            low = 0 if key == "TRIAL_READS" else 1
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= top:
                raise ImproperlyConfigured(
                    f"PAYWALL['AT_RISK'][{key!r}] is {value!r}; expected a whole number "
                    f"from {low} to {top}"
                )
            values[key] = value
        return cls(**values)


# -- the reasons, as querysets of memberships ------------------------------------------------
def _paying() -> Q:
    """Active and charged something (a 100%-off period is not paying)."""
    return Q(status=Status.ACTIVE.value) & (Q(amount__isnull=True) | Q(amount__gt=0))


def _reads_since(since: Any) -> Coalesce:
    """The membership's member's reads on days from ``since`` (an expression or a date)."""
    reads = (
        ReadingActivity.objects.filter(member_id=OuterRef("member_id"), day__gte=since)
        .order_by()
        .values("member_id")
        .annotate(n=Sum("reads"))
        .values("n")
    )
    return Coalesce(Subquery(reads, output_field=IntegerField()), Value(0))


def _rank_of(column: str, ranks: Mapping[str, int]) -> Case | Value:
    """The catalog rank of the tier in ``column`` (-1: a tier the catalog lost)."""
    if not ranks:
        return Value(-1, output_field=IntegerField())
    return Case(
        *[When(**{column: slug}, then=Value(rank)) for slug, rank in sorted(ranks.items())],
        default=Value(-1),
        output_field=IntegerField(),
    )


def sleepers(now: datetime, t: Thresholds) -> QuerySet[Membership]:
    """Paying members, members for ``SLEEPER_DAYS`` at least, with no read in that time."""
    first_day = activity_day(now) - timedelta(days=t.SLEEPER_DAYS - 1)
    recent = ReadingActivity.objects.filter(member_id=OuterRef("member_id"), day__gte=first_day)
    return Membership.objects.filter(
        _paying(), started_at__lte=now - timedelta(days=t.SLEEPER_DAYS)
    ).exclude(Exists(recent))


def payment_failed(now: datetime, t: Thresholds) -> QuerySet[Membership]:
    """A renewal payment failed: the membership is past due."""
    return Membership.objects.filter(status=Status.PAST_DUE.value)


def canceling(now: datetime, t: Thresholds) -> QuerySet[Membership]:
    """A live membership set to cancel at the end of its period."""
    return Membership.objects.filter(status__in=LIVE, cancel_at_period_end=True)


def quiet_trials(now: datetime, t: Thresholds) -> QuerySet[Membership]:
    """Trials ``TRIAL_AFTER_DAYS`` old or more with at most ``TRIAL_READS`` reads since
    they began."""
    return (
        Membership.objects.filter(
            status=Status.TRIALING.value,
            started_at__lte=now - timedelta(days=t.TRIAL_AFTER_DAYS),
        )
        .annotate(trial_day=TruncDate("started_at"))
        .annotate(trial_reads=_reads_since(OuterRef("trial_day")))
        .filter(trial_reads__lte=t.TRIAL_READS)
    )


def downgrades(now: datetime, t: Thresholds, ranks: Mapping[str, int]) -> QuerySet[Membership]:
    """Live memberships that moved to a lower-ranked tier in the last ``DOWNGRADE_DAYS``.

    A plan change keeps the tier held before it as an ended ``membership`` grant whose
    source names the subscription (``membership_sdk.lifecycle.record_plan_history``).
    """
    before = (
        Grant.objects.filter(
            member_id=OuterRef("member_id"),
            kind=Grant.Kind.MEMBERSHIP,
            source__startswith=OuterRef("plan_source"),
            ends_at__gte=now - timedelta(days=t.DOWNGRADE_DAYS),
            ends_at__lte=now,
        )
        .annotate(old_rank=_rank_of("tier", ranks))
        .filter(old_rank__gt=OuterRef("rank"))
    )
    return (
        Membership.objects.filter(status__in=LIVE)
        .annotate(
            rank=_rank_of("tier", ranks),
            plan_source=Concat(
                Value("plan:"),
                "provider",
                Value(":"),
                Coalesce("provider_subscription_id", Value("")),
                Value(":"),
                output_field=CharField(),
            ),
        )
        .filter(Exists(before))
    )


def _cohort_members(now: datetime) -> QuerySet[Membership]:
    """Paying members for 30 days at least, with their cohort (year * 100 + month of
    joining) and their reads of the last 30 days."""
    first_day = activity_day(now) - timedelta(days=COHORT_WINDOW_DAYS - 1)
    return Membership.objects.filter(
        _paying(), started_at__lte=now - timedelta(days=COHORT_WINDOW_DAYS)
    ).annotate(
        cohort=ExtractYear("started_at") * 100 + ExtractMonth("started_at"),
        recent_reads=_reads_since(first_day),
    )


def cohort_medians(now: datetime) -> dict[int, float]:
    """The median of the last 30 days' reads per cohort (``{202605: 4.0}``).

    Only the one or two middle members of each cohort leave the database.
    """
    ranked = (
        _cohort_members(now)
        .annotate(
            position=Window(
                RowNumber(), partition_by=[F("cohort")], order_by=[F("recent_reads").asc()]
            ),
            size=Window(Count("pk"), partition_by=[F("cohort")]),
        )
        # The middle one (odd size) or two (even size): size <= 2 * position <= size + 2.
        .filter(position__gte=F("size") / 2.0, position__lte=F("size") / 2.0 + 1)
        .values_list("cohort", "recent_reads", "position", "size")
    )
    middles: dict[int, list[int]] = {}
    for cohort, reads, position, size in ranked:
        if size <= 2 * position <= size + 2:
            middles.setdefault(cohort, []).append(reads)
    return {cohort: sum(reads) / len(reads) for cohort, reads in middles.items()}


def below_cohort(now: datetime, t: Thresholds) -> QuerySet[Membership]:
    """Paying members whose reads of the last 30 days are below ``COHORT_PERCENT`` % of
    the median of the paying members who joined in the same month.

    On PostgreSQL one statement sums the window's reads per member in a single pass
    (``GROUP BY``) and takes each cohort's median with ``percentile_cont``; elsewhere the
    medians come from :func:`cohort_medians` and each member's reads from a subquery.
    """
    if connections[router.db_for_read(Membership)].vendor == "postgresql":
        return _below_cohort_postgres(now, t)
    medians = cohort_medians(now)
    limits = {c: m * t.COHORT_PERCENT / 100 for c, m in medians.items() if m > 0}
    if not limits:
        return Membership.objects.none()
    limit = Case(
        *[When(cohort=c, then=Value(v)) for c, v in sorted(limits.items())],
        default=Value(0.0),
        output_field=FloatField(),
    )
    return _cohort_members(now).annotate(limit=limit).filter(recent_reads__lt=F("limit"))


def _below_cohort_postgres(now: datetime, t: Thresholds) -> QuerySet[Membership]:
    membership = Membership._meta.db_table
    activity = ReadingActivity._meta.db_table
    zone = timezone.get_current_timezone_name() if settings.USE_TZ else "UTC"
    sql = f"""
        WITH members AS (
            SELECT m.id, m.member_id,
                   EXTRACT(YEAR FROM m.started_at AT TIME ZONE %s) * 100
                   + EXTRACT(MONTH FROM m.started_at AT TIME ZONE %s) AS cohort
            FROM "{membership}" m
            WHERE m.status = %s AND (m.amount IS NULL OR m.amount > 0)
              AND m.started_at <= %s
        ), recent AS (
            SELECT a.member_id, SUM(a.reads) AS reads FROM "{activity}" a
            WHERE a.day >= %s GROUP BY a.member_id
        ), scored AS (
            SELECT members.id, members.cohort, COALESCE(recent.reads, 0) AS reads
            FROM members LEFT JOIN recent ON recent.member_id = members.member_id
        ), medians AS (
            SELECT cohort, percentile_cont(0.5) WITHIN GROUP (ORDER BY reads) AS median
            FROM scored GROUP BY cohort
        )
        SELECT scored.id FROM scored JOIN medians ON medians.cohort = scored.cohort
        WHERE scored.reads * 100.0 < medians.median * %s
    """
    first_day = activity_day(now) - timedelta(days=COHORT_WINDOW_DAYS - 1)
    params = (
        zone,
        zone,
        Status.ACTIVE.value,
        now - timedelta(days=COHORT_WINDOW_DAYS),
        first_day,
        t.COHORT_PERCENT,
    )
    return Membership.objects.filter(pk__in=RawSQL(sql, params))


def flagged(
    reason: str, now: datetime, t: Thresholds, ranks: Mapping[str, int]
) -> QuerySet[Membership]:
    """The memberships showing ``reason`` at ``now``.

    :raises ValueError: ``reason`` is not one of :class:`AtRisk.Reason`.
    """
    if reason == Reason.SLEEPER:
        return sleepers(now, t)
    if reason == Reason.PAYMENT_FAILED:
        return payment_failed(now, t)
    if reason == Reason.CANCELING:
        return canceling(now, t)
    if reason == Reason.QUIET_TRIAL:
        return quiet_trials(now, t)
    if reason == Reason.DOWNGRADE:
        return downgrades(now, t, ranks)
    if reason == Reason.BELOW_COHORT:
        return below_cohort(now, t)
    raise ValueError(f"unknown at-risk reason {reason!r}; known: {list(Reason.values)}")


# -- the job ----------------------------------------------------------------------------------
@dataclass
class AtRiskRun:
    """What one run of the job did."""

    now: datetime
    #: New marks per reason.
    marked: dict[str, int] = field(default_factory=dict)
    saved: int = 0
    churned: int = 0
    notified: int = 0
    #: Marks whose ``membership_at_risk`` hook call raised; retried on the next run.
    failed: int = 0


def _close(reason: str, current: QuerySet[Membership], now: datetime) -> tuple[int, int]:
    """Close ``reason``'s open marks whose membership is not in ``current``: (saved, churned)."""
    gone = AtRisk.objects.filter(outcome=Outcome.OPEN, reason=reason).exclude(
        Exists(current.filter(pk=OuterRef("membership_id")))
    )
    churned = gone.filter(membership__status__in=ENDED).update(
        outcome=Outcome.CHURNED, resolved_at=now
    )
    saved = gone.update(outcome=Outcome.SAVED, resolved_at=now)
    return saved, churned


def _mark(reason: str, current: QuerySet[Membership], now: datetime, *, notified: bool) -> int:
    """Insert an open mark for each membership of ``current`` without one; how many.

    ``notified``: nobody implements the hook, so the marks are stored as notified.
    """
    new = current.exclude(
        Exists(
            AtRisk.objects.filter(membership_id=OuterRef("pk"), reason=reason, outcome=Outcome.OPEN)
        )
    )
    alias = router.db_for_write(AtRisk)
    connection = connections[alias]
    if connection.vendor not in ("postgresql", "sqlite"):
        marks = (
            AtRisk(
                member_id=m,
                membership_id=pk,
                reason=reason,
                detected_at=now,
                notified_at=now if notified else None,
            )
            for pk, m in new.values_list("pk", "member_id").using(alias).iterator()
        )
        return len(AtRisk.objects.using(alias).bulk_create(marks, ignore_conflicts=True))
    # Named columns: the statement below refers to them by these names.
    chosen = new.annotate(at_risk_membership=F("pk"), at_risk_member=F("member_id"))
    chosen = chosen.values_list("at_risk_membership", "at_risk_member")
    try:
        select, params = chosen.query.get_compiler(using=alias).as_sql()
    except EmptyResultSet:
        return 0  # a reason no membership can show (no cohort has a median yet)
    qn = connection.ops.quote_name
    columns = ", ".join(
        qn(c)
        for c in ("member_id", "membership_id", "reason", "detected_at", "outcome", "notified_at")
    )
    # INSERT ... SELECT: the new marks never leave the database. A mark a concurrent run
    # inserted first is skipped by the partial unique index (one open mark per reason).
    head = "INSERT OR IGNORE INTO" if connection.vendor == "sqlite" else "INSERT INTO"
    tail = "" if connection.vendor == "sqlite" else " ON CONFLICT DO NOTHING"
    sql = (
        f"{head} {qn(AtRisk._meta.db_table)} ({columns}) "
        f"SELECT flagged.at_risk_member, flagged.at_risk_membership, %s, %s, %s, %s "
        f"FROM ({select}) flagged{tail}"
    )
    detected = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        stamp = detected if notified else None
        cursor.execute(sql, [reason, detected, Outcome.OPEN.value, stamp, *params])
        return max(cursor.rowcount, 0)


def find_members_at_risk(
    now: datetime | None = None,
    *,
    program: MembershipProgram | None = None,
    progress: Callable[[str, int, int, int], None] | None = None,
) -> AtRiskRun:
    """Mark the members at risk at ``now`` (default: the program's clock), close the marks
    that cleared, and call the hook for the new ones. Safe to run again at any time.

    :param progress: called after each reason with (reason, new marks, saved, churned).
    :raises ImproperlyConfigured: ``PAYWALL["AT_RISK"]`` is invalid; nothing is changed.
    """
    program = program or get_program()
    now = now or program.clock()
    thresholds = Thresholds.from_settings()
    ranks = dict(program.catalog.rank_of)
    # Without an implementation of the hook there is nobody to tell: stored as notified.
    unheard = not program.pm.hook.membership_at_risk.get_hookimpls()
    run = AtRiskRun(now=now)
    alias = router.db_for_write(AtRisk)
    for reason in Reason.values:
        with transaction.atomic(using=alias):
            if connections[alias].vendor == "postgresql":
                with connections[alias].cursor() as cursor:
                    # Hash the flagged ids and the reads per member in memory, once: with
                    # the default 4 MB PostgreSQL would rescan them per open mark.
                    cursor.execute("SET LOCAL work_mem = %s", [JOB_WORK_MEM])
            current = flagged(reason, now, thresholds, ranks)
            saved, churned = _close(reason, current, now)
            marked = _mark(reason, current, now, notified=unheard)
        run.marked[reason] = marked
        run.saved += saved
        run.churned += churned
        if progress is not None:
            progress(reason, marked, saved, churned)
    run.notified, run.failed = notify(program, now)
    return run


def notify(program: MembershipProgram, now: datetime) -> tuple[int, int]:
    """Call ``membership_at_risk`` for each open mark not yet notified: (notified, failed).

    Without an implementation of the hook the marks are only stamped, in one ``UPDATE``.
    A mark whose call raised stays unstamped, for the next run.
    """
    pending = AtRisk.objects.filter(outcome=Outcome.OPEN, notified_at__isnull=True)
    hook = program.pm.hook.membership_at_risk
    if not hook.get_hookimpls():
        return pending.update(notified_at=now), 0
    notified = failed = 0
    last = 0
    while True:
        with transaction.atomic(using=router.db_for_write(AtRisk)):
            batch = list(
                pending.filter(pk__gt=last)
                .select_related("membership")
                .select_for_update(skip_locked=True, of=("self",))
                .order_by("pk")[:NOTIFY_BATCH]
            )
            if not batch:
                break
            done: list[int] = []
            for mark in batch:
                try:
                    hook(
                        membership=mark.membership.to_core(),
                        reason=mark.reason,
                        detected_at=mark.detected_at,
                    )
                except Exception:
                    logger.exception(
                        "membership_at_risk failed for %r (%s); retried on the next run",
                        mark.membership_id,
                        mark.reason,
                    )
                    failed += 1
                else:
                    done.append(mark.pk)
            AtRisk.objects.filter(pk__in=done).update(notified_at=now)
            notified += len(done)
            last = batch[-1].pk
    return notified, failed
