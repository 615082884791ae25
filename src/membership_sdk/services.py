"""Services: something staff deliver to members, a number of times per period.

A service is an entitlement whose key starts with ``service.``, usually with a quota:
a tier giving ``service.consultation: 2 per month`` lets its members book two
consultations a calendar month. Like every entitlement it is resolved from everything
the member holds (a paid membership, a trial, a comp, a gift, a team seat); two grants
giving the same service merge with :func:`~membership_sdk.entitlements.merge_quotas`
(the more generous quota wins, they are not added up). A service without a quota can be
requested without limit.

A member *requests* a service (:meth:`ServiceDesk.request`), with a note; the request
takes one slot of the quota of the period it is made in at once, so a member sees what
is left the moment they asked. Staff then *redeem* it (mark it delivered) or *decline*
it, and the member may *cancel* it while it is open. Requested and redeemed requests
count against the quota; a canceled or declined one gives its slot back::

    requested ──redeem──▶ redeemed
        │  └──decline──▶ declined     (slot given back)
        └────cancel───▶ canceled      (slot given back; the member's own only)

**The period** is the quota's calendar period (a month from the 1st, 00:00 UTC, for
``per month``), the same window a quota on content counts in
(:func:`~membership_sdk.access.period_start`). Not the member's billing period: a comp,
a gift or a team seat has none, two grants of one member have two, and a member who
reads "2 per month" expects the count to start again on the 1st. Each request keeps the
start of the period it counts in (:attr:`ServiceRequest.period_start`), so a request
made on 31 January and redeemed on 2 February still counts in January.

**Quotas are reservations** (the design's invariant 8): :meth:`ServiceStore.reserve`
counts the period's requests and stores the new one in one atomic step, so two parallel
requests of one member never both take the last slot.

**Who may request**: a member whose resolved access context holds the service now. A
lapsed membership, a paused one when paused memberships give nothing
(``pause_access="none"``, or once the paid period ended) and a revoked grant give no
service, so the request is refused with :class:`ServiceNotHeld`. A request made while
the member held it stays valid: staff may still redeem it.

Errors::

    MembershipError
    └── ServiceError                 a service cannot be requested, or a request changed
        ├── UnknownService           the key is no service key
        ├── ServiceNotHeld           the member does not hold the service now
        ├── ServiceQuotaExhausted    no slot left in the quota's period
        ├── UnknownServiceRequest    no request with that id (or not the member's)
        └── ServiceRequestClosed     it was redeemed, declined or canceled already
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from .access import period_start
from .entitlements import Period, Quota
from .errors import MembershipError

if TYPE_CHECKING:
    from .access import AccessContext
    from .program import MembershipProgram

#: Entitlement keys starting with this are services.
SERVICE_PREFIX = "service."
#: The longest note a member or staff may write on a request.
NOTE_LENGTH = 2000


class RequestStatus(StrEnum):
    """Where a service request stands."""

    REQUESTED = "requested"
    REDEEMED = "redeemed"
    CANCELED = "canceled"
    DECLINED = "declined"


#: The statuses that use up a slot of the period's quota.
COUNTING = frozenset({RequestStatus.REQUESTED, RequestStatus.REDEEMED})


class ServiceError(MembershipError):
    """A service cannot be requested, or a request cannot change as asked."""


class UnknownService(ServiceError, LookupError):
    """The key given is no service key (``service.`` and a name)."""


class ServiceNotHeld(ServiceError):
    """The member does not hold the service now (never did, lapsed, paused, revoked)."""


class ServiceQuotaExhausted(ServiceError):
    """Every slot of the quota's current period is taken."""

    def __init__(self, message: str, renews_at: datetime) -> None:
        super().__init__(message)
        #: When the next period starts, with a full quota.
        self.renews_at = renews_at


class UnknownServiceRequest(ServiceError, LookupError):
    """No request has the id given, or it is another member's."""


class ServiceRequestClosed(ServiceError):
    """The request was redeemed, declined or canceled already."""

    def __init__(self, message: str, request: ServiceRequest) -> None:
        super().__init__(message)
        #: The request as stored.
        self.request = request


def is_service(key: str) -> bool:
    """Whether the entitlement ``key`` is a service (``service.consultation``)."""
    return key.startswith(SERVICE_PREFIX) and len(key) > len(SERVICE_PREFIX)


def service_label(key: str) -> str:
    """A readable name made from the key: ``service.legal-advice`` -> ``Legal advice``."""
    name = key.removeprefix(SERVICE_PREFIX).replace("-", " ").replace("_", " ").replace(".", " ")
    return name[:1].upper() + name[1:]


def next_period_start(period: Period, now: datetime) -> datetime:
    """The start of the calendar ``period`` after the one containing ``now``."""
    start = period_start(period, now)
    if period is Period.DAY:
        return start + timedelta(days=1)
    if period is Period.WEEK:
        return start + timedelta(days=7)
    if period is Period.MONTH:
        return (start + timedelta(days=32)).replace(day=1)
    return start.replace(year=start.year + 1)


@dataclass(frozen=True, slots=True)
class ServiceRequest:
    """A member's request of a service, and what became of it.

    :ivar period_start: the start of the quota period it counts in (when it was made).
    :ivar note: what the member wrote (a preferred time, a question).
    :ivar staff_note: what staff wrote when redeeming or declining it.
    :ivar closed_at: when it was redeemed, declined or canceled.
    :ivar closed_by: who did it: a staff user's id, or the member's for a cancel.
    """

    id: str
    member_id: str
    service: str
    requested_at: datetime
    period_start: datetime
    status: RequestStatus = RequestStatus.REQUESTED
    note: str = ""
    staff_note: str = ""
    closed_at: datetime | None = None
    closed_by: str = ""

    @property
    def open(self) -> bool:
        """Whether staff may still redeem or decline it, and the member cancel it."""
        return self.status is RequestStatus.REQUESTED

    @property
    def counts(self) -> bool:
        """Whether it uses up a slot of its period's quota."""
        return self.status in COUNTING

    def replace(self, **changes: object) -> ServiceRequest:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Allowance:
    """What a member holds of one service now: its quota, and how much of it is used.

    :ivar quota: ``None``: the service has no quota (requests are not limited).
    :ivar used: requests counting in the current period (requested or redeemed).
    :ivar period_start: the start of the current period (of a month for no quota).
    :ivar renews_at: when the next period starts.
    :ivar open: the member's open requests of this service, in any period.
    """

    service: str
    quota: Quota | None
    used: int
    period_start: datetime
    renews_at: datetime
    open: tuple[ServiceRequest, ...] = ()

    @property
    def limit(self) -> int | None:
        return None if self.quota is None else self.quota.limit

    @property
    def left(self) -> int | None:
        """Requests the member may still make this period (``None``: no limit)."""
        return None if self.quota is None else max(self.quota.limit - self.used, 0)

    @property
    def period(self) -> Period:
        return Period.MONTH if self.quota is None else self.quota.period


class ServiceStore(Protocol):
    """Where service requests are kept. A store that keeps them has one as its
    ``services`` attribute (:class:`ServiceDesk` finds it there)."""

    def reserve(self, request: ServiceRequest, limit: int | None) -> int | None:
        """Store ``request`` (status ``requested``) unless ``limit`` requests of its
        member and service already count in its period (``period_start``: requested or
        redeemed ones); ``None``: no limit. Returns how many count in the period
        afterwards, this one included, or ``None`` when the quota was full and nothing
        was stored.

        MUST be atomic with respect to other calls for the same member and service, in
        every process: two parallel calls never both see room for the last slot.
        """
        ...

    def close(
        self, request_id: str, status: RequestStatus, when: datetime, *, note: str, by: str
    ) -> ServiceRequest:
        """Move the open request ``request_id`` to ``status`` (redeemed, declined or
        canceled) with the staff ``note`` (kept as it was when empty) and who did it;
        returns it as stored.

        MUST be atomic: of parallel calls for one request exactly one changes it.

        :raises UnknownServiceRequest: no request has the id.
        :raises ServiceRequestClosed: it is not open (nothing is changed then).
        """
        ...

    def get(self, request_id: str) -> ServiceRequest | None: ...

    def for_member(self, member_id: str, since: datetime) -> Sequence[ServiceRequest]:
        """The member's requests counted in periods starting at or after ``since``, and
        their open requests of any period: newest first."""
        ...

    def new_id(self) -> str: ...


class MemoryServices:
    """A :class:`ServiceStore` in memory; a lock makes :meth:`reserve` and :meth:`close`
    atomic across threads."""

    def __init__(self) -> None:
        self.rows: dict[str, ServiceRequest] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def reserve(self, request: ServiceRequest, limit: int | None) -> int | None:
        with self._lock:
            if request.id in self.rows:
                raise ServiceError(f"service request {request.id!r} exists already")
            used = sum(
                1
                for r in self.rows.values()
                if r.member_id == request.member_id
                and r.service == request.service
                and r.period_start == request.period_start
                and r.counts
            )
            if limit is not None and used >= limit:
                return None
            self.rows[request.id] = request.replace(status=RequestStatus.REQUESTED)
            return used + 1

    def close(
        self, request_id: str, status: RequestStatus, when: datetime, *, note: str, by: str
    ) -> ServiceRequest:
        with self._lock:
            found = self.rows.get(request_id)
            if found is None:
                raise unknown_request(request_id)
            if not found.open:
                raise closed_request(found)
            changed = self.rows[request_id] = found.replace(
                status=status, closed_at=when, closed_by=by, staff_note=note or found.staff_note
            )
            return changed

    def get(self, request_id: str) -> ServiceRequest | None:
        return self.rows.get(request_id)

    def for_member(self, member_id: str, since: datetime) -> Sequence[ServiceRequest]:
        found = [
            r
            for r in self.rows.values()
            if r.member_id == member_id and (r.period_start >= since or r.open)
        ]
        return sorted(found, key=lambda r: (r.requested_at, r.id), reverse=True)

    def new_id(self) -> str:
        return f"srv_{next(self._ids)}"


def unknown_request(request_id: str) -> UnknownServiceRequest:
    """The error for an id no request has (stores share it, so refusals read alike)."""
    return UnknownServiceRequest(f"no service request has the id {request_id!r}")


def closed_request(request: ServiceRequest) -> ServiceRequestClosed:
    """The error for a request that is not open any more, saying what became of it."""
    when = request.closed_at.date().isoformat() if request.closed_at else "earlier"
    return ServiceRequestClosed(
        f"service request {request.id!r} was {request.status.value} on {when}; "
        "only an open (requested) request can be redeemed, declined or canceled",
        request,
    )


class ServiceDesk:
    """Requests of services for one program: made by members, closed by staff.

    :param program: the site's program (its catalog, clock, plugin hooks and store).
    :param store: where requests are kept; by default the program store's ``services``.
    :raises ServiceError: no store was given and the program's store keeps no services.
    """

    def __init__(self, program: MembershipProgram, store: ServiceStore | None = None) -> None:
        self.program = program
        found: ServiceStore | None = (
            store if store is not None else getattr(program.store, "services", None)
        )
        if found is None:
            raise ServiceError(
                f"{type(program.store).__name__} keeps no service requests: give it a "
                "`services` attribute implementing membership_sdk.services.ServiceStore"
            )
        self.store = found

    # -- what a member holds -----------------------------------------------------------------
    def _context(self, member_id: str, context: AccessContext | None) -> AccessContext:
        if context is not None:
            return context
        # Meter usage plays no part in what services a member holds: not loaded.
        return self.program.context(member_id, usage={})

    @staticmethod
    def held(context: AccessContext) -> dict[str, Quota | None]:
        """The services ``context``'s member holds, each with its (merged) quota."""
        return {
            key: context.quotas.get(key) for key in sorted(context.entitlements) if is_service(key)
        }

    def allowances(
        self, member_id: str, *, context: AccessContext | None = None
    ) -> list[Allowance]:
        """What ``member_id`` holds of each service now, with what is used and left this
        period; ordered by service key. ``context``: their resolved access context, if
        the caller has it (it is resolved otherwise). One read of the store, none for a
        member who holds no service."""
        ctx = self._context(member_id, context)
        held = self.held(ctx)
        if not held:
            return []
        now = ctx.now
        starts = {
            key: period_start(Period.MONTH if q is None else q.period, now)
            for key, q in held.items()
        }
        rows = self.store.for_member(member_id, min(starts.values()))
        out = []
        for key, quota in held.items():
            mine = [r for r in rows if r.service == key]
            out.append(
                Allowance(
                    service=key,
                    quota=quota,
                    used=sum(1 for r in mine if r.counts and r.period_start == starts[key]),
                    period_start=starts[key],
                    renews_at=next_period_start(
                        Period.MONTH if quota is None else quota.period, now
                    ),
                    open=tuple(r for r in mine if r.open),
                )
            )
        return out

    def requests(self, member_id: str, since: datetime) -> Sequence[ServiceRequest]:
        """The member's requests from periods starting at ``since``, and open ones."""
        return self.store.for_member(member_id, since)

    # -- the member's side -------------------------------------------------------------------
    def request(
        self,
        member_id: str,
        service: str,
        note: str = "",
        *,
        context: AccessContext | None = None,
    ) -> ServiceRequest:
        """Request ``service`` for ``member_id``, with a ``note`` for staff. It takes a
        slot of the current period's quota at once (atomically: parallel requests never
        overrun it) and fires ``membership_service_requested``.

        :raises UnknownService: ``service`` is no service key.
        :raises ServiceNotHeld: the member does not hold it now.
        :raises ServiceQuotaExhausted: every slot of the period is taken.
        :raises ServiceError: the note is longer than :data:`NOTE_LENGTH`.
        """
        if not isinstance(service, str) or not is_service(service):
            raise UnknownService(
                f"{service!r} is no service; expected an entitlement key such as "
                f"'{SERVICE_PREFIX}consultation'"
            )
        note = _checked_note(note)
        ctx = self._context(member_id, context)
        held = self.held(ctx)
        if service not in held:
            tiers = [
                t.slug for t in ctx.catalog.tiers if any(e.key == service for e in t.entitlements)
            ]
            given = f"tiers giving it: {', '.join(tiers)}" if tiers else "no tier gives it"
            raise ServiceNotHeld(
                f"member {member_id!r} does not hold {service!r} now ({given}); "
                "a lapsed, paused or revoked membership gives no services"
            )
        quota = held[service]
        now = ctx.now
        period = Period.MONTH if quota is None else quota.period
        request = ServiceRequest(
            id=self.store.new_id(),
            member_id=member_id,
            service=service,
            requested_at=now,
            period_start=period_start(period, now),
            note=note,
        )
        counted = self.store.reserve(request, None if quota is None else quota.limit)
        if counted is None:
            assert quota is not None
            renews = next_period_start(period, now)
            raise ServiceQuotaExhausted(
                f"member {member_id!r} used all {quota.limit} of {service!r} this "
                f"{period.value}; it renews on {renews.date().isoformat()}",
                renews,
            )
        self.program.pm.hook.membership_service_requested(request=request)
        return request

    def cancel(self, member_id: str, request_id: str) -> ServiceRequest:
        """Cancel ``member_id``'s own open request: its slot is given back.

        :raises UnknownServiceRequest: no request has the id, or it is another member's
            (the two are not told apart).
        :raises ServiceRequestClosed: it was redeemed, declined or canceled already.
        """
        found = self.store.get(request_id)
        if found is None or found.member_id != member_id:
            raise unknown_request(request_id)
        return self._close(request_id, RequestStatus.CANCELED, "", member_id)

    # -- staff's side ------------------------------------------------------------------------
    def redeem(self, request_id: str, *, note: str = "", by: str = "") -> ServiceRequest:
        """Mark the open request delivered, with a staff ``note``; ``by``: who did.

        :raises UnknownServiceRequest: no request has the id.
        :raises ServiceRequestClosed: it was redeemed, declined or canceled already.
        """
        return self._close(request_id, RequestStatus.REDEEMED, note, by)

    def decline(self, request_id: str, *, note: str = "", by: str = "") -> ServiceRequest:
        """Decline the open request (its slot is given back), saying why in ``note``.

        :raises UnknownServiceRequest: no request has the id.
        :raises ServiceRequestClosed: it was redeemed, declined or canceled already.
        """
        return self._close(request_id, RequestStatus.DECLINED, note, by)

    def _close(self, request_id: str, status: RequestStatus, note: str, by: str) -> ServiceRequest:
        note = _checked_note(note)
        closed = self.store.close(request_id, status, self.program.clock(), note=note, by=by)
        self.program.pm.hook.membership_service_closed(request=closed)
        return closed


def _checked_note(note: str) -> str:
    if not isinstance(note, str):
        raise ServiceError(f"a note must be text, got {type(note).__name__}")
    note = note.strip()
    if len(note) > NOTE_LENGTH:
        raise ServiceError(f"a note has at most {NOTE_LENGTH} characters; this one has {len(note)}")
    return note
