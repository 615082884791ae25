"""Usage-based add-ons: use beyond an included quota, billed per unit.

A :class:`UsageRate` makes an entitlement key a *meter* (``api.calls``, ``datasets.download``,
``ai.summary``): each unit used beyond what the member's tier includes costs
``unit_amount`` minor units of ``currency``, up to ``max_extra`` extra units per period
when set. How much a tier includes comes from its entitlement line: ``datasets.download: 10
per month`` includes 10 a month (a tier listing the key without a quota includes none;
a monthly quota on a yearly price counts twelve times).

Use is counted per *billing period* of the membership whose tier includes the meter, the
period its provider bills, so the extra use lands on the invoice of that period:

- providers with :class:`~membership_sdk.providers.UsageReporting` (Stripe's billing
  meters, the ``fake`` provider) are told each record's units beyond the included
  quota as it is recorded, once (the record's identifier), and bill them with the next
  invoice; a report that fails is sent again by :meth:`UsageBilling.report_pending`;
- providers with :class:`~membership_sdk.providers.UsageInvoicing` (the ``manual``
  bank-transfer provider) invoice a period's extra use on its own once the period has
  ended: :meth:`UsageBilling.close_periods`, once per period however often it runs.

Recording is a reservation (DESIGN invariant 8): a :class:`UsageStore` counts a
record against its period atomically, so parallel records never lose one nor pass
``max_extra``; a retried record with the same ``idempotency_key`` is counted once.
A period whose count :meth:`UsageBilling.close_periods` has frozen (to bill it) takes
no more use: a record into it is refused (:class:`PeriodClosed`), never counted unbilled.
A record takes at most :data:`MAX_QUANTITY` units, a period at most
:data:`MAX_PERIOD_UNITS`.

Each record is billed at the terms of its period (``unit_amount``, ``currency``), fixed
when the period's first use was recorded: what the member was shown, even when the rate
changes before a failed report is sent again.

Errors::

    MembershipError
    └── UsageError              bad input: the quantity, the key, the time
        ├── UnknownMeter        no usage rate has this meter key
        ├── NotEntitled         the member has no membership whose tier includes it
        ├── PeriodClosed        the period of ``when`` was closed (billed) already
        └── UsageLimitReached   the period's ``max_extra`` (or MAX_PERIOD_UNITS) would
                                be passed
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from .catalog import Catalog, Interval, Price
from .currency import normalize_currency
from .entitlements import Entitlement, Period, Quota
from .errors import CatalogError, InvalidAmount, MembershipError, ProviderError
from .membership import Membership
from .providers.base import UsageInvoiceRequest, UsageInvoicing, UsageReport, UsageReporting
from .providers.simulated import add_interval

if TYPE_CHECKING:
    from .program import MembershipProgram

logger = logging.getLogger("membership_sdk.usage")

#: The longest idempotency key a record takes.
MAX_KEY_LENGTH = 200
#: The most units one record takes (more is refused with :class:`UsageError`).
MAX_QUANTITY = 10**9
#: The most units a period counts, whatever its cap (more is refused with
#: :class:`UsageLimitReached`): the counters stay far inside 64-bit integers.
MAX_PERIOD_UNITS = 10**12


class UsageError(MembershipError, ValueError):
    """Use cannot be recorded as asked; nothing was recorded."""


class UnknownMeter(UsageError, LookupError):
    """No usage rate has the meter key given."""


class NotEntitled(UsageError):
    """The member holds no membership whose tier includes the meter, so there is no
    period to count the use in nor anyone to bill it to."""


class UsageLimitReached(UsageError):
    """The use would pass the period's ``max_extra`` units beyond the included quota."""


class PeriodClosed(UsageError):
    """The billing period the use falls in was closed: its count was frozen to bill it,
    so it takes no more use (record use as it happens, not into a period that ended)."""


def _check_key(value: object) -> None:
    if not isinstance(value, str):
        raise CatalogError(f"invalid meter key {value!r}; expected an entitlement key")
    Entitlement(value)  # raises CatalogError naming the key


@dataclass(frozen=True, slots=True)
class UsageRate:
    """What one unit of ``meter`` beyond the included quota costs.

    ``meter`` is an entitlement key tiers list (with the quota they include);
    ``unit_amount`` is in minor units of ``currency``; ``max_extra`` caps the extra units
    of a period (``None``: no cap; past it :func:`UsageBilling.record` refuses). ``name``
    is what members read ("dataset downloads"). ``provider_ids`` maps a provider to its
    metered price (Stripe: the ``price_...`` a subscription carries for the add-on; under
    ``"stripe:year"`` the one for yearly plans, as Stripe bills every item of a
    subscription on one interval); ``provider_meters`` to its meter (Stripe: the billing
    meter's event name).
    """

    meter: str
    unit_amount: int
    currency: str
    name: str = ""
    max_extra: int | None = None
    provider_ids: Mapping[str, str] = field(default_factory=dict, hash=False, compare=True)
    provider_meters: Mapping[str, str] = field(default_factory=dict, hash=False, compare=True)

    def __post_init__(self) -> None:
        _check_key(self.meter)
        amount = self.unit_amount
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise InvalidAmount(
                f"usage rate {self.meter!r}: unit_amount must be a positive integer in "
                f"minor units, got {amount!r}"
            )
        object.__setattr__(self, "currency", normalize_currency(self.currency))
        cap = self.max_extra
        if cap is not None and (not isinstance(cap, int) or isinstance(cap, bool) or cap < 0):
            raise CatalogError(
                f"usage rate {self.meter!r}: max_extra must be a whole number >= 0 or None, "
                f"got {cap!r}"
            )
        object.__setattr__(self, "provider_ids", dict(self.provider_ids))
        object.__setattr__(self, "provider_meters", dict(self.provider_meters))

    @property
    def label(self) -> str:
        return self.name or self.meter


#: Months in a billing interval or quota period (weeks and days by their days).
_MONTHS = {Period.MONTH: 1, Period.YEAR: 12}
_DAYS = {Period.DAY: 1, Period.WEEK: 7, Period.MONTH: 30, Period.YEAR: 365}


def included_units(quota: Quota | None, interval: Interval) -> int:
    """Units a quota includes per billing period of ``interval``: ``None`` includes none;
    a quota per month counts 12 times in a yearly period, one per year a twelfth of it
    in a monthly one (rounded down); per day or week by days (30 a month, 365 a year)."""
    if quota is None:
        return 0
    period = Period(str(interval))
    if quota.period in _MONTHS:
        return quota.limit * _MONTHS[period] // _MONTHS[quota.period]
    return quota.limit * _DAYS[period] // _DAYS[quota.period]


def usage_prices(catalog: Catalog, price: Price, provider: str) -> tuple[str, ...]:
    """The ``provider``'s metered prices of the add-ons ``price``'s tier includes, for
    the subscription a checkout of ``price`` starts (recurring tier prices only)."""
    if not price.recurring or price.tier is None:
        return ()
    rates = catalog.usage_rates_for_tier(price.tier)
    found = (metered_price(r, provider, price.interval) for r in rates)
    return tuple(p for p in found if p)


def metered_price(rate: UsageRate, provider: str, interval: Interval) -> str | None:
    """The ``provider``'s metered price of ``rate`` for a plan billed every ``interval``:
    the one under ``"<provider>:<interval>"`` (``"stripe:year"``; Stripe bills every item
    of a subscription on one interval), else the one under ``provider``."""
    ids = rate.provider_ids
    return ids.get(f"{provider}:{interval}") or ids.get(provider)


def identifier(*parts: object) -> str:
    """A stable identifier (``usage-`` and 40 hex digits) for a report or an invoice,
    unique per its ``parts``: the provider sees each use, or each period, once."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()
    return f"usage-{digest[:40]}"


@dataclass(frozen=True, slots=True)
class UsageTerms:
    """What a period of one membership on one meter counts and bills: made when the
    period's first use is recorded, and kept with it."""

    membership_id: str
    member_id: str
    meter: str
    period_end: datetime
    included: int
    unit_amount: int
    currency: str
    provider: str
    max_extra: int | None = None


@dataclass(frozen=True, slots=True)
class UsagePeriod:
    """One meter's use in one billing period of a membership.

    ``frozen_at`` is when :meth:`UsageBilling.close_periods` froze its count to bill it
    (from then on it takes no more use), ``closed_at`` when it was closed once billed,
    and ``invoice`` the reference of the invoice of its extra use, if it was invoiced on
    its own (``manual``)."""

    id: str
    membership_id: str
    member_id: str
    meter: str
    period_end: datetime
    included: int
    used: int
    unit_amount: int
    currency: str
    provider: str
    max_extra: int | None = None
    closed_at: datetime | None = None
    invoice: str = ""
    frozen_at: datetime | None = None

    @property
    def takes_use(self) -> bool:
        """Whether use may still be counted in it (its count is not frozen)."""
        return self.frozen_at is None and self.closed_at is None

    @property
    def extra(self) -> int:
        """Units used beyond the included ones."""
        return max(0, self.used - self.included)

    @property
    def amount(self) -> int:
        """What the extra units cost, in minor units of ``currency``."""
        return self.extra * self.unit_amount

    @property
    def room(self) -> int | None:
        """Units that may still be used this period (``None``: no cap)."""
        if self.max_extra is None:
            return None
        return max(0, self.included + self.max_extra - self.used)


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One recorded use: ``quantity`` units, of which ``extra`` were beyond the included
    quota when it was counted (what is reported to the provider), each billed at
    ``unit_amount`` minor units of ``currency``: its period's terms."""

    id: str
    member_id: str
    meter: str
    quantity: int
    idempotency_key: str
    when: datetime
    membership_id: str
    period_end: datetime
    extra: int
    provider: str
    unit_amount: int
    currency: str
    reported_at: datetime | None = None
    report_error: str = ""


@dataclass(frozen=True, slots=True)
class UsageSummary:
    """A member's use of one meter in the current period, as the account page shows it."""

    meter: str
    name: str
    used: int
    included: int
    unit_amount: int
    currency: str
    period_end: datetime
    max_extra: int | None = None

    @property
    def extra(self) -> int:
        return max(0, self.used - self.included)

    @property
    def amount(self) -> int:
        return self.extra * self.unit_amount

    @property
    def left_included(self) -> int:
        return max(0, self.included - self.used)


class UsageStore(Protocol):
    """Where recorded use is kept: periods (the counters) and records (each use)."""

    def record(
        self, terms: UsageTerms, quantity: int, idempotency_key: str, when: datetime
    ) -> tuple[UsageRecord, bool]:
        """Count ``quantity`` units against the period ``terms`` describe (made with
        those terms on its first use) and keep the record; returns it and ``True``.
        A record with the member's ``idempotency_key`` for this meter exists already:
        returns it and ``False``, counting nothing.

        MUST be atomic with respect to other calls for the same period, in every
        process: parallel records are all counted, and never pass ``max_extra``.

        The record carries the period's stored ``unit_amount`` and ``currency`` (those
        of its first use), not ``terms``' when they differ.

        :raises PeriodClosed: the period's count is frozen (:meth:`freeze_period`) or
            it is closed; nothing was recorded.
        :raises UsageLimitReached: the period would pass ``terms.max_extra`` extra
            units (or :data:`MAX_PERIOD_UNITS` units); nothing was recorded.
        """
        ...

    def freeze_period(self, period_id: str, when: datetime) -> UsagePeriod | None:
        """Freeze the period's count at ``when`` (if not frozen yet) and return it with
        its final count; ``None`` when it is closed already. MUST be exclusive with
        :meth:`record`: a record either is counted before the freeze (and in what it
        returns) or is refused with :class:`PeriodClosed`, in every process."""
        ...

    def open_periods(self, member_id: str) -> Sequence[UsagePeriod]:
        """The member's periods not closed yet."""
        ...

    def ended_periods(self, now: datetime, limit: int = 500) -> Sequence[UsagePeriod]:
        """Periods not closed whose end is at or before ``now``, oldest first."""
        ...

    def close_period(self, period_id: str, when: datetime, invoice: str = "") -> bool:
        """Close the period (with the reference of its usage invoice, if any), freezing
        its count if not yet; ``True`` only for the call that closed it (atomic:
        parallel calls close it once)."""
        ...

    def unreported(self, providers: Iterable[str], limit: int = 500) -> Sequence[UsageRecord]:
        """Records of ``providers`` with extra units not reported yet, oldest first."""
        ...

    def mark_reported(self, record_id: str, when: datetime) -> None: ...

    def mark_report_failed(self, record_id: str, error: str) -> None: ...


class MemoryUsage:
    """:class:`UsageStore` in memory (tests and scripts); a lock makes it atomic."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.periods: dict[tuple[str, str, datetime], UsagePeriod] = {}
        self.records: dict[str, UsageRecord] = {}
        self._keys: dict[tuple[str, str, str], str] = {}

    def record(
        self, terms: UsageTerms, quantity: int, idempotency_key: str, when: datetime
    ) -> tuple[UsageRecord, bool]:
        with self._lock:
            known = self._keys.get((terms.member_id, terms.meter, idempotency_key))
            if known is not None:
                return self.records[known], False
            where = (terms.membership_id, terms.meter, terms.period_end)
            period = self.periods.get(where) or UsagePeriod(
                id=str(len(self.periods) + 1),
                membership_id=terms.membership_id,
                member_id=terms.member_id,
                meter=terms.meter,
                period_end=terms.period_end,
                included=terms.included,
                used=0,
                unit_amount=terms.unit_amount,
                currency=terms.currency,
                provider=terms.provider,
                max_extra=terms.max_extra,
            )
            refuse_closed(period, when)
            refuse_past_cap(period, quantity)
            counted = replace(period, used=period.used + quantity)
            self.periods[where] = counted
            record = UsageRecord(
                id=str(len(self.records) + 1),
                member_id=terms.member_id,
                meter=terms.meter,
                quantity=quantity,
                idempotency_key=idempotency_key,
                when=when,
                membership_id=terms.membership_id,
                period_end=terms.period_end,
                extra=extra_of(period.used, counted.used, period.included),
                provider=terms.provider,
                unit_amount=period.unit_amount,
                currency=period.currency,
            )
            self.records[record.id] = record
            self._keys[terms.member_id, terms.meter, idempotency_key] = record.id
            return record, True

    def open_periods(self, member_id: str) -> Sequence[UsagePeriod]:
        return [p for p in self.periods.values() if p.member_id == member_id and not p.closed_at]

    def ended_periods(self, now: datetime, limit: int = 500) -> Sequence[UsagePeriod]:
        ended = [p for p in self.periods.values() if p.closed_at is None and p.period_end <= now]
        return sorted(ended, key=lambda p: (p.period_end, p.id))[:limit]

    def freeze_period(self, period_id: str, when: datetime) -> UsagePeriod | None:
        with self._lock:
            for where, period in self.periods.items():
                if period.id == period_id and period.closed_at is None:
                    if period.frozen_at is None:
                        period = self.periods[where] = replace(period, frozen_at=when)
                    return period
            return None

    def close_period(self, period_id: str, when: datetime, invoice: str = "") -> bool:
        with self._lock:
            for where, period in self.periods.items():
                if period.id == period_id and period.closed_at is None:
                    self.periods[where] = replace(
                        period, closed_at=when, invoice=invoice, frozen_at=period.frozen_at or when
                    )
                    return True
            return False

    def unreported(self, providers: Iterable[str], limit: int = 500) -> Sequence[UsageRecord]:
        names = set(providers)
        due = [
            r
            for r in self.records.values()
            if r.extra and r.reported_at is None and r.provider in names
        ]
        return sorted(due, key=lambda r: (r.when, int(r.id)))[:limit]

    def mark_reported(self, record_id: str, when: datetime) -> None:
        with self._lock:
            self.records[record_id] = replace(
                self.records[record_id], reported_at=when, report_error=""
            )

    def mark_report_failed(self, record_id: str, error: str) -> None:
        with self._lock:
            self.records[record_id] = replace(self.records[record_id], report_error=error)


def extra_of(before: int, after: int, included: int) -> int:
    """The units of a record that moved a period from ``before`` to ``after`` used units
    that lie beyond the ``included`` ones."""
    return max(0, after - max(before, included))


def refuse_closed(period: UsagePeriod, when: datetime) -> None:
    """Raise :class:`PeriodClosed` if the period takes no more use. Stores call it while
    they hold the period (it is part of the reservation)."""
    if period.takes_use:
        return
    state = f"invoiced as {period.invoice}" if period.invoice else "billed"
    raise PeriodClosed(
        f"use of {period.meter!r} at {when:%Y-%m-%d %H:%M} falls in the billing period of "
        f"member {period.member_id!r} that ended {period.period_end:%Y-%m-%d %H:%M}, which "
        f"was closed and {state} already; it takes no more use"
    )


def room_in(period: UsagePeriod) -> int:
    """Units the period may still count: up to its cap, and :data:`MAX_PERIOD_UNITS`."""
    room = MAX_PERIOD_UNITS - period.used
    if period.max_extra is not None:
        room = min(room, period.included + period.max_extra - period.used)
    return max(0, room)


def refuse_past_cap(period: UsagePeriod, quantity: int) -> None:
    """Raise :class:`UsageLimitReached` if ``quantity`` more units pass the period's cap.
    Stores call it while they hold the period (it is part of the reservation)."""
    if period.used + quantity > MAX_PERIOD_UNITS:
        raise UsageLimitReached(
            f"recording {quantity} unit(s) of {period.meter!r} would pass the most a "
            f"period counts ({MAX_PERIOD_UNITS} units) for member {period.member_id!r}; "
            f"{room_in(period)} left until {period.period_end:%Y-%m-%d}"
        )
    room = period.room
    if room is not None and quantity > room:
        raise UsageLimitReached(
            f"recording {quantity} unit(s) of {period.meter!r} would pass this period's "
            f"limit of {period.included} included and {period.max_extra} extra unit(s) "
            f"for member {period.member_id!r}; {room} left until "
            f"{period.period_end:%Y-%m-%d}"
        )


@dataclass(frozen=True, slots=True)
class Account:
    """The membership a meter's use is counted with, and its current period's terms."""

    membership: Membership
    price: Price
    terms: UsageTerms


@dataclass(frozen=True, slots=True)
class ReportRun:
    """What :meth:`UsageBilling.report_pending` did: records reported, and failed."""

    reported: int = 0
    failed: int = 0


@dataclass(frozen=True, slots=True)
class CloseRun:
    """What :meth:`UsageBilling.close_periods` did: periods closed, the references of
    the invoices it issued, periods it could not bill (their provider cannot), and ones
    whose provider failed (left open for the next run)."""

    closed: int = 0
    invoices: tuple[str, ...] = ()
    unbillable: int = 0
    failed: int = 0


def _utcnow() -> datetime:
    return datetime.now(UTC)


class UsageBilling:
    """Records use, sums it up and has it billed, for one program and usage store."""

    def __init__(self, program: MembershipProgram, store: UsageStore) -> None:
        self.program = program
        self.store = store

    # -- who is billed, in which period --------------------------------------------------------
    def rate(self, meter: str) -> UsageRate:
        """The usage rate of ``meter``; :class:`UnknownMeter` if there is none."""
        rate = self.program.catalog.usage_rate(meter)
        if rate is None:
            known = [r.meter for r in self.program.catalog.usage_rates]
            raise UnknownMeter(f"no usage rate for meter {meter!r}; known meters: {known}")
        return rate

    def account(
        self,
        member_id: str,
        meter: str,
        when: datetime,
        memberships: Iterable[Membership] | None = None,
    ) -> Account | None:
        """The membership of ``member_id`` whose tier includes ``meter`` and that gives
        access at ``when`` (the one including most, then the one ending last), with the
        terms of its period that holds ``when``; ``None`` when there is none.
        ``memberships``: the member's, when the caller has them already."""
        rate = self.rate(meter)
        program = self.program
        catalog = program.catalog
        if memberships is None:
            memberships = program.store.memberships.for_member(member_id)
        best: tuple[tuple[int, datetime], Account] | None = None
        for membership in memberships:
            end = membership.current_period_end
            if end is None or membership.price_id is None:
                continue
            if not membership.grants_access(
                when, program.grace, paused_access=program.paused_access
            ):
                continue
            try:
                tier = catalog.tier(membership.tier)
                price = catalog.price(membership.price_id, include_archived=True)
            except CatalogError:
                continue
            held = next((e for e in tier.entitlements if e.key == meter), None)
            if held is None or not price.recurring:
                continue
            if when >= end:  # a renewal not seen yet: its period is the next one
                end = add_interval(end, price.interval)
            terms = UsageTerms(
                membership_id=membership.id,
                member_id=member_id,
                meter=meter,
                period_end=end,
                included=included_units(held.quota, price.interval),
                unit_amount=rate.unit_amount,
                currency=rate.currency,
                provider=membership.provider,
                max_extra=rate.max_extra,
            )
            rank = (terms.included, end)
            if best is None or rank > best[0]:
                best = rank, Account(membership, price, terms)
        return None if best is None else best[1]

    # -- recording -----------------------------------------------------------------------------
    def record(
        self,
        member_id: str,
        meter: str,
        quantity: int,
        idempotency_key: str,
        *,
        when: datetime | None = None,
        report: bool = True,
    ) -> UsageRecord:
        """Record ``quantity`` units of ``meter`` used by ``member_id`` at ``when``
        (default now); the same ``idempotency_key`` again returns the first record and
        counts nothing. With ``report``, units beyond the included quota are reported to
        a provider that bills reported use at once (a failure leaves them for
        :meth:`report_pending`).

        :raises UsageError: ``quantity`` is not a whole number from 1 to
            :data:`MAX_QUANTITY`, the key is empty or too long, ``when`` is naive or
            before the membership's current period, or the key was used for another
            quantity.
        :raises PeriodClosed: the period of ``when`` was closed already (late use).
        :raises UnknownMeter: no usage rate has ``meter``.
        :raises NotEntitled: no membership of the member includes ``meter`` at ``when``.
        :raises UsageLimitReached: the period's ``max_extra`` would be passed.
        """
        if (
            not isinstance(quantity, int)
            or isinstance(quantity, bool)
            or not 1 <= quantity <= MAX_QUANTITY
        ):
            raise UsageError(
                f"usage quantity of {meter!r} must be a whole number from 1 to "
                f"{MAX_QUANTITY}, got {quantity!r}"
            )
        key = idempotency_key
        if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY_LENGTH:
            raise UsageError(
                f"idempotency_key must be a non-empty string of at most {MAX_KEY_LENGTH} "
                f"characters (one per use, the same when a request is retried), got {key!r}"
            )
        when = self.program.clock() if when is None else when
        if when.tzinfo is None:
            raise UsageError(f"when must be an aware datetime, got {when!r}")
        account = self.account(member_id, meter, when)
        if account is None:
            raise NotEntitled(
                f"member {member_id!r} has no membership whose tier includes {meter!r} at "
                f"{when:%Y-%m-%d %H:%M}; check access before recording use"
            )
        start = add_interval(account.terms.period_end, account.price.interval, -1)
        if when < start:
            raise UsageError(
                f"use of {meter!r} at {when:%Y-%m-%d %H:%M} is before the current billing "
                f"period of member {member_id!r}, which began {start:%Y-%m-%d %H:%M}"
            )
        record, created = self.store.record(account.terms, quantity, key, when)
        if not created and record.quantity != quantity:
            raise UsageError(
                f"idempotency_key {key!r} was used for {record.quantity} unit(s) of "
                f"{meter!r}, not {quantity}; give each use a key of its own"
            )
        if created and report and record.extra:
            self.report(record)
        return record

    # -- what members see ------------------------------------------------------------------------
    def summaries(
        self,
        member_id: str,
        now: datetime | None = None,
        memberships: Sequence[Membership] | None = None,
    ) -> tuple[UsageSummary, ...]:
        """The member's use of each meter their memberships include, this period
        (``memberships``: the member's, when the caller has them already). Asks the
        store nothing when the site has no usage rate, and no periods when no
        membership of theirs includes one."""
        now = self.program.clock() if now is None else now
        rates = self.program.catalog.usage_rates
        if not rates:
            return ()
        if memberships is None:
            memberships = list(self.program.store.memberships.for_member(member_id))
        accounts = [(r, self.account(member_id, r.meter, now, memberships)) for r in rates]
        held = [(r, a) for r, a in accounts if a is not None]
        if not held:
            return ()
        periods = {
            (p.membership_id, p.meter, p.period_end): p for p in self.store.open_periods(member_id)
        }
        summaries = []
        for rate, account in held:
            terms = account.terms
            period = periods.get((terms.membership_id, rate.meter, terms.period_end))
            summaries.append(
                UsageSummary(
                    meter=rate.meter,
                    name=rate.label,
                    used=period.used if period else 0,
                    included=period.included if period else terms.included,
                    unit_amount=period.unit_amount if period else terms.unit_amount,
                    currency=period.currency if period else terms.currency,
                    period_end=terms.period_end,
                    max_extra=period.max_extra if period else terms.max_extra,
                )
            )
        return tuple(summaries)

    def summary(
        self, member_id: str, meter: str, now: datetime | None = None
    ) -> UsageSummary | None:
        """The member's use of ``meter`` this period; ``None`` when no membership of
        theirs includes it."""
        self.rate(meter)
        return next((s for s in self.summaries(member_id, now) if s.meter == meter), None)

    # -- billing -------------------------------------------------------------------------------
    def _report_of(self, record: UsageRecord) -> tuple[UsageReporting, UsageReport] | None:
        provider = self.program.providers.get(record.provider)
        if not isinstance(provider, UsageReporting):
            return None
        membership = self.program.store.memberships.get(record.membership_id)
        if membership is None or not membership.provider_subscription_id:
            return None
        # The rate names the provider's meter; the price is the period's (what the
        # member was shown), even when the rate changed since.
        rate = self.program.catalog.usage_rate(record.meter)
        meters = rate.provider_meters if rate is not None else {}
        return provider, UsageReport(
            subscription_id=membership.provider_subscription_id,
            customer_id=membership.provider_customer_id or "",
            meter=record.meter,
            provider_meter=meters.get(record.provider, record.meter),
            quantity=record.extra,
            unit_amount=record.unit_amount,
            currency=record.currency,
            identifier=identifier(record.member_id, record.meter, record.idempotency_key),
            when=record.when,
            period_end=record.period_end,
            description=rate.label if rate is not None else record.meter,
        )

    def report(self, record: UsageRecord) -> bool:
        """Report ``record``'s extra units to its provider; ``True`` once it took them.
        A provider failure is kept on the record (and logged), for a later retry."""
        found = self._report_of(record)
        if found is None:
            return False
        provider, report = found
        try:
            provider.report_usage(report)
        except ProviderError as exc:
            logger.warning(
                "usage record %s not reported to %s: %s", record.id, record.provider, exc
            )
            self.store.mark_report_failed(record.id, str(exc)[:500])
            return False
        self.store.mark_reported(record.id, self.program.clock())
        return True

    def report_pending(self, limit: int = 500) -> ReportRun:
        """Report the extra units of every record not reported yet (run it regularly:
        a failed report is retried here; each goes out with its identifier, so a
        provider bills it once however often it is sent)."""
        providers = [n for n in self.program.providers if self._reports(n)]
        reported = failed = 0
        for record in self.store.unreported(providers, limit):
            if self.report(record):
                reported += 1
            else:
                failed += 1
        return ReportRun(reported, failed)

    def _reports(self, name: str) -> bool:
        return isinstance(self.program.providers.get(name), UsageReporting)

    def close_periods(self, now: datetime | None = None, limit: int = 500) -> CloseRun:
        """Close the periods that ended by ``now``: a provider that invoices usage on
        its own (:class:`~membership_sdk.providers.UsageInvoicing`) invoices each one's
        extra use, once (the invoice's identifier is the period's); for providers that
        bill reported use the period is simply closed. Safe to run in parallel and
        again: a period is invoiced and closed once.

        Each period's count is frozen first (:meth:`UsageStore.freeze_period`): use
        recorded into it is either in the count billed or refused
        (:class:`PeriodClosed`), never counted and left unbilled. A period the provider
        failed to invoice stays frozen, and the next run invoices the same count."""
        now = self.program.clock() if now is None else now
        closed, unbillable, failed = 0, 0, 0
        invoices: list[str] = []
        memberships = self.program.store.memberships
        for ended in self.store.ended_periods(now, limit):
            provider = self.program.providers.get(ended.provider)
            billable = isinstance(provider, UsageInvoicing | UsageReporting)
            known = memberships.get(ended.membership_id) is not None
            if ended.extra and known and not billable:
                unbillable += 1  # left open (and counting) until a provider can bill it
                continue
            period = self.store.freeze_period(ended.id, now)
            if period is None:
                continue  # closed by a parallel run
            reference = ""
            if period.extra and memberships.get(period.membership_id) is None:
                pass  # the membership is gone (its member erased): nobody to bill
            elif period.extra and isinstance(provider, UsageInvoicing):
                try:
                    reference = provider.invoice_usage(self._invoice_request(period))
                except ProviderError as exc:
                    logger.warning("usage period %s not invoiced: %s", period.id, exc)
                    failed += 1
                    continue
            elif period.extra and not billable:
                unbillable += 1  # use that came in since: frozen, kept for a later run
                continue
            if self.store.close_period(period.id, now, reference):
                closed += 1
                if reference:
                    invoices.append(reference)
        return CloseRun(closed, tuple(invoices), unbillable, failed)

    def _invoice_request(self, period: UsagePeriod) -> UsageInvoiceRequest:
        membership = self.program.store.memberships.get(period.membership_id)
        rate = self.program.catalog.usage_rate(period.meter)
        return UsageInvoiceRequest(
            subscription_id=(membership.provider_subscription_id or "") if membership else "",
            member_id=period.member_id,
            meter=period.meter,
            quantity=period.extra,
            unit_amount=period.unit_amount,
            amount=period.amount,
            currency=period.currency,
            period_end=period.period_end,
            identifier=identifier(period.membership_id, period.meter, period.period_end),
            description=rate.label if rate is not None else period.meter,
        )
