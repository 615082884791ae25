"""The membership report's figures, summed in the database from the ledger.

Every figure is an aggregate over :class:`~wagtail_paywall.models.LedgerEntry` rows (or
grants, or cancellation answers), grouped by month: the database returns a few rows per
month and currency, never one per member, and Python only adds those up month by month.
Each result is a frozen dataclass, cached by :func:`.cache.cached` until the ledger
changes. ``docs/metrics.md`` defines every figure.

- :func:`movements`: MRR per currency and its monthly movements; paid and trialing
  members per month; churn by members and by revenue; trial conversion.
- :func:`members_now`: members now, split into paid, trialing, paying nothing, gift, comp.
- :func:`cohorts`: the retention triangle by month of joining, and realised revenue.
- :func:`lifetime_value`: ARPU, monthly revenue churn and the expected LTV per currency.
- :func:`churn_reasons`: churned memberships by the reason their member gave.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from fractions import Fraction

from django.db.models import (
    Count,
    F,
    Q,
    Sum,
)
from django.utils import timezone

from membership_sdk.membership import GrantKind

from ..models import CancellationFeedback, Grant, LedgerEntry
from . import cache

Kind = LedgerEntry.Kind
State = LedgerEntry.State

#: The periods a publisher can pick, in months; the first is the default.
PERIODS = (12, 6, 24)
#: Complete months averaged for the monthly revenue churn behind the expected LTV.
CHURN_MONTHS = 3
#: Movements in the order the charts stack them.
MOVEMENTS = (Kind.NEW, Kind.REACTIVATED, Kind.EXPANSION, Kind.CONTRACTION, Kind.CHURNED)
UNKNOWN_REASON = "unknown"


@dataclass(frozen=True, slots=True)
class Cell:
    """The ledger rows of one month, currency, kind and cohort, summed."""

    month: date
    currency: str
    kind: str
    cohort: date | None
    rows: int
    mrr: int
    paid: int
    trialing: int
    unpaid: int
    trials_ended: int
    converted: int


@dataclass(frozen=True, slots=True)
class Summary:
    """The ledger summed by :func:`summary`, at ``as_of``."""

    as_of: datetime
    cells: list[Cell]


def summary(now: datetime | None = None) -> Summary:
    """The whole ledger up to ``now`` summed by month, currency, kind and cohort: the one
    scan of the ledger that :func:`movements`, :func:`members_now` and :func:`cohorts` read
    (cached, so a report page and the home panel scan it once between ledger changes)."""
    if now is not None:
        return _summary(now)
    return cache.cached("summary", lambda: _summary(timezone.now()))


def _summary(now: datetime) -> Summary:
    rows = (
        LedgerEntry.objects.filter(at__lte=now)
        .values_list("month", "currency", "kind", "cohort")
        .annotate(
            n=Count("id"),
            mrr=Sum(F("mrr_after") - F("mrr_before")),
            paid_=Sum("paid"),
            trialing_=Sum("trialing"),
            unpaid_=Sum("unpaid"),
            ended=Count("id", filter=Q(trialing=-1)),
            converted=Count("id", filter=Q(trialing=-1, paid=1)),
        )
        .order_by()
    )
    return Summary(now, [Cell(*row) for row in rows])


def month_start(at: datetime) -> date:
    """The first day of ``at``'s month, in the site's time zone."""
    return timezone.localtime(at).date().replace(day=1)


def add_months(day: date, n: int) -> date:
    total = day.year * 12 + day.month - 1 + n
    return date(total // 12, total % 12 + 1, 1)


def months_ending(now: datetime, n: int) -> list[date]:
    """The first days of the ``n`` months up to and including ``now``'s."""
    last = month_start(now)
    return [add_months(last, i - n + 1) for i in range(n)]


def _rate(part: int | Fraction, whole: int | Fraction) -> float | None:
    return float(Fraction(part) / Fraction(whole)) if whole else None


@dataclass(frozen=True, slots=True)
class MonthFigures:
    """One month of one currency's MRR, and its members (all currencies, paid or trialing
    memberships at the month's end)."""

    month: date
    #: MRR at the month's start and end, in minor units.
    mrr_start: int
    mrr_end: int
    #: Movement -> MRR it moved within the month (churned and contraction as positive).
    moved: dict[str, int]
    #: Paid memberships at the month's start and end, and churned within it.
    paid_start: int
    paid_end: int
    churned: int

    @property
    def member_churn(self) -> float | None:
        """Churned paid memberships / paid memberships at the month's start."""
        return _rate(self.churned, self.paid_start)

    @property
    def revenue_churn(self) -> float | None:
        """(Churned + contraction MRR) / MRR at the month's start: gross revenue churn."""
        return _rate(self.moved[Kind.CHURNED] + self.moved[Kind.CONTRACTION], self.mrr_start)


@dataclass(frozen=True, slots=True)
class Movements:
    """MRR per currency now and month by month, members per month, trial conversion."""

    as_of: datetime
    months: list[date]
    #: Currency -> MRR now, in minor units.
    mrr: dict[str, int]
    #: Currency -> one :class:`MonthFigures` per month of ``months``.
    by_currency: dict[str, list[MonthFigures]]
    #: Month -> (paid, trialing) memberships at its end, all currencies.
    members: dict[date, tuple[int, int]]
    #: Month -> (trials that ended, of which converted to paid).
    trials: dict[date, tuple[int, int]]

    @property
    def trial_conversion(self) -> float | None:
        """Converted / ended trials over the whole period."""
        ended = sum(t for t, _ in self.trials.values())
        return _rate(sum(c for _, c in self.trials.values()), ended)


def movements(months: int = PERIODS[0], now: datetime | None = None) -> Movements:
    """:class:`Movements` over the ``months`` months up to ``now`` (cached)."""
    if now is not None:
        return _movements(months, summary(now))
    return cache.cached(f"movements:{months}", lambda: _movements(months, summary()))


def _movements(n: int, summed: Summary) -> Movements:
    now, cells = summed.as_of, summed.cells
    months = months_ending(now, n)
    # month -> currency -> kind -> [mrr, count, paid delta]
    grid: dict[date, dict[str, dict[str, list[int]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(lambda: [0, 0, 0]))
    )
    members_delta: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    trials: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    currencies: set[str] = set()
    for row in cells:
        cell = grid[row.month][row.currency][row.kind]
        cell[0] += row.mrr
        cell[1] += row.rows
        cell[2] += row.paid
        members_delta[row.month][0] += row.paid
        members_delta[row.month][1] += row.trialing
        trials[row.month][0] += row.trials_ended
        trials[row.month][1] += row.converted
        if row.currency:
            currencies.add(row.currency)

    first = months[0]
    before = [m for m in grid if m < first]
    by_currency: dict[str, list[MonthFigures]] = {}
    mrr_now: dict[str, int] = {}
    for currency in sorted(currencies):
        mrr = sum(sum(k[0] for k in grid[m][currency].values()) for m in before)
        paid = sum(sum(k[2] for k in grid[m][currency].values()) for m in before)
        series = []
        for month in months:
            kinds = grid[month][currency] if month in grid else {}
            moved = {kind.value: abs(kinds[kind][0]) if kind in kinds else 0 for kind in MOVEMENTS}
            delta = sum(k[0] for k in kinds.values())
            paid_delta = sum(k[2] for k in kinds.values())
            churned = kinds[Kind.CHURNED][1] if Kind.CHURNED in kinds else 0
            series.append(
                MonthFigures(month, mrr, mrr + delta, moved, paid, paid + paid_delta, churned)
            )
            mrr, paid = mrr + delta, paid + paid_delta
        by_currency[currency] = series
        if mrr:
            mrr_now[currency] = mrr

    paid = sum(members_delta[m][0] for m in members_delta if m < first)
    trialing = sum(members_delta[m][1] for m in members_delta if m < first)
    members: dict[date, tuple[int, int]] = {}
    for month in months:
        paid += members_delta[month][0] if month in members_delta else 0
        trialing += members_delta[month][1] if month in members_delta else 0
        members[month] = (paid, trialing)
    return Movements(
        as_of=now,
        months=months,
        mrr=mrr_now,
        by_currency=by_currency,
        members=members,
        trials={m: (trials[m][0], trials[m][1]) if m in trials else (0, 0) for m in months},
    )


@dataclass(frozen=True, slots=True)
class MembersNow:
    """Members at ``as_of``, split by what they pay. Memberships count once each; a gift
    or comp counts its holders (a member holding both counts once in each)."""

    as_of: datetime
    #: Memberships paying something (active or past due, after discounts).
    paid: int
    #: Memberships on a trial.
    trialing: int
    #: Active memberships paying nothing (a 100%-off coupon) or paused.
    unpaid: int
    #: Members holding a gift, and a comp (complimentary grant), now.
    gift: int
    comp: int

    @property
    def total(self) -> int:
        return self.paid + self.trialing + self.unpaid + self.gift + self.comp


def members_now(now: datetime | None = None) -> MembersNow:
    """:class:`MembersNow` (cached)."""
    if now is not None:
        return _members_now(summary(now))
    return cache.cached("members", lambda: _members_now(summary()))


def _members_now(summed: Summary) -> MembersNow:
    now, cells = summed.as_of, summed.cells
    states = {
        "paid": sum(c.paid for c in cells),
        "trialing": sum(c.trialing for c in cells),
        "unpaid": sum(c.unpaid for c in cells),
    }
    live = Q(revoked_at__isnull=True, starts_at__lte=now) & (
        Q(ends_at__isnull=True) | Q(ends_at__gt=now)
    )
    grants = Grant.objects.filter(live, kind__in=[GrantKind.GIFT, GrantKind.COMP]).aggregate(
        gift=Count("member_id", filter=Q(kind=GrantKind.GIFT), distinct=True),
        comp=Count("member_id", filter=Q(kind=GrantKind.COMP), distinct=True),
    )
    return MembersNow(
        now,
        states["paid"] or 0,
        states["trialing"] or 0,
        states["unpaid"] or 0,
        grants["gift"],
        grants["comp"],
    )


@dataclass(frozen=True, slots=True)
class Cohort:
    """The members who first paid in ``month``, and what became of their memberships."""

    month: date
    #: Memberships that started paying in the cohort's month (new, not reactivated).
    size: int
    #: Share of ``size`` still paid at the end of each month from the cohort's own
    #: (index 0) to the report's last: the row of the triangle.
    retained: list[float]
    #: Currency -> revenue the cohort paid so far (each month's MRR at its end), per
    #: member of the cohort, in minor units: the realised LTV.
    realised: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Cohorts:
    as_of: datetime
    cohorts: list[Cohort]


def cohorts(months: int = PERIODS[0], now: datetime | None = None) -> Cohorts:
    """The retention triangle of the cohorts of the last ``months`` months (cached)."""
    if now is not None:
        return _cohorts(months, summary(now))
    return cache.cached(f"cohorts:{months}", lambda: _cohorts(months, summary()))


def _cohorts(n: int, summed: Summary) -> Cohorts:
    now = summed.as_of
    months = months_ending(now, n)
    paid: dict[date, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    mrr: dict[date, dict[str, dict[date, int]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(int))
    )
    size: dict[date, int] = defaultdict(int)
    for row in summed.cells:
        if row.cohort is None or row.cohort < months[0]:
            continue
        paid[row.cohort][row.month] += row.paid
        mrr[row.cohort][row.currency][row.month] += row.mrr
        if row.kind == Kind.NEW:
            size[row.cohort] += row.rows
    result = []
    for cohort in months:
        if not size.get(cohort):
            continue
        retained, running = [], 0
        for month in months[months.index(cohort) :]:
            running += paid[cohort].get(month, 0)
            retained.append(running / size[cohort])
        realised = {}
        for currency, by_month in sorted(mrr[cohort].items()):
            level = total = 0
            for month in months[months.index(cohort) :]:
                level += by_month.get(month, 0)
                total += level
            realised[currency] = round(total / size[cohort])
        result.append(Cohort(cohort, size[cohort], retained, realised))
    return Cohorts(now, result)


@dataclass(frozen=True, slots=True)
class LifetimeValue:
    """Expected lifetime value of a paying membership in one currency."""

    currency: str
    #: MRR / paid memberships now, in minor units.
    arpu: int
    #: Mean monthly gross revenue churn over the last complete months (``None``: no MRR).
    revenue_churn: float | None

    @property
    def expected_months(self) -> float | None:
        """1 / monthly revenue churn (``None`` without churn: no end in sight)."""
        return 1 / self.revenue_churn if self.revenue_churn else None

    @property
    def ltv(self) -> int | None:
        """ARPU x expected lifetime = ARPU / monthly revenue churn, in minor units."""
        months = self.expected_months
        return round(self.arpu * months) if months is not None else None


def lifetime_value(report: Movements) -> list[LifetimeValue]:
    """LTV per currency from a :class:`Movements` report (no query of its own): ARPU now,
    and the revenue churn averaged over its last :data:`CHURN_MONTHS` complete months."""
    result = []
    for currency, series in report.by_currency.items():
        last = series[-1]
        if not last.paid_end:
            continue
        complete = series[-1 - CHURN_MONTHS : -1]
        lost = sum(m.moved[Kind.CHURNED] + m.moved[Kind.CONTRACTION] for m in complete)
        start = sum(m.mrr_start for m in complete)
        result.append(
            LifetimeValue(currency, round(last.mrr_end / last.paid_end), _rate(lost, start))
        )
    return result


@dataclass(frozen=True, slots=True)
class ChurnReasons:
    """Paid memberships that churned in the period, by the reason their member gave when
    canceling (``unknown``: no answer, e.g. a failed payment or a cancellation made at
    the provider). A membership that gave two different answers counts under both."""

    as_of: datetime
    since: date
    #: Reason value -> churned memberships, most frequent first.
    counts: dict[str, int]


def churn_reasons(months: int = PERIODS[0], now: datetime | None = None) -> ChurnReasons:
    """:class:`ChurnReasons` over the last ``months`` months (cached)."""
    if now is not None:
        return _churn_reasons(months, now)
    return cache.cached(f"reasons:{months}", lambda: _churn_reasons(months, timezone.now()))


def _churn_reasons(n: int, now: datetime) -> ChurnReasons:
    since = months_ending(now, n)[0]
    start = timezone.make_aware(datetime.combine(since, datetime.min.time()))
    churned = LedgerEntry.objects.filter(kind=Kind.CHURNED, at__gte=start, at__lte=now)
    total = churned.count()
    # The answers of the churned memberships (a semi-join: no lookup per churned row).
    answered = (
        CancellationFeedback.objects.filter(membership_id__in=churned.values("membership_id"))
        .values("reason")
        .annotate(n=Count("membership_id", distinct=True))
        .order_by()
    )
    counts = {row["reason"]: row["n"] for row in answered}
    unknown = total - sum(counts.values())
    if unknown > 0:
        counts[UNKNOWN_REASON] = unknown
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ChurnReasons(now, since, dict(ordered))
