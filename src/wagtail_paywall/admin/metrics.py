"""The figures of the admin's "Membership metrics" report, from the stored memberships.

The numbers come from :mod:`membership_sdk.metrics`; this module streams it the rows it
reads, narrowed in the database, and caches the result for :data:`CACHE_SECONDS` per
window. See ``docs/wagtail.md`` (The admin) for what each figure means.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from membership_sdk import MembershipError, metrics
from membership_sdk import membership as core
from membership_sdk.membership import GRANTING, PAYING, TERMINAL, UNCOUNTED

from .. import models
from ..caching import cache
from ..program import get_program

#: The churn windows a publisher can pick, in days; the first is the default.
WINDOWS = (30, 90, 365)
CACHE_SECONDS = 5 * 60
CACHE_KEY = "paywall:metrics:{days}"
CHUNK = 2000

_COLUMNS = (
    "id",
    "member_id",
    "tier",
    "status",
    "provider",
    "price_id",
    "started_at",
    "current_period_end",
    "trial_end",
    "canceled_at",
)
_PAYING = [s.value for s in PAYING]
_ENDED = [s.value for s in TERMINAL]
_NEVER_LIVE = [s.value for s in UNCOUNTED]


@dataclass(frozen=True, slots=True)
class Figures:
    """What the report shows, computed at ``as_of`` with churn over ``window_days``."""

    as_of: datetime
    window_days: int
    #: Currency -> MRR in minor units; empty when ``mrr_error`` says why it is missing.
    mrr: dict[str, int]
    mrr_error: str
    #: Tier slug -> status value -> number of memberships, for statuses granting access.
    members: dict[str, dict[str, int]]
    churn: metrics.Churn
    trials: metrics.TrialConversion
    #: Tier slug -> members holding a gift of it (never counted as paying, nor in MRR).
    gifts: dict[str, int] = field(default_factory=dict)


def _memberships(rows: QuerySet[models.Membership]) -> Iterator[core.Membership]:
    """Core memberships from ``rows``, as ``Membership.to_core`` builds them, with only
    the columns the metrics read (not the provider's ids, reason or version)."""
    for (
        pk,
        member,
        tier,
        status,
        provider,
        price,
        started,
        period_end,
        trial,
        canceled,
    ) in rows.values_list(*_COLUMNS).iterator(chunk_size=CHUNK):
        yield core.Membership(
            id=pk,
            member_id=member,
            tier=tier,
            status=core.Status.parse(status),
            provider=provider,
            price_id=price or None,
            started_at=started,
            current_period_end=period_end,
            trial_end=trial,
            canceled_at=canceled,
        )


def compute(window_days: int, now: datetime | None = None) -> Figures:
    """The report's figures at ``now`` (default: the current time), uncached."""
    now = now or timezone.now()
    start = now - timedelta(days=window_days)
    catalog = get_program().catalog
    rows = models.Membership.objects.all()

    paying = rows.filter(status__in=_PAYING).exclude(price_id="")
    try:
        mrr, mrr_error = metrics.mrr(_memberships(paying), catalog, now), ""
    except MembershipError as exc:  # e.g. a price deleted from the catalog
        mrr, mrr_error = {}, str(exc)

    # Live at the window's start: begun by then, and not ended before it.
    ended_at = Coalesce("current_period_end", "canceled_at")
    live_at_start = (
        rows.exclude(status__in=_NEVER_LIVE)
        .filter(started_at__lte=start)
        .alias(ended_at=ended_at)
        .filter(~Q(status__in=_ENDED) | Q(ended_at__isnull=True) | Q(ended_at__gt=start))
    )
    churn = metrics.churn(_memberships(live_at_start), start, now)
    trials = metrics.trial_conversion(_memberships(rows.filter(trial_end__lte=now)), now)

    members: dict[str, dict[str, int]] = {}
    current = (
        rows.filter(status__in=[s.value for s in GRANTING])
        .values_list("tier", "status")
        .annotate(n=Count("id"))
        .order_by("tier", "status")
    )
    for tier, status, n in current:
        members.setdefault(tier, {})[status] = n
    gift_grants = models.Grant.objects.filter(
        kind=core.GrantKind.GIFT, revoked_at__isnull=True, starts_at__lte=now, ends_at__gt=now
    )
    gifts = metrics.gift_holders((g.to_core() for g in gift_grants.iterator()), now)
    return Figures(now, window_days, mrr, mrr_error, members, churn, trials, gifts)


def figures(window_days: int) -> Figures:
    """The report's figures over ``window_days``, from the cache when computed in the last
    :data:`CACHE_SECONDS`.

    :raises ValueError: ``window_days`` is not one of :data:`WINDOWS`.
    """
    if window_days not in WINDOWS:
        raise ValueError(f"a metrics window is one of {WINDOWS} days, not {window_days!r}")
    key = CACHE_KEY.format(days=window_days)
    found = cache().get(key)
    if isinstance(found, Figures):
        return found
    result = compute(window_days)
    cache().set(key, result, CACHE_SECONDS)
    return result
