"""The one access decision: ``decide(resource, context) -> Decision``.

Every channel (a page, an API response, a search result, a feed, a download, a
template tag) asks :func:`decide`. It is a pure function of a :class:`Resource` (a key
and the :class:`Rule` guarding it) and an :class:`AccessContext` (what one member holds
at one instant, resolved beforehand by :func:`resolve_context`). It does no I/O; when a
read consumes a meter or a quota, the decision says so in :attr:`Decision.charge` and
:attr:`Decision.spend`, and the caller reserves the read with :func:`settle` before showing
anything: the reservation, not the decision, is what holds under parallel requests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, NamedTuple, Protocol

from .catalog import Catalog, Offer
from .entitlements import Period, Quota, merge_quotas
from .errors import CatalogError
from .membership import Grant, Membership, Status

if TYPE_CHECKING:
    from .ports import MeterStore

_EMPTY: Mapping[str, Mapping[str, datetime]] = {}
# Memberships that gave access until their period ended (a drip counts across them).
_ENDED = frozenset({Status.CANCELED, Status.EXPIRED, Status.PAST_DUE, Status.PAUSED})


class Reason(StrEnum):
    """Why a decision went the way it did. Stable strings, safe to log and to branch on."""

    PUBLIC = "public"
    REGISTERED = "registered"
    TIER = "tier"
    ENTITLEMENT = "entitlement"
    METERED = "metered"
    PURCHASED = "purchased"
    EMBARGO_LIFTED = "embargo_lifted"
    LOGIN_REQUIRED = "login_required"
    TIER_REQUIRED = "tier_required"
    ENTITLEMENT_REQUIRED = "entitlement_required"
    METER_EXHAUSTED = "meter_exhausted"
    QUOTA_EXHAUSTED = "quota_exhausted"
    PURCHASE_REQUIRED = "purchase_required"
    DRIP_LOCKED = "drip_locked"


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of :func:`decide`.

    :ivar allowed: whether the full resource may be shown.
    :ivar reason: a machine-readable :class:`Reason`.
    :ivar teaser: whether to show the teaser (only ever true when not allowed).
    :ivar offers: what the visitor could buy to unlock the resource.
    :ivar charge: the meter or quota key this read must be recorded against, if any.
    :ivar unlock_at: when a drip or embargo opens the resource, if known.
    :ivar remaining: reads left on the meter or quota after this one, if metered.
    :ivar spend: for a first read, what :func:`settle` must reserve before it is shown.
    """

    allowed: bool
    reason: Reason
    teaser: bool = False
    offers: tuple[Offer, ...] = ()
    charge: str | None = None
    unlock_at: datetime | None = None
    remaining: int | None = None
    spend: Spend | None = None


@dataclass(frozen=True, slots=True)
class Spend:
    """A first read of a metered or quota-counted resource, still to be reserved.

    A decision is made from usage read a moment earlier; parallel requests of one member
    all see the same usage, so the decision alone would let each of them through.
    :func:`settle` asks the store to count the read only while fewer than ``limit``
    resources are counted since ``since``, atomically, and answers ``refused`` otherwise.

    :ivar meter: the meter or quota key (the decision's ``charge``).
    :ivar limit: how many resources the window holds.
    :ivar since: where the window starts; uses before it do not count.
    :ivar refused: the decision to give when the window filled up meanwhile.
    """

    meter: str
    limit: int
    since: datetime
    refused: Decision


_ALLOW = {r: Decision(True, r) for r in Reason}


class _Counted:
    """The allowed decisions of one metered or quota rule, by reads remaining.

    Decisions are immutable, so the few distinct ones are shared: building a frozen
    dataclass costs more than the rest of the rule. ``again`` holds re-reads (nothing to
    charge); a first read in the period is built afresh (its :class:`Spend` names the
    window's start), and costs a write to the store anyway.
    """

    __slots__ = ("again", "charge", "reason")

    def __init__(self, reason: Reason, charge: str) -> None:
        self.reason, self.charge = reason, charge
        self.again: dict[int, Decision] = {}

    def read_again(self, remaining: int) -> Decision:
        decision = self.again.get(remaining)
        if decision is None:
            decision = Decision(True, self.reason, remaining=remaining)
            if len(self.again) < 256:
                self.again[remaining] = decision
        return decision

    def first_read(self, limit: int, used: int, since: datetime, refused: Decision) -> Decision:
        charge = self.charge
        return Decision(
            True,
            self.reason,
            charge=charge,
            remaining=limit - used - 1,
            spend=Spend(charge, limit, since, refused),
        )


_LOGIN_REQUIRED = Decision(False, Reason.LOGIN_REQUIRED, teaser=True)
# Module constants: reading a member off an Enum class goes through the enum's metaclass,
# slow on the hot path before 3.12; a module global is one dictionary lookup.
_ALLOW_PUBLIC = _ALLOW[Reason.PUBLIC]
_ALLOW_REGISTERED = _ALLOW[Reason.REGISTERED]
_ALLOW_TIER = _ALLOW[Reason.TIER]
_ALLOW_ENTITLEMENT = _ALLOW[Reason.ENTITLEMENT]
_ALLOW_PURCHASED = _ALLOW[Reason.PURCHASED]
_ALLOW_EMBARGO_LIFTED = _ALLOW[Reason.EMBARGO_LIFTED]


@dataclass(frozen=True, slots=True)
class AccessContext:
    """What one visitor holds at one instant. Build it with :func:`resolve_context`.

    :ivar member_id: the member's id, or ``None`` for an anonymous visitor.
    :ivar rank: the highest tier rank held (``-1`` when none, ``0`` for a free tier).
    :ivar usage: meter or quota key -> resource key -> when it was first used in the
        current period. Only resources counted against a meter or quota appear.
    :ivar joined_at: when the member's current access began: the earliest start of the
        memberships and tier grants held, else the registration.
    Its :attr:`holdings` (each membership and grant held, with when it started) say where
    a :class:`Drip` counts from: the first one that itself grants the resource.
    """

    now: datetime
    catalog: Catalog
    member_id: str | None = None
    rank: int = -1
    tiers: frozenset[str] = frozenset()
    entitlements: frozenset[str] = frozenset()
    quotas: Mapping[str, Quota] = field(default_factory=dict)
    purchases: frozenset[str] = frozenset()
    joined_at: datetime | None = None
    usage: Mapping[str, Mapping[str, datetime]] = field(default_factory=dict)
    #: Meter key -> free reads for this visitor in place of the rule's own ``free`` (an
    #: A/B test's meter-size variant, see :mod:`membership_sdk.experiments`).
    meter_free: Mapping[str, int] = field(default_factory=dict)
    # What :func:`resolve_context` found held (memberships and grants, registration date),
    # turned into :attr:`holdings` only when a drip asks: most requests never do.
    _held: tuple[tuple[Membership | Grant, ...], datetime | None, timedelta, bool] = field(
        default=((), None, timedelta(0), False), repr=False, compare=False, hash=False
    )
    _holdings: list[tuple[Holding, ...]] = field(
        default_factory=list, init=False, repr=False, compare=False, hash=False
    )
    # Per meter or quota key: (window, usage, window start, uses since the start). A
    # context never changes, so each tally is computed once however many rules ask.
    _tallies: dict[str, _Tally] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    @property
    def authenticated(self) -> bool:
        return self.member_id is not None

    @property
    def holdings(self) -> tuple[Holding, ...]:
        """Each membership and grant held now, and the registration, earliest first."""
        cached = self._holdings
        if not cached:
            held, registered_at, grace, paused = self._held
            found = holdings_of(
                held, registered_at, self.catalog, self.now, grace, paused_access=paused
            )
            cached.append(found)
        return cached[0]


_Tally = tuple[object, "Mapping[str, datetime] | None", datetime, int]


class Holding(NamedTuple):
    """One thing a member holds or held, as a drip sees it: what it gives, from when, and
    until when (``None``: still held).

    A paid membership gives its tier from its start, a grant its tier, entitlements and
    item from its start, and registering gives the catalog's free tier. :meth:`context`
    is a member holding that alone. (A named tuple: a course page builds them for every
    member who opens it, and a tuple costs a fraction of a frozen dataclass to build.)
    """

    since: datetime
    tiers: tuple[str, ...] = ()
    entitlements: tuple[str, ...] = ()
    items: tuple[str, ...] = ()
    until: datetime | None = None

    def context(self, ctx: AccessContext) -> AccessContext:
        """``ctx``'s member as if this were all they held (no quotas, no usage)."""
        catalog = ctx.catalog
        known = [t for t in self.tiers if t in catalog.rank_of]
        entitlements = set(self.entitlements)
        for slug in known:
            entitlements.update(e.key for e in catalog.tier(slug).entitlements)
        return AccessContext(
            now=ctx.now,
            catalog=catalog,
            member_id=ctx.member_id,
            rank=max((catalog.rank_of[t] for t in known), default=-1),
            tiers=frozenset(known),
            entitlements=frozenset(entitlements),
            purchases=frozenset(self.items),
            joined_at=self.since,
        )


def held_since(rule: Rule, key: str, ctx: AccessContext) -> datetime | None:
    """Since when ``ctx``'s member has been allowed ``key`` by ``rule``, without a break.

    Only holdings that *alone* satisfy ``rule`` count: a course bought outright counts from
    the purchase, a Premium lesson from the first Premium membership or comp, whatever
    lower tier the member held before. Of those, the earliest one held now, taken back to
    the start of any that ended no earlier than it began: switching from one subscription
    to another (an upgrade) keeps the lessons both give open, while a lapse starts afresh.
    When no single holding satisfies ``rule`` (it needs two together), the latest start
    among those held now, since the combination is complete only from then. A context
    built without holdings falls back on :attr:`AccessContext.joined_at`.
    """
    holdings = ctx.holdings
    if not holdings:
        return ctx.joined_at
    covering = [h for h in holdings if rule.evaluate(key, h.context(ctx)).allowed]
    current = [h.since for h in covering if h.until is None]
    if not current:
        held = [h.since for h in holdings if h.until is None]
        return max(held) if held else ctx.joined_at
    start = min(current)
    extended = True
    while extended:  # back through the covering holdings that ran into this one
        extended = False
        for h in covering:
            if h.since < start and h.until is not None and h.until >= start:
                start, extended = h.since, True
    return start


def _tally(ctx: AccessContext, name: str, window: object, start: datetime) -> _Tally:
    """Count ``ctx``'s uses of meter or quota ``name`` since ``start``, and remember it."""
    used = ctx.usage.get(name)
    count = 0
    if used:
        for when in used.values():
            if when >= start:
                count += 1
    tally = ctx._tallies[name] = (window, used, start, count)
    return tally


class Rule(Protocol):
    """Something that can guard a resource. Rules are immutable and hold no member data."""

    def evaluate(self, key: str, ctx: AccessContext) -> Decision:
        """Decide access to the resource ``key`` for ``ctx``."""
        ...


@dataclass(frozen=True, slots=True)
class Resource:
    """A thing to gate: a stable ``key`` (``"page:42"``, ``"doc:7"``) and its ``rule``.

    ``teaser`` says whether a visitor without access sees a teaser or nothing at all.
    """

    key: str
    rule: Rule
    teaser: bool = True


def decide(resource: Resource, context: AccessContext) -> Decision:
    """Decide whether ``context`` may see ``resource``. Pure, no I/O."""
    decision = resource.rule.evaluate(resource.key, context)
    if not resource.teaser and decision.teaser:
        return replace(decision, teaser=False)
    return decision


def settle(
    resource: Resource, decision: Decision, member_id: str, meters: MeterStore, now: datetime
) -> Decision:
    """Reserve the read ``decision`` asks for, or answer the refusal if the window is full.

    A decision without a :attr:`~Decision.spend` (a re-read, an entitled read, a denial)
    comes back unchanged. Otherwise ``meters`` counts ``resource`` for ``member_id`` only
    if fewer than the limit are counted since the window's start, as one atomic step (see
    :meth:`~membership_sdk.ports.MeterStore.reserve`), so any number of parallel first
    reads of different resources let exactly the limit through; the others get the
    meter- or quota-exhausted denial. ``remaining`` is recomputed from the store's count.
    """
    spend = decision.spend
    if spend is None or not decision.allowed:
        return decision
    used = meters.reserve(member_id, spend.meter, resource.key, spend.limit, spend.since, now)
    if used is None:
        refused = spend.refused
        return replace(refused, teaser=False) if refused.teaser and not resource.teaser else refused
    remaining = max(spend.limit - used, 0)
    return decision if decision.remaining == remaining else replace(decision, remaining=remaining)


# -- periods and windows ------------------------------------------------------------------
# Enum members bound once: attribute access on an Enum class goes through its metaclass,
# slow before 3.12, and every metered or quota decision asks for a period.
_WEEK, _MONTH, _YEAR = Period.WEEK, Period.MONTH, Period.YEAR


def period_start(period: Period, now: datetime) -> datetime:
    """The start of the calendar ``period`` that contains ``now`` (weeks start on Monday)."""
    # The constructor with positional arguments: keyword arguments and replace() are
    # several times slower, and every metered or quota decision asks this.
    if period is _MONTH:
        return datetime(now.year, now.month, 1, 0, 0, 0, 0, now.tzinfo)
    if period is _YEAR:
        return datetime(now.year, 1, 1, 0, 0, 0, 0, now.tzinfo)
    day = datetime(now.year, now.month, now.day, 0, 0, 0, 0, now.tzinfo)
    if period is _WEEK:
        return day - timedelta(days=day.weekday())
    return day


@dataclass(frozen=True, slots=True)
class Window:
    """Where a meter counts from: a calendar period, or a rolling number of days."""

    period: Period | None = Period.MONTH
    days: int | None = None

    def __post_init__(self) -> None:
        if (self.period is None) == (self.days is None):
            raise CatalogError("a meter window is either a calendar period or a number of days")
        if self.days is not None and self.days < 1:
            raise CatalogError(f"a rolling meter window needs days >= 1, got {self.days}")

    @classmethod
    def calendar(cls, period: Period | str = Period.MONTH) -> Window:
        return cls(period=Period(period))

    @classmethod
    def rolling(cls, days: int) -> Window:
        return cls(period=None, days=days)

    def start(self, now: datetime) -> datetime:
        if self.period is not None:
            return period_start(self.period, now)
        assert self.days is not None
        return now - timedelta(days=self.days)

    @property
    def longest(self) -> timedelta:
        """How far back usage must be loaded to evaluate this window."""
        if self.days is not None:
            return timedelta(days=self.days)
        return {Period.DAY: 1, Period.WEEK: 7, Period.MONTH: 31, Period.YEAR: 366}[
            self.period or Period.MONTH
        ] * timedelta(days=1)


# -- rules ----------------------------------------------------------------------------------
class _Denials:
    """Caches the denial of a rule for the catalog last asked about, so its offers are
    computed once, not per request. Rules read :attr:`hit` directly (an attribute read
    costs far less than a method call on this path); it is one tuple, replaced whole, so
    threads never see a catalog paired with another catalog's decision."""

    __slots__ = ("hit",)

    def __init__(self) -> None:
        self.hit: tuple[Catalog | None, Decision | None] = (None, None)

    def put(self, catalog: Catalog, decision: Decision) -> Decision:
        self.hit = (catalog, decision)
        return decision


@dataclass(frozen=True, slots=True)
class Public:
    """Anyone may see it."""

    def evaluate(self, key: str, ctx: AccessContext) -> Decision:
        return _ALLOW_PUBLIC


@dataclass(frozen=True, slots=True)
class Registered:
    """Any signed-in member may see it."""

    def evaluate(self, key: str, ctx: AccessContext) -> Decision:
        if ctx.member_id is not None:
            return _ALLOW_REGISTERED
        return _LOGIN_REQUIRED


@dataclass(frozen=True, slots=True)
class MinTier:
    """Members of ``tier`` or any tier ranked above it."""

    tier: str
    _denied: _Denials = field(
        default_factory=_Denials, init=False, repr=False, compare=False, hash=False
    )

    def evaluate(self, key: str, ctx: AccessContext) -> Decision:
        catalog = ctx.catalog
        rank = catalog.rank_of.get(self.tier)
        if rank is not None and ctx.rank >= rank:
            return _ALLOW_TIER
        cache = self._denied
        hit = cache.hit
        denied = hit[1] if hit[0] is catalog else None
        if denied is None:
            offers = catalog.offers_from_rank(rank) if rank is not None else ()
            denied = cache.put(catalog, Decision(False, Reason.TIER_REQUIRED, True, offers))
        return denied


@dataclass(frozen=True, slots=True)
class AnyTier:
    """Members of any of ``tiers`` (exactly those tiers, whatever their rank)."""

    tiers: frozenset[str]
    _denied: _Denials = field(
        default_factory=_Denials, init=False, repr=False, compare=False, hash=False
    )

    def __init__(self, tiers: Iterable[str]) -> None:
        object.__setattr__(self, "tiers", frozenset(tiers))
        object.__setattr__(self, "_denied", _Denials())

    def evaluate(self, key: str, ctx: AccessContext) -> Decision:
        if not self.tiers.isdisjoint(ctx.tiers):
            return _ALLOW_TIER
        cache = self._denied
        hit = cache.hit
        denied = hit[1] if hit[0] is ctx.catalog else None
        if denied is None:
            offers = ctx.catalog.offers_for_tiers(self.tiers)
            denied = cache.put(ctx.catalog, Decision(False, Reason.TIER_REQUIRED, True, offers))
        return denied


@dataclass(frozen=True, slots=True)
class HasEntitlement:
    """Members holding entitlement ``key``; a quota on it is enforced per resource."""

    entitlement: str
    _denied: _Denials = field(
        default_factory=_Denials, init=False, repr=False, compare=False, hash=False
    )
    _counted: _Counted = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_counted", _Counted(Reason.ENTITLEMENT, self.entitlement))

    def evaluate(self, key: str, ctx: AccessContext) -> Decision:
        name = self.entitlement
        if name in ctx.entitlements:
            quota = ctx.quotas.get(name)
            if quota is None:
                return _ALLOW_ENTITLEMENT
            tally = ctx._tallies.get(name)
            if tally is None or tally[0] is not quota:
                tally = _tally(ctx, name, quota, period_start(quota.period, ctx.now))
            _, uses, start, used = tally
            if uses is not None:
                last = uses.get(key)
                if last is not None and last >= start:
                    return self._counted.read_again(quota.limit - used)
            refused = Decision(
                False,
                Reason.QUOTA_EXHAUSTED,
                True,
                unlock_at=_next_period(quota.period, ctx.now),
                remaining=0,
            )
            if used < quota.limit:
                return self._counted.first_read(quota.limit, used, start, refused)
            return refused
        cache = self._denied
        hit = cache.hit
        denied = hit[1] if hit[0] is ctx.catalog else None
        if denied is None:
            offers = ctx.catalog.offers_for_entitlement(name)
            denied = cache.put(
                ctx.catalog, Decision(False, Reason.ENTITLEMENT_REQUIRED, True, offers)
            )
        return denied


def _next_period(period: Period, now: datetime) -> datetime:
    start = period_start(period, now)
    if period is Period.DAY:
        return start + timedelta(days=1)
    if period is Period.WEEK:
        return start + timedelta(days=7)
    if period is Period.MONTH:
        return (start + timedelta(days=32)).replace(day=1)
    return start.replace(year=start.year + 1)


@dataclass(frozen=True, slots=True)
class Purchase:
    """Members who bought ``item`` (by default the resource's own key)."""

    item: str | None = None
    _denied: _Denials = field(
        default_factory=_Denials, init=False, repr=False, compare=False, hash=False
    )

    def evaluate(self, key: str, ctx: AccessContext) -> Decision:
        item = self.item or key
        if item in ctx.purchases:
            return _ALLOW_PURCHASED
        if self.item is None:
            return Decision(
                False, Reason.PURCHASE_REQUIRED, True, ctx.catalog.offers_for_item(item)
            )
        cache = self._denied
        hit = cache.hit
        denied = hit[1] if hit[0] is ctx.catalog else None
        if denied is None:
            offers = ctx.catalog.offers_for_item(item)
            denied = cache.put(ctx.catalog, Decision(False, Reason.PURCHASE_REQUIRED, True, offers))
        return denied


@dataclass(frozen=True, slots=True)
class Metered:
    """``free`` resources per ``window`` for visitors the inner ``rule`` denies.

    Each resource counts once per window: reading it again does not use up the meter.
    Anonymous visitors are metered too unless ``anonymous`` is false (their usage comes
    from a signed cookie).
    """

    rule: Rule
    free: int
    window: Window = Window()
    meter: str = "articles"
    anonymous: bool = True
    _counted: _Counted = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.free < 0:
            raise CatalogError(f"metered rule: free must be >= 0, got {self.free}")
        object.__setattr__(self, "_counted", _Counted(Reason.METERED, self.meter))

    def evaluate(self, key: str, ctx: AccessContext) -> Decision:
        inner = self.rule.evaluate(key, ctx)
        if inner.allowed or (ctx.member_id is None and not self.anonymous):
            return inner
        window = self.window
        tally = ctx._tallies.get(self.meter)
        if tally is None or tally[0] is not window:
            tally = _tally(ctx, self.meter, window, window.start(ctx.now))
        _, uses, start, used = tally
        free = self.free
        if ctx.meter_free:  # a variant's meter size for this visitor
            free = ctx.meter_free.get(self.meter, free)
        if uses is not None:
            last = uses.get(key)
            if last is not None and last >= start:
                remaining = free - used
                return self._counted.read_again(remaining if remaining > 0 else 0)
        refused = Decision(False, Reason.METER_EXHAUSTED, True, inner.offers, remaining=0)
        if used < free:
            return self._counted.first_read(free, used, start, refused)
        return refused


@dataclass(frozen=True, slots=True)
class Drip:
    """What ``rule`` allows, but only ``days`` after the member first held it.

    The days count from the earliest membership or grant that itself satisfies ``rule``
    (see :func:`held_since`): not from an older membership of a lower tier, and from the
    purchase for a course bought outright.
    """

    rule: Rule
    days: int

    def evaluate(self, key: str, ctx: AccessContext) -> Decision:
        inner = self.rule.evaluate(key, ctx)
        if not inner.allowed or self.days <= 0:
            return inner
        joined = held_since(self.rule, key, ctx)
        if joined is None:
            return Decision(False, Reason.DRIP_LOCKED, True)
        opens = joined + timedelta(days=self.days)
        if ctx.now >= opens:
            return inner
        return Decision(False, Reason.DRIP_LOCKED, True, unlock_at=opens)


@dataclass(frozen=True, slots=True)
class Embargo:
    """Guarded by ``rule`` until ``until``; free to everyone afterwards."""

    until: datetime
    rule: Rule

    def evaluate(self, key: str, ctx: AccessContext) -> Decision:
        if ctx.now >= self.until:
            return _ALLOW_EMBARGO_LIFTED
        inner = self.rule.evaluate(key, ctx)
        if inner.allowed:
            return inner
        return replace(inner, unlock_at=self.until)


def _merge_denials(denials: list[Decision]) -> Decision:
    offers: list[Offer] = []
    for d in denials:
        for offer in d.offers:
            if offer not in offers:
                offers.append(offer)
    unlocks = [d.unlock_at for d in denials if d.unlock_at is not None]
    first = denials[0]
    return Decision(
        False, first.reason, True, tuple(offers), unlock_at=min(unlocks) if unlocks else None
    )


@dataclass(frozen=True, slots=True)
class AnyOf:
    """Allowed when any of ``rules`` allows; otherwise the offers of all of them."""

    rules: tuple[Rule, ...]

    def __init__(self, *rules: Rule) -> None:
        if not rules:
            raise CatalogError("AnyOf needs at least one rule")
        object.__setattr__(self, "rules", tuple(rules))

    def evaluate(self, key: str, ctx: AccessContext) -> Decision:
        for rule in self.rules:
            decision = rule.evaluate(key, ctx)
            if decision.allowed:
                return decision
        # Denied by all: ask again to gather their offers. Rules are pure, and keeping
        # the allowed path free of allocations is worth the second pass.
        return _merge_denials([rule.evaluate(key, ctx) for rule in self.rules])


@dataclass(frozen=True, slots=True)
class AllOf:
    """Allowed only when every one of ``rules`` allows."""

    rules: tuple[Rule, ...]

    def __init__(self, *rules: Rule) -> None:
        if not rules:
            raise CatalogError("AllOf needs at least one rule")
        object.__setattr__(self, "rules", tuple(rules))

    def evaluate(self, key: str, ctx: AccessContext) -> Decision:
        result: Decision | None = None
        for rule in self.rules:
            decision = rule.evaluate(key, ctx)
            if not decision.allowed:
                return decision
            if result is None or (result.charge is None and decision.charge is not None):
                result = decision
        assert result is not None
        return result


# -- resolution -----------------------------------------------------------------------------
def resolve_context(
    catalog: Catalog,
    now: datetime,
    *,
    member_id: str | None = None,
    memberships: Iterable[Membership] = (),
    grants: Iterable[Grant] = (),
    usage: Mapping[str, Mapping[str, datetime]] | None = None,
    registered_at: datetime | None = None,
    grace: timedelta = timedelta(0),
    paused_access: bool = True,
) -> AccessContext:
    """Resolve what a visitor holds at ``now`` from their memberships and grants.

    Paid memberships that give access count as grants of their tier; stored grants
    (comps, gifts, trials, team seats, purchases) add tiers, entitlements or items.
    Every signed-in member holds the catalog's free tier, if it has one.
    ``paused_access``: paused memberships give access until their paid period ends
    (see :meth:`~membership_sdk.membership.Membership.grants_access`).
    """
    if member_id is None:
        return AccessContext(now=now, catalog=catalog, usage=usage or _EMPTY)
    tiers: set[str] = set()
    extra: list[tuple[str, Quota | None]] = []
    purchases: set[str] = set()
    starts: list[datetime] = []
    held: list[Membership | Grant] = []
    for membership in memberships:
        held.append(membership)  # ended ones too: a drip counts across a switch of plans
        if membership.grants_access(now, grace, paused_access=paused_access):
            tiers.add(membership.tier)
            if membership.started_at is not None:
                starts.append(membership.started_at)
    for grant in grants:
        held.append(grant)
        if not grant.active(now):
            continue
        if grant.item is not None:
            purchases.add(grant.item)
        if grant.tier is not None:
            tiers.add(grant.tier)
            starts.append(grant.starts_at)
        extra.extend((e.key, e.quota) for e in grant.entitlements)
    free = catalog.free_tier
    if free is not None:
        tiers.add(free.slug)
    known = [t for t in tiers if t in catalog.rank_of]
    quotas: dict[str, Quota | None] = {}
    for slug in known:
        for ent in catalog.tier(slug).entitlements:
            extra.append((ent.key, ent.quota))
    for ent_key, quota in extra:
        quotas[ent_key] = merge_quotas(quotas[ent_key], quota) if ent_key in quotas else quota
    return AccessContext(
        now=now,
        catalog=catalog,
        member_id=member_id,
        rank=max((catalog.rank_of[t] for t in known), default=-1),
        tiers=frozenset(known),
        entitlements=frozenset(quotas),
        quotas={k: q for k, q in quotas.items() if q is not None},
        purchases=frozenset(purchases),
        joined_at=min(starts) if starts else registered_at,
        usage=usage or _EMPTY,
        _held=(tuple(held), registered_at, grace, paused_access),
    )


def holdings_of(
    held: Iterable[Membership | Grant],
    registered_at: datetime | None,
    catalog: Catalog,
    now: datetime,
    grace: timedelta = timedelta(0),
    *,
    paused_access: bool = True,
) -> tuple[Holding, ...]:
    """The :class:`Holding` of each membership and grant in ``held`` that gives or gave
    access by ``now``, and of registering, earliest first.

    A membership holds its tier from its start, or from ``price_since`` when it moved to
    its current price later (a plan change in place): the tier it held before is not
    known, so what the new tier gives counts from the change, never from the start.
    """
    holdings: list[Holding] = []
    for source in held:
        if isinstance(source, Membership):
            since = source.started_at or registered_at
            moved = source.price_since
            if moved is not None and (since is None or moved > since):
                since = moved
            if since is None or since > now:
                continue
            if source.grants_access(now, grace, paused_access=paused_access):
                holdings.append(Holding(since, (source.tier,)))
            elif source.status in _ENDED and source.current_period_end is not None:
                holdings.append(Holding(since, (source.tier,), until=source.current_period_end))
        else:
            if source.starts_at > now:
                continue
            ends = [t for t in (source.ends_at, source.revoked_at) if t is not None]
            until = None if source.active(now) else min(ends, default=None)
            if until is not None and until <= source.starts_at:
                continue  # revoked before it began: never held
            holdings.append(
                Holding(
                    source.starts_at,
                    () if source.tier is None else (source.tier,),
                    tuple([e.key for e in source.entitlements]),
                    () if source.item is None else (source.item,),
                    until,
                )
            )
    # Registering is held too (the free tier, or just being signed in); without a known
    # date, from the earliest of the rest, as every holding implies an account.
    registered = registered_at or min((h.since for h in holdings), default=None)
    if registered is not None:
        free = catalog.free_tier
        holdings.append(Holding(registered, () if free is None else (free.slug,)))
    holdings.sort(key=_since)
    return tuple(holdings)


def _since(holding: Holding) -> datetime:
    return holding.since
