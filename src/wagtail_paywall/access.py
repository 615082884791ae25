"""Access for one request: the member context, resolved lazily and at most once.

:func:`member_context` costs at most one query per signed-in member (memberships, grants and
meter usage in one ``UNION ALL``), and none when the cache holds the member's rows. The rows,
not the resolved context, are cached under a generation token that
:func:`~wagtail_paywall.caching.invalidate_member` replaces on every change, so a stale entry
is never read again. Each process also keeps a copy (:class:`LocalRows`), used only while its
token is still the one in the shared cache. Anonymous visitors: :mod:`.metering`.

See ``docs/deployment.md`` (How a change reaches every server).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from django.db.models import CharField, DateTimeField, F, TextField, Value
from django.http import HttpRequest

from membership_sdk import (
    AccessContext,
    Decision,
    Entitlement,
    MembershipProgram,
    Public,
    Resource,
    decide,
    resolve_context,
)
from membership_sdk import membership as core
from membership_sdk.access import settle

from . import conf, experiments, metering
from .caching import GEN_KEY, ROWS_KEY, cache, invalidate_member
from .models import Grant, Membership, MeterUsage
from .program import get_program, get_program_reading

#: One row shape for the three tables: (source, t1, t2, t3, d1, d2, d3).
Row = tuple[str, str | None, str | None, str | None, Any, Any, Any, Any]


class LocalRows:
    """The rows of the members this process served recently, at most ``size`` of them.

    An entry is ``(generation token, expiry, rows)`` and is only returned for the token
    it was stored under: a member whose token changed (a grant, a membership, a metered
    read) misses here and reloads. Entries also expire after ``CACHE_TIMEOUT`` seconds,
    like their copy in the shared cache. Least recently used members leave first.
    """

    def __init__(self) -> None:
        self._entries: OrderedDict[str, tuple[str, float, tuple[Row, ...]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, member_id: str, gen: str) -> tuple[Row, ...] | None:
        with self._lock:
            entry = self._entries.get(member_id)
            if entry is None:
                return None
            if entry[0] != gen or entry[1] <= time.monotonic():
                del self._entries[member_id]
                return None
            self._entries.move_to_end(member_id)
            return entry[2]

    def put(self, member_id: str, gen: str, rows: tuple[Row, ...]) -> None:
        size: int = conf.get("LOCAL_CACHE_SIZE")
        timeout: float | None = conf.get("CACHE_TIMEOUT")
        if size <= 0 or timeout == 0:
            return
        expires = float("inf") if timeout is None else time.monotonic() + timeout
        with self._lock:
            self._entries[member_id] = (gen, expires, rows)
            self._entries.move_to_end(member_id)
            while len(self._entries) > size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


#: This process's copy of recently served members' rows.
local_rows = LocalRows()


def member_id_for(request: HttpRequest) -> str | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    return str(user.pk)


def _load_rows(member_id: str, since: datetime) -> list[Row]:
    """Memberships, grants and recent meter usage of one member, in ONE query."""
    text_null = Value(None, output_field=TextField())
    when_null = Value(None, output_field=DateTimeField())
    columns = ("src", "t1", "t2", "t3", "d1", "d2", "d3", "d4")
    memberships = (
        Membership.objects.filter(member_id=member_id)
        .order_by()
        .annotate(
            src=Value("m", output_field=CharField()),
            t1=F("tier"),
            t2=F("status"),
            t3=text_null,
            d1=F("started_at"),
            d2=F("current_period_end"),
            d3=F("price_since"),  # a drip counts the tier from a plan change
            d4=F("paid_through"),
        )
        .values_list(*columns)
    )
    grants = (
        Grant.objects.filter(member_id=member_id)
        .order_by()
        .annotate(
            src=Value("g", output_field=CharField()),
            t1=F("tier"),
            t2=F("item"),
            t3=F("entitlements"),
            d1=F("starts_at"),
            d2=F("ends_at"),
            d3=F("revoked_at"),
            d4=when_null,
        )
        .values_list(*columns)
    )
    usage = (
        MeterUsage.objects.filter(member_id=member_id, used_at__gte=since)
        .order_by()
        .annotate(
            src=Value("u", output_field=CharField()),
            t1=F("meter"),
            t2=F("resource_key"),
            t3=text_null,
            d1=F("used_at"),
            d2=when_null,
            d3=when_null,
            d4=when_null,
        )
        .values_list(*columns)
    )
    return list(memberships.union(grants, usage, all=True))


def _cached_rows(member_id: str, now: datetime, gen: str | None = None) -> Sequence[Row]:
    """The member's rows: from this process, else the shared cache, else one query.

    ``gen`` is the member's cache generation when the caller already read it.
    """
    store = cache()
    gen_key = GEN_KEY.format(member=member_id)
    if gen is None:
        gen = store.get(gen_key)
    if gen is None:
        gen = uuid.uuid4().hex
        if not store.add(gen_key, gen, None):
            gen = store.get(gen_key, gen)
    local = local_rows.get(member_id, gen)
    if local is not None:
        return local
    rows_key = ROWS_KEY.format(member=member_id, gen=gen)
    rows: list[Row] | None = store.get(rows_key)
    if rows is None:
        since = now - timedelta(days=conf.get("USAGE_LOOKBACK_DAYS"))
        rows = _load_rows(member_id, since)
        store.set(rows_key, rows, conf.get("CACHE_TIMEOUT"))
    kept = tuple(rows)
    local_rows.put(member_id, gen, kept)
    return kept


def _context_from_rows(
    program: MembershipProgram,
    member_id: str,
    rows: Sequence[Row],
    now: datetime,
    registered_at: datetime | None,
) -> AccessContext:
    memberships: list[core.Membership] = []
    grants: list[core.Grant] = []
    usage: dict[str, dict[str, datetime]] = {}
    for n, row in enumerate(rows):
        src, t1, t2, t3, d1, d2, d3 = row[:7]
        # A row cached by a release before ``paid_through`` has seven columns.
        d4 = row[7] if len(row) > 7 else None
        if src == "m":
            memberships.append(
                core.Membership(
                    id=str(n),
                    member_id=member_id,
                    tier=t1 or "",
                    status=core.Status.parse(t2),
                    provider="",
                    started_at=d1,
                    current_period_end=d2,
                    paid_through=d4,
                    price_since=d3,
                )
            )
        elif src == "g":
            grants.append(
                core.Grant(
                    id=str(n),
                    member_id=member_id,
                    kind=core.GrantKind.COMP,  # the kind does not change what it grants
                    starts_at=d1,
                    ends_at=d2,
                    revoked_at=d3,
                    tier=t1 or None,
                    item=t2 or None,
                    entitlements=tuple(
                        Entitlement.parse(line) for line in (t3 or "").splitlines() if line.strip()
                    ),
                )
            )
        elif t1 is not None and t2 is not None:
            latest = usage.setdefault(t1, {}).get(t2)
            if latest is None or d1 > latest:  # the latest charge says which window counts
                usage[t1][t2] = d1
    return resolve_context(
        program.catalog,
        now,
        member_id=member_id,
        memberships=memberships,
        grants=grants,
        usage=usage,
        registered_at=registered_at,
        grace=program.grace,
        paused_access=program.paused_access,
    )


def member_context(request: HttpRequest) -> AccessContext:
    """What the visitor of ``request`` holds now; resolved once per request."""
    ctx: AccessContext | None = getattr(request, "_paywall_context", None)
    if ctx is not None:
        return ctx
    member_id = member_id_for(request)
    if member_id is None:
        program = get_program()
        now = program.clock()
        ctx = resolve_context(program.catalog, now, usage=metering.cookie_usage(request))
    else:
        # The catalog check and the member's cache generation in one round trip.
        gen_key = GEN_KEY.format(member=member_id)
        program, cached = get_program_reading(gen_key)
        now = program.clock()
        user: Any = request.user  # type: ignore[attr-defined]
        rows = _cached_rows(member_id, now, cached.get(gen_key))
        ctx = _context_from_rows(program, member_id, rows, now, getattr(user, "date_joined", None))
    ctx = experiments.with_meter(request, ctx)  # an A/B test's meter size, if any
    request._paywall_context = ctx  # type: ignore[attr-defined]
    return ctx


def context_for_member(member_id: str, registered_at: datetime | None = None) -> AccessContext:
    """What ``member_id`` holds now, outside any request of theirs (a feed reader's).

    Reads the same cached rows as :func:`member_context`, so it costs at most one query.
    """
    program = get_program()
    now = program.clock()
    return _context_from_rows(program, member_id, _cached_rows(member_id, now), now, registered_at)


def _with_use(ctx: AccessContext, meter: str, key: str, when: datetime) -> AccessContext:
    usage: dict[str, Mapping[str, datetime]] = dict(ctx.usage)
    usage[meter] = {**usage.get(meter, {}), key: when}
    return replace(ctx, usage=usage)


#: Requests that are told whether a read is allowed but never spend one: a ``HEAD`` (a
#: link checker, a download manager sizing a file) or an ``OPTIONS`` (a CORS preflight).
NO_SPEND_METHODS = frozenset({"HEAD", "OPTIONS"})


def check_access(request: HttpRequest, resource: Resource) -> Decision:
    """Decide ``resource`` for the visitor of ``request`` and reserve the read it costs.

    A metered or quota read is reserved in the database for a member, atomically (see
    :func:`~membership_sdk.access.settle`: of any number of parallel first reads, exactly
    the free ones left are allowed, the others get the meter- or quota-exhausted denial),
    and the member's cached context dropped. An anonymous visitor's read is counted in the
    signed meter cookie (the :class:`~wagtail_paywall.middleware.PaywallMiddleware` writes
    it on the response), which parallel requests of one browser all read unchanged: see
    ``docs/security.md`` (Concurrent reads).

    A ``HEAD`` or ``OPTIONS`` request (:data:`NO_SPEND_METHODS`) spends nothing: a read it
    would have to spend is answered as withheld, with the same caching headers as the read
    itself (:func:`unspent_read` tells a caller which resource that was).
    Any resource whose rule is not :class:`~membership_sdk.Public` marks the request as
    gated, so its response is never stored by a shared cache.
    """
    ctx = member_context(request)
    decision = decide(resource, ctx)
    gated = not isinstance(resource.rule, Public)
    if gated:
        request.paywall_gated = True  # type: ignore[attr-defined]
    spend = decision.spend if decision.allowed else None
    if spend is not None:
        if request.method in NO_SPEND_METHODS:
            # The headers of the read (no-store, as for premium text), none of its content.
            request.paywall_allowed = True  # type: ignore[attr-defined]
            unspent: set[str] = request.__dict__.setdefault("_paywall_unspent", set())
            unspent.add(resource.key)
            return replace(spend.refused, reason=decision.reason, remaining=decision.remaining)
        now = ctx.now
        if ctx.member_id is not None:
            decision = settle(resource, decision, ctx.member_id, get_program().store.meters, now)
            invalidate_member(ctx.member_id)
        else:
            metering.record_cookie_use(request, spend.meter, resource.key, now)
        if decision.allowed:
            request._paywall_context = _with_use(  # type: ignore[attr-defined]
                ctx, spend.meter, resource.key, now
            )
    if gated and decision.allowed:  # premium text in the response: no-store (middleware)
        request.paywall_allowed = True  # type: ignore[attr-defined]
    return decision


def unspent_read(request: HttpRequest, resource: Resource) -> bool:
    """Whether :func:`check_access` withheld ``resource`` only because ``request`` is a
    ``HEAD`` or ``OPTIONS`` that may not spend the read it would cost."""
    return resource.key in request.__dict__.get("_paywall_unspent", ())


def merge_cookie_reads(request: HttpRequest, member_id: str) -> int:
    """Move the anonymous meter cookie's reads into ``member_id``'s usage; returns how many.

    Called when a visitor signs in or signs up, so reads made before do not reset. The
    cookie is deleted on the response.
    """
    usage = metering.cookie_usage(request)
    meters = get_program().store.meters
    count = 0
    for meter, uses in usage.items():
        for key, when in uses.items():
            meters.record(member_id, meter, key, when)
            count += 1
    # Only once every read is stored: a failure above keeps the cookie, and its count.
    metering.clear_cookie(request)
    request._paywall_context = None  # type: ignore[attr-defined]
    if count:
        invalidate_member(member_id)
    return count
