"""Memberships, their status state machine, and grants of access."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from .entitlements import Entitlement
from .errors import InvalidTransition


class Status(StrEnum):
    """Where a membership stands. ``UNKNOWN`` stands for any status a provider sent that
    the SDK does not recognise; it never grants access."""

    INCOMPLETE = "incomplete"
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    PAUSED = "paused"
    CANCELED = "canceled"
    EXPIRED = "expired"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: object) -> Status:
        """The status named ``value``, or ``UNKNOWN`` for anything unrecognised."""
        try:
            return cls(str(value))
        except ValueError:
            return cls.UNKNOWN


_S = Status
# The relation is transitively closed on purpose: billing events may arrive out of order
# and the SDK skips stale ones, so a membership can jump over intermediate states (say
# trialing -> canceled) and every such jump must still be valid.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    _S.INCOMPLETE: frozenset(
        {_S.INCOMPLETE, _S.TRIALING, _S.ACTIVE, _S.PAST_DUE, _S.PAUSED, _S.CANCELED, _S.EXPIRED}
    ),
    _S.TRIALING: frozenset(
        {_S.TRIALING, _S.ACTIVE, _S.PAST_DUE, _S.PAUSED, _S.CANCELED, _S.EXPIRED}
    ),
    _S.ACTIVE: frozenset({_S.ACTIVE, _S.PAST_DUE, _S.PAUSED, _S.CANCELED, _S.EXPIRED}),
    _S.PAST_DUE: frozenset({_S.PAST_DUE, _S.ACTIVE, _S.PAUSED, _S.CANCELED, _S.EXPIRED}),
    _S.PAUSED: frozenset({_S.PAUSED, _S.ACTIVE, _S.PAST_DUE, _S.CANCELED, _S.EXPIRED}),
    _S.CANCELED: frozenset({_S.CANCELED, _S.EXPIRED}),
    _S.EXPIRED: frozenset({_S.EXPIRED}),
    _S.UNKNOWN: frozenset(set(Status)),
}
for _status, _targets in list(TRANSITIONS.items()):
    if _status not in (_S.CANCELED, _S.EXPIRED):
        TRANSITIONS[_status] = _targets | {_S.UNKNOWN}

# Status groups, named once so every adapter, view and report agrees on them.
#: Not ended: a member's current memberships, whether or not they give access right now.
LIVE = frozenset({_S.INCOMPLETE, _S.TRIALING, _S.ACTIVE, _S.PAST_DUE, _S.PAUSED})
#: Gives access while its period (plus grace) lasts; the memberships a member may cancel.
GRANTING = frozenset({_S.TRIALING, _S.ACTIVE, _S.PAST_DUE})
#: Being paid for (a trial is not, yet).
PAYING = frozenset({_S.ACTIVE, _S.PAST_DUE})
#: Ended for good; a canceled one keeps access until the period it paid for ends.
TERMINAL = frozenset({_S.CANCELED, _S.EXPIRED})
#: Never counted as a member in metrics: it never started, or nobody knows its status.
UNCOUNTED = frozenset({_S.INCOMPLETE, _S.UNKNOWN})


def check_transition(current: Status, target: Status) -> None:
    """Raise :class:`InvalidTransition` unless ``current -> target`` is allowed."""
    allowed = TRANSITIONS[current]
    if target not in allowed:
        raise InvalidTransition(current, target, frozenset(allowed))


@dataclass(frozen=True, slots=True)
class Membership:
    """A member's subscription to a tier, as last reported by its provider.

    ``version`` orders the provider's snapshots of this subscription: a snapshot with a
    lower version never overwrites one with a higher version.

    ``paid_through`` is the end of the last period a payment covered, as far as the SDK
    knows; ``current_period_end`` is the end of the period the provider is in, which may
    not be paid yet (Stripe starts a new period about an hour before it charges for it).
    A past-due membership gives access until ``paid_through`` plus the grace period,
    never through the unpaid period.

    ``price_since`` is when it moved to its current price (and tier), as its provider
    records it. ``paused_until`` is when a paused one resumes by itself, and
    ``pause_reason`` what the member gave as the reason. ``amount`` is what each period
    is charged after discounts (``None``: the price's list amount), ``coupon`` the
    discount's code and ``discount_ends_at`` when the discount stops applying.
    """

    id: str
    member_id: str
    tier: str
    status: Status
    provider: str
    price_id: str | None = None
    provider_subscription_id: str | None = None
    provider_customer_id: str | None = None
    started_at: datetime | None = None
    current_period_end: datetime | None = None
    trial_end: datetime | None = None
    cancel_at_period_end: bool = False
    canceled_at: datetime | None = None
    cancel_reason: str = ""
    version: tuple[int, str] = (0, "")
    paid_through: datetime | None = None
    price_since: datetime | None = None
    paused_until: datetime | None = None
    pause_reason: str = ""
    amount: int | None = None
    coupon: str = ""
    discount_ends_at: datetime | None = None

    def charged(self, list_amount: int, now: datetime) -> int:
        """What a period starting at ``now`` is charged, given the price's
        ``list_amount``: the discounted ``amount`` while its discount lasts."""
        if self.amount is None:
            return list_amount
        if self.discount_ends_at is not None and now >= self.discount_ends_at:
            return list_amount
        return self.amount

    def transition(self, target: Status, **changes: object) -> Membership:
        """A copy moved to ``target``; raises :class:`InvalidTransition` if forbidden."""
        check_transition(self.status, target)
        return dataclasses.replace(self, status=target, **changes)  # type: ignore[arg-type]

    def replace(self, **changes: object) -> Membership:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def grants_access(
        self, now: datetime, grace: timedelta = timedelta(0), *, paused_access: bool = True
    ) -> bool:
        """Whether this membership gives access at ``now``.

        Trialing and active memberships give access until their period ends plus
        ``grace`` (a renewal webhook may be late). Past-due ones give access until the
        last *paid* period ends (``paid_through``) plus ``grace``, the dunning grace
        period, never through the new period the failed payment was for. With no payment
        known, the current period's end stands in for it: providers that start a period
        only once it is paid (``fake``, ``manual``) need nothing more, and Stripe's
        past-due snapshots say where the unpaid period began. Canceled ones until the
        period they paid for ends. Incomplete, paused, expired and unknown statuses never
        give access, nor does a past-due one with no known period at all.

        A paused one gives access with ``paused_access`` (the site's choice, see
        :class:`~membership_sdk.lifecycle.PauseAccess`; the default): until the period
        paid before the pause ends (``paid_through``, else the current period's end),
        without grace. Once ``paused_until`` has come it counts as resumed, as an active
        one whose period runs at least to ``paused_until`` (plus ``grace``): the provider
        resumes it by itself, and a late resume webhook must not lock a paying member out.
        """
        status = self.status
        end = self.current_period_end
        if status is _S.PAUSED:
            resumes = self.paused_until
            if resumes is not None and resumes <= now:
                return now < max(end or resumes, resumes) + grace
            paid = self.paid_through or end
            return paused_access and paid is not None and now < paid
        if status is _S.PAST_DUE:
            paid = self.paid_through or end
            return paid is not None and now < paid + grace
        if status in GRANTING:
            return end is None or now < end + grace
        if status is _S.CANCELED:
            return end is not None and now < end
        return False


class GrantKind(StrEnum):
    """Why a member holds access."""

    MEMBERSHIP = "membership"
    TRIAL = "trial"
    COMP = "comp"
    GIFT = "gift"
    PURCHASE = "purchase"
    TEAM_SEAT = "team_seat"


@dataclass(frozen=True, slots=True)
class Grant:
    """Access a member holds for a while: to a tier, to extra entitlements, or to one item.

    Paid memberships become grants when a member's access is resolved; comps, gifts,
    trials without a card, team seats and one-off purchases are stored as grants.
    """

    id: str
    member_id: str
    kind: GrantKind
    starts_at: datetime
    ends_at: datetime | None = None
    tier: str | None = None
    entitlements: tuple[Entitlement, ...] = ()
    item: str | None = None
    source: str = ""
    revoked_at: datetime | None = None
    note: str = ""

    def active(self, now: datetime) -> bool:
        if self.revoked_at is not None and self.revoked_at <= now:
            return False
        return self.starts_at <= now and (self.ends_at is None or now < self.ends_at)

    def replace(self, **changes: object) -> Grant:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]
