"""Referrals: a member's link brings a friend an offer, and the member a reward once the
friend has paid and stayed past the refund window.

Every member has one stable referral code (:meth:`ReferralStore.code_for`), unguessable
enough that nobody finds a stranger's by trying. A friend who follows the member's link
and starts a checkout *claims* the code (:meth:`ReferralStore.save_claim`); the site gives
them the :class:`ReferralPolicy`'s ``friend_coupon`` at that checkout. Nothing is
recorded as a referral then: a checkout grants nothing. When the provider's event
creates the friend's membership, :func:`attribute` turns the claim into a
:class:`Referral` (``pending``), matched by member, so it works on every provider
without the provider carrying anything of ours back.

A scheduled job (:func:`run_referrals`) decides the pending ones once the friend's first
payment is ``qualify_days`` old (by default the EU withdrawal period,
:data:`~membership_sdk.cancellation.WITHDRAWAL_DAYS`): a friend still paying *qualifies*,
one who withdrew, was refunded or canceled in the window, or never paid, is *rejected*
with a :class:`Rejection`. Qualifying reserves one of the referrer's ``monthly_cap``
rewards of the calendar month atomically (:meth:`ReferralStore.qualify`): past the cap
the referral is rejected ``cap_reached``. The job then *rewards* the referrer: a discount
(a free month by default) on their live subscription through the provider's
:class:`~membership_sdk.providers.SubscriptionDiscounts` capability
(:meth:`~membership_sdk.MembershipProgram.apply_discount`), and fires the
``membership_referral_rewarded`` hook.

A reward never replaces a discount the referrer already has (providers keep one discount
per subscription): it waits, qualified, until that one has run out, and it waits while
the referrer has no live subscription, until they subscribe again. Each reward applies
once however many jobs run: a referral is claimed for rewarding
(:meth:`ReferralStore.begin_reward`, one at a time per referrer), and its discount is
named after it (:func:`reward_code`), so a job that died after the provider answered
finds the discount in place and only records it.

No self-referral: the code's owner, a member the site says is the same person (the
Wagtail adapter: the same email address) and a friend who already had a paid membership
get a ``rejected`` referral and no reward. See ``docs/referrals.md``.

Errors::

    MembershipError
    └── ReferralError              a policy or a code the program refuses
        └── UnknownReferralCode    no member has that code
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from .cancellation import WITHDRAWAL_DAYS, WITHDRAWAL_REASON
from .errors import MembershipError
from .membership import GRANTING, TERMINAL, UNCOUNTED, Membership, Status
from .providers.base import SubscriptionDiscounts

if TYPE_CHECKING:
    from .ports import MembershipStore
    from .program import MembershipProgram

#: Letters and digits a reader cannot confuse (no 0/O, 1/I/L), as in gift codes.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
#: Characters of a referral code: 10 of 31 symbols is about 50 bits, far beyond guessing.
CODE_LENGTH = 10
#: How long a job may hold a referral for rewarding before another may retry it.
REWARD_LEASE = timedelta(hours=1)
#: The ``cancel_reason`` prefixes of a membership ended by a refund, a lost chargeback or a
#: withdrawal (:meth:`~membership_sdk.MembershipProgram.refund`,
#: :func:`~membership_sdk.cancellation.withdraw`).
REFUND_REASONS = ("a full refund", "a lost chargeback", WITHDRAWAL_REASON)


class ReferralError(MembershipError):
    """A referral policy or code the program refuses; nothing was changed."""


class UnknownReferralCode(ReferralError, LookupError):
    """No member has the referral code given (mistyped, or made up)."""


class ReferralStatus(StrEnum):
    """Where a referral stands: ``pending`` until the friend's window is over, then
    ``qualified`` (a reward is reserved) and ``rewarded``, or ``rejected``."""

    PENDING = "pending"
    QUALIFIED = "qualified"
    REWARDED = "rewarded"
    REJECTED = "rejected"


class Rejection(StrEnum):
    """Why a referral earns nothing."""

    SELF_REFERRAL = "self_referral"
    ALREADY_MEMBER = "already_member"
    CAP_REACHED = "cap_reached"
    REFUNDED = "refunded"
    NEVER_PAID = "never_paid"
    CANCELED_IN_WINDOW = "canceled_in_window"


def new_code() -> str:
    """A fresh referral code from a cryptographic random source (``"K7QM2XRT9B"``)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(text: str) -> str:
    """``text`` as a stored code: upper case, letters and digits only."""
    return "".join(ch for ch in str(text).upper() if ch.isalnum())[:64]


def month_of(moment: datetime) -> date:
    """The first day of ``moment``'s calendar month: the cap's period."""
    return date(moment.year, moment.month, 1)


@dataclass(frozen=True, slots=True)
class ReferralPolicy:
    """What a referral gives, and when.

    :param friend_coupon: the catalog coupon's code the friend's checkout gets when they
        enter none (``""``: no offer, the referrer is still rewarded).
    :param reward_percent_off: the referrer's discount, 1..100 (100: free).
    :param reward_months: how many months the referrer's discount lasts.
    :param qualify_days: days after the friend's first payment before the referral is
        decided (default :data:`~membership_sdk.cancellation.WITHDRAWAL_DAYS`): a refund,
        a withdrawal or a cancellation within them rejects it.
    :param monthly_cap: rewards per referrer per calendar month (``None``: no cap).
    :param reward_code: what the referrer's discount is called on invoices; each
        reward adds its referral's id (see :func:`reward_code`).
    :param claim_days: how long after a friend's checkout their membership still counts
        as referred (a bank transfer may take weeks to arrive).
    :raises ReferralError: a value out of range, naming it.
    """

    friend_coupon: str = ""
    reward_percent_off: int = 100
    reward_months: int = 1
    qualify_days: int = WITHDRAWAL_DAYS
    monthly_cap: int | None = 3
    reward_code: str = "REFERRAL"
    claim_days: int = 45

    def __post_init__(self) -> None:
        def whole(name: str, value: object, low: int, high: int | None = None) -> None:
            if (
                not isinstance(value, int)
                or isinstance(value, bool)
                or value < low
                or (high is not None and value > high)
            ):
                span = f"{low}..{high}" if high is not None else f">= {low}"
                raise ReferralError(f"referral policy: {name} must be {span}, got {value!r}")

        if not isinstance(self.friend_coupon, str):
            raise ReferralError(
                f"referral policy: friend_coupon must be a coupon code, got {self.friend_coupon!r}"
            )
        whole("reward_percent_off", self.reward_percent_off, 1, 100)
        whole("reward_months", self.reward_months, 1, 24)
        whole("qualify_days", self.qualify_days, 0, 366)
        whole("claim_days", self.claim_days, 1, 366)
        if self.monthly_cap is not None:
            whole("monthly_cap", self.monthly_cap, 1)
        code = self.reward_code
        if not isinstance(code, str) or not code.strip() or len(code) > 24:
            raise ReferralError(
                f"referral policy: reward_code must be a name of 1..24 characters, got {code!r}"
            )


@dataclass(frozen=True, slots=True)
class ReferralClaim:
    """A friend started a checkout through ``code``'s link at ``claimed_at``."""

    friend_id: str
    code: str
    claimed_at: datetime


@dataclass(frozen=True, slots=True)
class Referral:
    """A friend's membership that came through a referrer's link.

    ``membership_id`` is the friend's membership the referral waits on. ``decided_at`` is
    when it qualified or was rejected; ``reward_month`` is the calendar month whose cap
    its reward counts in. ``reward_membership_id`` is the referrer's membership that got
    the discount, at ``rewarded_at``.
    """

    id: str
    code: str
    referrer_id: str
    friend_id: str
    membership_id: str
    created_at: datetime
    status: ReferralStatus = ReferralStatus.PENDING
    reason: str = ""
    decided_at: datetime | None = None
    reward_month: date | None = None
    rewarded_at: datetime | None = None
    reward_membership_id: str = ""

    def replace(self, **changes: object) -> Referral:
        return replace(self, **changes)  # type: ignore[arg-type]


def reward_code(policy: ReferralPolicy, referral: Referral) -> str:
    """The name of ``referral``'s discount (``"REFERRAL-R3F9A0C2B11D"``): one per
    referral, so a job can tell whether this reward is in place already."""
    return f"{policy.reward_code.strip()}-{referral.id.upper()}"[:40]


class ReferralStore(Protocol):
    """Members' referral codes, friends' claims and referrals (see
    :mod:`membership_sdk.referrals`); :class:`MemoryReferrals` keeps them in memory."""

    def code_for(self, member_id: str) -> str:
        """The member's referral code, made (:func:`new_code`) the first time it is
        asked for; the same code ever after, also to concurrent callers."""
        ...

    def member_for_code(self, code: str) -> str | None:
        """The member whose code is ``code`` (normalised), or ``None``."""
        ...

    def save_claim(self, claim: ReferralClaim) -> None:
        """Keep the friend's claim, replacing an earlier one of theirs."""
        ...

    def take_claim(self, friend_id: str, since: datetime) -> ReferralClaim | None:
        """Remove and return the friend's claim if it was made at or after ``since``
        (an older one is removed too, and ``None`` returned)."""
        ...

    def create(self, referral: Referral) -> Referral:
        """Insert ``referral`` unless its friend has one already (a friend is referred
        once): returns the one stored."""
        ...

    def get(self, referral_id: str) -> Referral | None: ...

    def for_referrer(self, referrer_id: str) -> Sequence[Referral]:
        """The member's referrals, newest first."""
        ...

    def in_status(self, status: ReferralStatus, limit: int) -> Sequence[Referral]:
        """Up to ``limit`` referrals in ``status``, oldest first."""
        ...

    def reject(self, referral_id: str, reason: Rejection, when: datetime) -> Referral | None:
        """Mark a *pending* referral rejected; ``None`` (nothing changed) when it is no
        longer pending."""
        ...

    def qualify(
        self, referral_id: str, month: date, cap: int | None, when: datetime
    ) -> Referral | None:
        """Reserve one of the referrer's ``cap`` rewards of ``month`` for a *pending*
        referral: it becomes ``qualified`` (``reward_month`` set), or ``rejected``
        ``cap_reached`` when the referrer's qualified and rewarded referrals of that month
        number ``cap`` already. ``None`` when it is no longer pending.

        MUST be atomic with respect to other calls for the same referrer, in every
        process: parallel jobs never reserve more than ``cap``.
        """
        ...

    def begin_reward(self, referral_id: str, when: datetime, lease: timedelta) -> bool:
        """Hold a *qualified* referral for rewarding until ``when + lease``; ``False`` when
        it is not qualified, or it or another referral of the same referrer is held.
        Atomic per referrer, as :meth:`qualify`."""
        ...

    def finish_reward(self, referral_id: str, membership_id: str, when: datetime) -> Referral:
        """Mark the referral rewarded on the referrer's membership ``membership_id``."""
        ...

    def release_reward(self, referral_id: str) -> None:
        """Give back the hold of :meth:`begin_reward` (the reward was not given)."""
        ...

    def new_id(self) -> str: ...


class MemoryReferrals:
    """A :class:`ReferralStore` in memory; one lock makes it atomic across threads."""

    def __init__(self) -> None:
        self.codes: dict[str, str] = {}
        self.claims: dict[str, ReferralClaim] = {}
        self.referrals: dict[str, Referral] = {}
        self.held: dict[str, datetime] = {}
        self._lock = threading.RLock()
        self._next = 0

    def code_for(self, member_id: str) -> str:
        with self._lock:
            for code, owner in self.codes.items():
                if owner == member_id:
                    return code
            code = new_code()
            while code in self.codes:
                code = new_code()
            self.codes[code] = member_id
            return code

    def member_for_code(self, code: str) -> str | None:
        return self.codes.get(normalize_code(code))

    def save_claim(self, claim: ReferralClaim) -> None:
        with self._lock:
            self.claims[claim.friend_id] = claim

    def take_claim(self, friend_id: str, since: datetime) -> ReferralClaim | None:
        with self._lock:
            claim = self.claims.pop(friend_id, None)
        return claim if claim is not None and claim.claimed_at >= since else None

    def create(self, referral: Referral) -> Referral:
        with self._lock:
            for stored in self.referrals.values():
                if stored.friend_id == referral.friend_id:
                    return stored
            self.referrals[referral.id] = referral
            return referral

    def get(self, referral_id: str) -> Referral | None:
        return self.referrals.get(referral_id)

    def for_referrer(self, referrer_id: str) -> Sequence[Referral]:
        mine = [r for r in self.referrals.values() if r.referrer_id == referrer_id]
        return sorted(mine, key=lambda r: (r.created_at, r.id), reverse=True)

    def in_status(self, status: ReferralStatus, limit: int) -> Sequence[Referral]:
        found = [r for r in self.referrals.values() if r.status is status]
        return sorted(found, key=lambda r: (r.created_at, r.id))[:limit]

    def reject(self, referral_id: str, reason: Rejection, when: datetime) -> Referral | None:
        with self._lock:
            stored = self.referrals.get(referral_id)
            if stored is None or stored.status is not ReferralStatus.PENDING:
                return None
            changed = stored.replace(
                status=ReferralStatus.REJECTED, reason=reason.value, decided_at=when
            )
            self.referrals[referral_id] = changed
            return changed

    def qualify(
        self, referral_id: str, month: date, cap: int | None, when: datetime
    ) -> Referral | None:
        with self._lock:
            stored = self.referrals.get(referral_id)
            if stored is None or stored.status is not ReferralStatus.PENDING:
                return None
            taken = sum(
                1
                for r in self.referrals.values()
                if r.referrer_id == stored.referrer_id
                and r.reward_month == month
                and r.status in (ReferralStatus.QUALIFIED, ReferralStatus.REWARDED)
            )
            if cap is not None and taken >= cap:
                changed = stored.replace(
                    status=ReferralStatus.REJECTED,
                    reason=Rejection.CAP_REACHED.value,
                    decided_at=when,
                )
            else:
                changed = stored.replace(
                    status=ReferralStatus.QUALIFIED, reward_month=month, decided_at=when
                )
            self.referrals[referral_id] = changed
            return changed

    def begin_reward(self, referral_id: str, when: datetime, lease: timedelta) -> bool:
        with self._lock:
            stored = self.referrals.get(referral_id)
            if stored is None or stored.status is not ReferralStatus.QUALIFIED:
                return False
            for other_id, until in self.held.items():
                other = self.referrals[other_id]
                if other.referrer_id == stored.referrer_id and until > when:
                    return False
            self.held[referral_id] = when + lease
            return True

    def finish_reward(self, referral_id: str, membership_id: str, when: datetime) -> Referral:
        with self._lock:
            stored = self.referrals[referral_id]
            changed = stored.replace(
                status=ReferralStatus.REWARDED,
                rewarded_at=when,
                reward_membership_id=membership_id,
            )
            self.referrals[referral_id] = changed
            self.held.pop(referral_id, None)
            return changed

    def release_reward(self, referral_id: str) -> None:
        with self._lock:
            self.held.pop(referral_id, None)

    def new_id(self) -> str:
        with self._lock:
            self._next += 1
            return f"r{self._next:011d}"


# -- attribution ----------------------------------------------------------------------------
def may_claim(
    memberships: MembershipStore,
    referrer_id: str | None,
    friend_id: str,
    *,
    same_person: Callable[[str, str], bool] | None = None,
) -> bool:
    """Whether ``friend_id`` may take the offer of ``referrer_id``'s link: someone else,
    who never had a paid (or trialing) membership."""
    if referrer_id is None or referrer_id == friend_id:
        return False
    if same_person is not None and same_person(referrer_id, friend_id):
        return False
    return not any(m.status not in UNCOUNTED for m in memberships.for_member(friend_id))


def attribute(
    referrals: ReferralStore,
    memberships: MembershipStore,
    membership: Membership,
    policy: ReferralPolicy,
    now: datetime,
    *,
    same_person: Callable[[str, str], bool] | None = None,
) -> Referral | None:
    """Turn the friend's claim into a referral when their ``membership`` arrived (call it
    when the membership is activated). ``None`` when they claimed no code (within
    ``policy.claim_days``) or its owner is gone; a friend referred before keeps their
    first referral.

    The code's owner and a member ``same_person`` says is them get a referral rejected
    ``self_referral``; a friend who held another membership (trialing, paying or ended)
    one rejected ``already_member``.
    """
    friend = membership.member_id
    claim = referrals.take_claim(friend, now - timedelta(days=policy.claim_days))
    if claim is None:
        return None
    referrer = referrals.member_for_code(claim.code)
    if referrer is None:
        return None
    reason: Rejection | None = None
    if referrer == friend or (same_person is not None and same_person(referrer, friend)):
        reason = Rejection.SELF_REFERRAL
    elif any(
        m.id != membership.id and m.status not in UNCOUNTED for m in memberships.for_member(friend)
    ):
        reason = Rejection.ALREADY_MEMBER
    return referrals.create(
        Referral(
            id=referrals.new_id(),
            code=claim.code,
            referrer_id=referrer,
            friend_id=friend,
            membership_id=membership.id,
            created_at=now,
            status=ReferralStatus.REJECTED if reason else ReferralStatus.PENDING,
            reason=reason.value if reason else "",
            decided_at=now if reason else None,
        )
    )


# -- deciding -------------------------------------------------------------------------------
def first_paid_at(membership: Membership) -> datetime | None:
    """When the friend's first payment was made: the start, or a trial's end; ``None``
    while no payment is known: no paid period reaches past that moment.

    The paid period is ``paid_through``, else the current period (as
    :meth:`~membership_sdk.membership.Membership.grants_access` reads it: the ``fake`` and
    ``manual`` providers start a period only once it is paid), never an incomplete
    membership's."""
    start = membership.started_at
    if membership.trial_end is not None and (start is None or membership.trial_end > start):
        start = membership.trial_end
    paid = membership.paid_through
    if paid is None and membership.status not in (Status.INCOMPLETE, Status.UNKNOWN):
        paid = membership.current_period_end
    if start is None or paid is None or paid <= start:
        return None
    return start


def refunded(membership: Membership) -> bool:
    """Whether the membership was ended by a refund, a lost chargeback or a withdrawal."""
    return membership.cancel_reason.startswith(REFUND_REASONS)


def verdict(
    membership: Membership | None, policy: ReferralPolicy, now: datetime
) -> ReferralStatus | Rejection | None:
    """What becomes of a pending referral whose friend holds ``membership`` (``None``:
    it is gone) at ``now``: ``QUALIFIED``, a :class:`Rejection`, or ``None``: not yet.

    Nothing is decided before ``qualify_days`` after the first payment, so a friend who
    cancels and changes their mind in the window still counts; an ended membership that
    never paid is decided at once. A cancellation (or refund) after the window changes
    nothing: the friend stayed.
    """
    if membership is None:
        return Rejection.NEVER_PAID
    paid_at = first_paid_at(membership)
    ended = membership.status in TERMINAL
    if paid_at is None:
        return Rejection.NEVER_PAID if ended else None
    deadline = paid_at + timedelta(days=policy.qualify_days)
    stopping = ended or membership.cancel_at_period_end
    if stopping:
        stopped_at = membership.canceled_at or now
        if stopped_at < deadline:
            if now < deadline and not ended:
                return None
            return Rejection.REFUNDED if refunded(membership) else Rejection.CANCELED_IN_WINDOW
    if now < deadline:
        return None
    return ReferralStatus.QUALIFIED


# -- rewarding ------------------------------------------------------------------------------
def reward_target(memberships: Sequence[Membership]) -> Membership | None:
    """The referrer's membership a reward goes on: a live subscription that will renew
    (an active one first, then the latest started); ``None`` when they have none."""
    live = [
        m
        for m in memberships
        if m.status in GRANTING and m.provider_subscription_id and not m.cancel_at_period_end
    ]
    if not live:
        return None
    return max(
        live,
        key=lambda m: (
            m.status is Status.ACTIVE,
            m.started_at.timestamp() if m.started_at is not None else 0.0,
        ),
    )


def discount_running(membership: Membership, list_amount: int | None, now: datetime) -> bool:
    """Whether ``membership`` has a discount still to run (an intro offer, a coupon, an
    earlier reward): a provider keeps one discount per subscription, so a new one would
    replace it."""
    if membership.amount is None or (list_amount is not None and membership.amount >= list_amount):
        return False
    return membership.discount_ends_at is None or membership.discount_ends_at > now


class RewardOutcome(StrEnum):
    """What :func:`reward` did with a qualified referral."""

    REWARDED = "rewarded"
    #: The referrer has no live subscription that renews: waits until they have one.
    NO_SUBSCRIPTION = "no_subscription"
    #: The referrer's subscription has a discount still to run: waits until it ends.
    DISCOUNT_RUNNING = "discount_running"
    #: The referrer's provider cannot discount a running subscription.
    UNSUPPORTED = "unsupported"
    #: Another job holds this referral or another of the referrer's.
    BUSY = "busy"
    #: The provider failed; retried on the next run.
    FAILED = "failed"


def reward(
    program: MembershipProgram,
    referrals: ReferralStore,
    referral: Referral,
    policy: ReferralPolicy,
    now: datetime,
) -> RewardOutcome:
    """Give a qualified referral's reward on the referrer's live subscription, once (see
    the module's notes); fires ``membership_referral_rewarded`` when it was given."""
    code = reward_code(policy, referral)
    target = reward_target(program.store.memberships.for_member(referral.referrer_id))
    if target is None:
        return RewardOutcome.NO_SUBSCRIPTION
    if not isinstance(program.providers.get(target.provider), SubscriptionDiscounts):
        return RewardOutcome.UNSUPPORTED
    if not referrals.begin_reward(referral.id, now, REWARD_LEASE):
        return RewardOutcome.BUSY
    try:
        # Read again under the hold: a job that died after the provider answered left
        # this reward in place, and another may have put one on since.
        current = program.store.memberships.get(target.id) or target
        if current.coupon != code:
            price = next((p for p in program.catalog.prices if p.id == current.price_id), None)
            if discount_running(current, price.amount if price else None, now):
                referrals.release_reward(referral.id)
                return RewardOutcome.DISCOUNT_RUNNING
            current = program.apply_discount(
                current.id,
                code=code,
                percent_off=policy.reward_percent_off,
                months=policy.reward_months,
            )
    except MembershipError:
        referrals.release_reward(referral.id)
        return RewardOutcome.FAILED
    done = referrals.finish_reward(referral.id, current.id, now)
    program.pm.hook.membership_referral_rewarded(referral=done, membership=current)
    return RewardOutcome.REWARDED


@dataclass(frozen=True, slots=True)
class ReferralRun:
    """What one :func:`run_referrals` did: referrals qualified, rejected (cap included),
    rewarded, waiting for their reward (no subscription, a discount running, busy) and
    failed at the provider."""

    qualified: int = 0
    rejected: int = 0
    rewarded: int = 0
    waiting: int = 0
    failed: int = 0


def run_referrals(
    program: MembershipProgram,
    referrals: ReferralStore,
    policy: ReferralPolicy,
    *,
    now: datetime | None = None,
    limit: int = 1000,
) -> ReferralRun:
    """Decide the pending referrals whose window is over and reward the qualified ones.

    Cheap and idempotent: a second run (or a parallel one) finds nothing new to do;
    every step is a conditional change of one referral, and the cap a reservation.
    """
    now = now if now is not None else program.clock()
    qualified = rejected = rewarded = waiting = failed = 0
    memberships = program.store.memberships
    for referral in referrals.in_status(ReferralStatus.PENDING, limit):
        found = verdict(memberships.get(referral.membership_id), policy, now)
        if found is None:
            continue
        if found is ReferralStatus.QUALIFIED:
            stored = referrals.qualify(referral.id, month_of(now), policy.monthly_cap, now)
            if stored is not None and stored.status is ReferralStatus.QUALIFIED:
                qualified += 1
            elif stored is not None:
                rejected += 1
        elif isinstance(found, Rejection) and referrals.reject(referral.id, found, now):
            rejected += 1
    for referral in referrals.in_status(ReferralStatus.QUALIFIED, limit):
        outcome = reward(program, referrals, referral, policy, now)
        if outcome is RewardOutcome.REWARDED:
            rewarded += 1
        elif outcome is RewardOutcome.FAILED:
            failed += 1
        else:
            waiting += 1
    return ReferralRun(qualified, rejected, rewarded, waiting, failed)
