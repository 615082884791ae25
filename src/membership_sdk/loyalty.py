"""Loyalty: rewards a publisher gives members for the months they paid.

A :class:`LoyaltyReward` is due once a member has paid for ``after_months`` months: an
entitlement granted for a while (or for good), or a personal single-use coupon code.

**Tenure** (:func:`tenure`) is what a member paid for, derived from their stored
memberships alone, so it is the same on every provider (``fake``, ``manual``,
``stripe``): each membership contributes its paid span (:func:`paid_span`) from the end
of its trial (or its start) to the end of the period last paid (``paid_through``, else the
current period's end), never later than now. So it counts no trial days, no unpaid
past-due period (``paid_through`` stays at the last paid period), no time paused while a
pause lasts (the paid period before it ends, nothing runs on), nothing of a membership
withdrawn from (its payment was refunded in full) and nothing after a full refund or a
lost chargeback (the program cancels then, with a ``cancel_reason`` that says so). Spans of
several memberships are merged, so two memberships paid at once count once; gaps between
memberships do not count. ``breaks`` are further spans known to be unpaid (an adapter that
keeps a history passes the past pauses of a membership that resumed since).

Months are calendar months (31 January + 1 month = 28/29 February); the days left over of
each span are summed and every 30 of them count a month. A member is a member since the
start of their first paid span.

**Giving** (:func:`give_rewards`) is once per member and reward, also when two jobs run at
once: the :class:`LoyaltyStore` *claims* the pair first (an atomic reservation: a unique
row in a database), and the reward is made in the same transaction. An entitlement
reward is a ``comp`` grant through :meth:`~membership_sdk.MembershipProgram.grant` with
the source ``loyalty:<reward>:<member>``; a coupon reward is a personal
:class:`~membership_sdk.catalog.Coupon`: a fresh code for one redemption by that member
only (``member_id``). The ``membership_loyalty_rewarded`` hook is fired after each.

**Using a code** on a running membership (:func:`use_on_membership`): the members a
coupon reward is for usually still pay, and a checkout is for a new membership, so the
code goes on their live subscription instead, through
:meth:`~membership_sdk.MembershipProgram.apply_discount` (the provider's
:class:`~membership_sdk.providers.SubscriptionDiscounts` capability: ``fake``, ``manual``
and ``stripe`` have it), and is redeemed for good in the program's
:class:`~membership_sdk.ports.RedemptionStore`, so it cannot also be used at a checkout.
:func:`why_not_on` says what stands in the way (:data:`NOT_USABLE`). A member without a
live subscription enters the code at checkout.

A reward given is kept: tenure only grows (except by a refund, whose refunded time never
counted towards a reward given before it), and ending a membership takes nothing back.

Errors::

    MembershipError
    └── LoyaltyError      a reward that is not valid (no key, months < 1, not exactly
        │                 one of an entitlement or a coupon)
        └── CodeNotUsable a personal code cannot go on this membership (``reason``)

    (:func:`use_on_membership` raises a :class:`~membership_sdk.CouponError` for the code
    itself: unknown, someone else's, expired, redeemed already.)
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from .cancellation import WITHDRAWAL_REASON
from .catalog import Coupon, Duration, Interval, Price
from .discounts import check_coupon
from .entitlements import Entitlement
from .errors import CouponError, MembershipError
from .membership import GRANTING, Grant, GrantKind, Membership, Status
from .providers.base import SubscriptionDiscounts
from .providers.simulated import add_interval
from .referrals import discount_running

if TYPE_CHECKING:
    from .program import MembershipProgram

__all__ = [
    "NOT_USABLE",
    "Award",
    "CodeNotUsable",
    "LoyaltyError",
    "LoyaltyReward",
    "LoyaltyStore",
    "MemoryLoyalty",
    "Standing",
    "Tenure",
    "due_rewards",
    "give_rewards",
    "paid_span",
    "personal_code",
    "standing",
    "tenure",
    "use_on_membership",
    "why_not_on",
]

#: What :meth:`~membership_sdk.MembershipProgram.refund` and a refund or lost chargeback
#: reported by a provider record as the ``cancel_reason`` (``"a full refund of <payment>"``).
REFUND_REASONS = ("a full refund of ", "a lost chargeback of ")
#: Days of leftover time that count as one more month.
DAYS_PER_MONTH = 30
#: Letters and digits of a personal code (no 0/O, 1/I/L), and how many.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8


class LoyaltyError(MembershipError):
    """A loyalty reward is not valid; the message names it and what was expected."""


#: Why a personal code cannot go on a membership (:func:`why_not_on`):
#: ``not_live`` (ended, canceling at its period's end, or not a subscription that
#: renews), ``discount_running`` (a provider keeps one discount per subscription, so a
#: new one would replace it), ``unsupported`` (its provider cannot discount a running
#: subscription).
NOT_USABLE = ("not_live", "discount_running", "unsupported")


class CodeNotUsable(LoyaltyError):
    """A personal code cannot go on this membership now; nothing changed.

    :ivar reason: one of :data:`NOT_USABLE`.
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class LoyaltyReward:
    """What a member gets once they paid ``after_months`` months.

    Exactly one of ``entitlement`` (a key such as ``downloads.archive``, granted for
    ``days`` days, or for good when ``None``) or ``coupon`` (the terms of a personal code:
    its ``code`` is the prefix of every member's code, its ``max_redemptions`` is always
    1 and it is for that member only).
    """

    key: str
    name: str
    after_months: int
    entitlement: str = ""
    days: int | None = None
    coupon: Coupon | None = None

    def __post_init__(self) -> None:
        key = self.key
        if not isinstance(key, str) or not key.strip() or len(key) > 64 or ":" in key:
            raise LoyaltyError(
                f"invalid loyalty reward key {key!r}; expected 1..64 characters without ':'"
            )
        if (
            not isinstance(self.after_months, int)
            or isinstance(self.after_months, bool)
            or self.after_months < 1
        ):
            raise LoyaltyError(
                f"loyalty reward {key!r}: after_months must be a whole number >= 1, "
                f"got {self.after_months!r}"
            )
        if bool(self.entitlement) == (self.coupon is not None):
            raise LoyaltyError(
                f"loyalty reward {key!r}: set exactly one of an entitlement or a coupon"
            )
        if self.entitlement:
            try:
                Entitlement.parse(self.entitlement)
            except (ValueError, MembershipError) as exc:
                raise LoyaltyError(f"loyalty reward {key!r}: {exc}") from None
        if self.days is not None and (not self.entitlement or self.days < 1):
            raise LoyaltyError(
                f"loyalty reward {key!r}: days must be >= 1 and only with an entitlement, "
                f"got {self.days!r}"
            )

    @property
    def source(self) -> str:
        """The prefix of the ``source`` of this reward's grants (``loyalty:<key>:``)."""
        return f"loyalty:{self.key}:"


@dataclass(frozen=True, slots=True)
class Tenure:
    """A member's standing: since when they paid (``None``: never) and for how long."""

    member_since: datetime | None
    paid_months: int
    paid_days: int = 0

    @property
    def paid(self) -> bool:
        return self.member_since is not None


@dataclass(frozen=True, slots=True)
class Award:
    """A reward given to a member: the grant (and when it ends) or the personal code it
    made."""

    member_id: str
    reward: str
    awarded_at: datetime
    paid_months: int
    grant_id: str = ""
    coupon_code: str = ""
    ends_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Standing:
    """What the account page shows: the tenure, the rewards received, those due now
    (given on the job's next run) and the next one with the months still to pay."""

    tenure: Tenure
    received: tuple[Award, ...]
    due: tuple[LoyaltyReward, ...]
    next: LoyaltyReward | None
    months_to_next: int = 0


# -- tenure -----------------------------------------------------------------------------------
def paid_span(membership: Membership, now: datetime) -> tuple[datetime, datetime] | None:
    """The span ``membership`` was paid for up to ``now`` (``None``: no paid time).

    From the end of its trial (its start without one) to the end of its last paid period
    (``paid_through``; the current period's end when no payment is recorded, since the
    ``fake`` and ``manual`` providers start a period only once it is paid), no later than
    ``now``. A canceled or expired one ends where its current period ended, when sooner
    (ended at once). A withdrawal has no paid time; a full refund or a lost chargeback
    ends the paid time when it was made (``canceled_at``).
    """
    status = membership.status
    start = membership.started_at
    if start is None or status in (Status.INCOMPLETE, Status.UNKNOWN, Status.TRIALING):
        return None
    if membership.cancel_reason == WITHDRAWAL_REASON:
        return None
    if membership.trial_end is not None and membership.trial_end > start:
        start = membership.trial_end
    end = membership.paid_through or membership.current_period_end
    if end is None:
        return None
    if status in (Status.CANCELED, Status.EXPIRED) and membership.current_period_end is not None:
        end = min(end, membership.current_period_end)
    if membership.cancel_reason.startswith(REFUND_REASONS) and membership.canceled_at is not None:
        end = min(end, membership.canceled_at)
    end = min(end, now)
    return (start, end) if start < end else None


def _merged(spans: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _without(
    spans: list[tuple[datetime, datetime]], breaks: Iterable[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    for b_start, b_end in _merged(breaks):
        kept: list[tuple[datetime, datetime]] = []
        for start, end in spans:
            if b_end <= start or end <= b_start:
                kept.append((start, end))
                continue
            if start < b_start:
                kept.append((start, b_start))
            if b_end < end:
                kept.append((b_end, end))
        spans = kept
    return spans


def _months(start: datetime, end: datetime) -> tuple[int, timedelta]:
    """Whole calendar months from ``start`` to ``end`` and what is left over."""
    months = (end.year - start.year) * 12 + end.month - start.month
    while months > 0 and add_interval(start, Interval.MONTH, months) > end:
        months -= 1
    months = max(months, 0)
    return months, end - add_interval(start, Interval.MONTH, months) if months else end - start


def tenure(
    memberships: Iterable[Membership],
    now: datetime,
    *,
    breaks: Iterable[tuple[datetime, datetime]] = (),
) -> Tenure:
    """A member's paid time up to ``now`` across all their ``memberships`` (see the
    module's docstring), less ``breaks`` (spans known to be unpaid)."""
    spans = _without(
        _merged(s for m in memberships if (s := paid_span(m, now)) is not None), breaks
    )
    if not spans:
        return Tenure(None, 0)
    months, left = 0, timedelta(0)
    for start, end in spans:
        whole, rest = _months(start, end)
        months += whole
        left += rest
    months += left.days // DAYS_PER_MONTH
    days = sum(((end - start) for start, end in spans), timedelta(0)).days
    return Tenure(spans[0][0], months, days)


# -- which rewards ----------------------------------------------------------------------------
def due_rewards(
    rewards: Iterable[LoyaltyReward], tenure: Tenure, received: Iterable[str] = ()
) -> list[LoyaltyReward]:
    """The rewards ``tenure`` has earned that were not ``received`` yet (keys), in the
    order they were earned."""
    have = set(received)
    return sorted(
        (r for r in rewards if r.after_months <= tenure.paid_months and r.key not in have),
        key=lambda r: (r.after_months, r.key),
    )


def standing(
    rewards: Iterable[LoyaltyReward], tenure: Tenure, awards: Iterable[Award] = ()
) -> Standing:
    """The member's :class:`Standing` given the publisher's ``rewards`` and the
    ``awards`` they received."""
    rewards = list(rewards)
    received = tuple(sorted(awards, key=lambda a: (a.awarded_at, a.reward)))
    due = tuple(due_rewards(rewards, tenure, (a.reward for a in received)))
    coming = sorted(
        (r for r in rewards if r.after_months > tenure.paid_months),
        key=lambda r: (r.after_months, r.key),
    )
    upcoming = coming[0] if coming else None
    return Standing(
        tenure,
        received,
        due,
        upcoming,
        upcoming.after_months - tenure.paid_months if upcoming is not None else 0,
    )


# -- the port -----------------------------------------------------------------------------------
class LoyaltyStore(Protocol):
    """Which rewards members received, and their personal coupon codes."""

    def claim(self, member_id: str, reward: str, at: datetime, paid_months: int) -> bool:
        """Reserve ``reward`` for ``member_id`` at ``at``: ``True`` for the one caller
        that got it, ``False`` when it was claimed before (also by a caller running at
        the same moment). Called inside the program store's ``atomic``; a reward that
        fails after its claim rolls the claim back with it."""
        ...

    def complete(self, award: Award) -> None:
        """Record what the claimed reward made (its grant or coupon code)."""
        ...

    def for_member(self, member_id: str) -> Sequence[Award]: ...

    def issue_coupon(self, coupon: Coupon) -> None:
        """Keep ``coupon`` (a personal code, see :func:`personal_code`) so checkouts
        accept it; raises when its code exists (the caller picks another)."""
        ...


class MemoryLoyalty:
    """:class:`LoyaltyStore` in memory (claims under a lock), with the coupons issued."""

    def __init__(self) -> None:
        import threading

        self._lock = threading.Lock()
        self.awards: dict[tuple[str, str], Award] = {}
        self.coupons: dict[str, Coupon] = {}

    def claim(self, member_id: str, reward: str, at: datetime, paid_months: int) -> bool:
        with self._lock:
            if (member_id, reward) in self.awards:
                return False
            self.awards[member_id, reward] = Award(member_id, reward, at, paid_months)
            return True

    def complete(self, award: Award) -> None:
        with self._lock:
            self.awards[award.member_id, award.reward] = award

    def for_member(self, member_id: str) -> Sequence[Award]:
        return [a for (member, _), a in sorted(self.awards.items()) if member == member_id]

    def issue_coupon(self, coupon: Coupon) -> None:
        with self._lock:
            if coupon.code.casefold() in self.coupons:
                raise LoyaltyError(f"coupon code {coupon.code!r} exists")
            self.coupons[coupon.code.casefold()] = coupon


# -- giving -------------------------------------------------------------------------------------
def personal_code(reward: LoyaltyReward, member_id: str, *, code: str | None = None) -> Coupon:
    """The personal coupon ``reward`` gives ``member_id``: its coupon's terms under a
    fresh code (``<PREFIX>-XXXXXXXX``, 40 bits of randomness), for one redemption by
    that member only."""
    assert reward.coupon is not None
    if code is None:
        tail = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        code = f"{reward.coupon.code.upper()[:48]}-{tail}"
    return dataclasses.replace(
        reward.coupon,
        code=code,
        max_redemptions=1,
        member_id=member_id,
        name=reward.coupon.name or reward.name,
    )


def give_rewards(
    program: MembershipProgram,
    loyalty: LoyaltyStore,
    member_id: str,
    rewards: Iterable[LoyaltyReward],
    *,
    memberships: Iterable[Membership] | None = None,
    breaks: Iterable[tuple[datetime, datetime]] = (),
    received: Iterable[str] | None = None,
) -> list[Award]:
    """Give ``member_id`` every reward of ``rewards`` their tenure has earned and they
    did not receive yet; returns the awards made now (none on a second run).

    ``memberships`` (default: the store's) and ``received`` (reward keys; default: the
    loyalty store's) spare a caller that read them in bulk a query each. Each reward is
    claimed and made in one ``program.store.atomic`` transaction, so a claim whose grant
    or coupon fails is rolled back and tried again on the next run; the hook
    ``membership_loyalty_rewarded`` is fired after it.
    """
    now = program.clock()
    if memberships is None:
        memberships = program.store.memberships.for_member(member_id)
    standing_now = tenure(memberships, now, breaks=breaks)
    if received is None:
        received = [a.reward for a in loyalty.for_member(member_id)]
    given: list[Award] = []
    for reward in due_rewards(rewards, standing_now, received):
        grant: Grant | None = None
        with program.store.atomic(f"loyalty:{member_id}"):
            if not loyalty.claim(member_id, reward.key, now, standing_now.paid_months):
                continue
            award = Award(member_id, reward.key, now, standing_now.paid_months)
            if reward.entitlement:
                grant = program.grant(
                    member_id,
                    GrantKind.COMP,
                    entitlements=[reward.entitlement],
                    days=reward.days,
                    note=reward.name,
                    source=f"{reward.source}{member_id}",
                )
                award = dataclasses.replace(award, grant_id=grant.id, ends_at=grant.ends_at)
            else:
                coupon = personal_code(reward, member_id)
                loyalty.issue_coupon(coupon)
                award = dataclasses.replace(award, coupon_code=coupon.code)
            loyalty.complete(award)
        program.pm.hook.membership_loyalty_rewarded(
            member_id=member_id, reward=reward, award=award, tenure=standing_now
        )
        given.append(award)
    return given


# -- using a code on a running membership ------------------------------------------------------
def why_not_on(
    program: MembershipProgram, membership: Membership, now: datetime | None = None
) -> str | None:
    """Why a personal code cannot go on ``membership`` now (one of :data:`NOT_USABLE`),
    or ``None`` when it can: a live subscription that renews, on a provider with the
    :class:`~membership_sdk.providers.SubscriptionDiscounts` capability, without a
    discount still to run."""
    if (
        membership.status not in GRANTING
        or membership.cancel_at_period_end
        or not membership.provider_subscription_id
        or _price_of(program, membership) is None
    ):
        return "not_live"
    if not isinstance(program.providers.get(membership.provider), SubscriptionDiscounts):
        return "unsupported"
    price = _price_of(program, membership)
    assert price is not None
    if discount_running(membership, price.amount, now or program.clock()):
        return "discount_running"
    return None


def _price_of(program: MembershipProgram, membership: Membership) -> Price | None:
    price = next((p for p in program.catalog.prices if p.id == membership.price_id), None)
    return price if price is not None and price.recurring else None


def _discount_months(coupon: Coupon, price: Price) -> int | None:
    """The months :meth:`~membership_sdk.MembershipProgram.apply_discount` discounts for
    ``coupon`` on ``price``: its first period (``once``), the periods begun within its
    months (``repeating``) or for ever (``None``)."""
    per_period = 12 if price.interval is Interval.YEAR else 1
    if coupon.duration is Duration.FOREVER:
        return None
    if coupon.duration is Duration.ONCE:
        return per_period
    return -(-(coupon.months or 1) // per_period) * per_period


def use_on_membership(
    program: MembershipProgram, member_id: str, membership_id: str, code: str
) -> Membership:
    """Put ``member_id``'s personal ``code`` on their running membership
    ``membership_id``: its terms discount the coming periods (see
    :meth:`~membership_sdk.MembershipProgram.apply_discount`), and the code is redeemed
    for good, so no checkout takes it afterwards. Returns the membership as the provider
    answered. A call after one the provider answered but that stopped before the
    redemption was recorded finds the code on the membership and only records it.

    :raises MembershipError: ``membership_id`` is not ``member_id``'s (the message does
        not say whose it is).
    :raises CouponError: the code is not ``member_id``'s personal code (``unknown``,
        also for a catalog coupon meant for checkouts), ``expired``,
        ``not_for_this_plan``, ``wrong_currency``, or ``already_redeemed``.
    :raises CodeNotUsable: the membership cannot take it now (``reason``, see
        :data:`NOT_USABLE`); nothing changed.
    :raises ProviderError: the provider failed; nothing changed and the code stays
        usable.
    """
    now = program.clock()
    membership = program.store.memberships.get(membership_id)
    if membership is None or membership.member_id != member_id:
        raise MembershipError(f"member {member_id!r} has no membership {membership_id!r}")
    price = _price_of(program, membership)
    if price is None:
        raise CodeNotUsable(
            f"membership {membership_id!r} has no recurring price of the catalog to discount",
            reason="not_live",
        )
    coupon = check_coupon(
        program.catalog, code, price, now=now, first_time=False, member_id=member_id
    )
    if not coupon.member_id:
        raise CouponError(
            f"{code!r} is no personal code; it is for checkouts", code=code, reason="unknown"
        )
    if program.redemptions.redeemed(coupon.code, member_id):
        raise CouponError(
            f"personal code {coupon.code!r} was already used", code=code, reason="already_redeemed"
        )
    if membership.coupon != coupon.code:
        reason = why_not_on(program, membership, now)
        if reason is not None:
            raise CodeNotUsable(
                f"personal code {coupon.code!r} cannot go on membership {membership_id!r}: "
                f"{reason}",
                reason=reason,
            )
        if not program.redemptions.reserve(
            coupon.code, member_id, coupon.max_redemptions, now, now + program.redemption_hold
        ):
            raise CouponError(
                f"personal code {coupon.code!r} is used up", code=code, reason="used_up"
            )
        try:
            membership = program.apply_discount(
                membership.id,
                code=coupon.code,
                percent_off=coupon.percent_off,
                amount_off=coupon.amount_off,
                months=_discount_months(coupon, price),
            )
        except BaseException:
            program.redemptions.release(coupon.code, member_id)
            raise
    program.redemptions.confirm(coupon.code, member_id, now)
    return membership
