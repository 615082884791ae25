"""Business metrics from memberships and prices: MRR, churn and trial conversion.

Each function reads memberships as stored (their current state, start, period end and
cancellation dates), so it works on any store's rows without an event history. Amounts
are in minor units, per currency: money in different currencies is never added up.

- :func:`mrr`: monthly recurring revenue at an instant, what is paid after discounts,
  yearly prices counted as 1/12; :func:`monthly_recurring`: one membership's part of it.
- :func:`churn_rate`: the share of memberships live at a period's start that ended
  within it.
- :func:`trial_conversion`: the share of finished trials that went on to a paid period.
- :func:`gift_holders`: members holding a gift, per tier, counted apart from paying ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from .catalog import Catalog, Interval, Price
from .errors import MembershipError
from .membership import PAYING, TERMINAL, UNCOUNTED, Grant, GrantKind, Membership, Status


def ended_at(membership: Membership) -> datetime | None:
    """When a canceled or expired membership's access ended (or ends), else ``None``.

    Access lasts until the paid period's end; without one, the cancellation time.
    """
    if membership.status not in TERMINAL:
        return None
    return membership.current_period_end or membership.canceled_at


def _live_at(membership: Membership, at: datetime) -> bool:
    """Whether the membership had begun and not yet ended at ``at``."""
    if membership.status in UNCOUNTED:
        return False
    if membership.started_at is None or membership.started_at > at:
        return False
    end = ended_at(membership)
    return end is None or end > at


def mrr(memberships: Iterable[Membership], catalog: Catalog, at: datetime) -> dict[str, int]:
    """Monthly recurring revenue at ``at``, per currency, in minor units.

    Counts memberships that are paying (``active`` or ``past_due``) and had started by
    ``at``, including those set to cancel at the period's end, which still pay for it.
    Trials pay nothing yet. Each counts what it is charged at ``at`` (see
    :meth:`~membership_sdk.membership.Membership.charged`): the discounted amount while a
    coupon or intro offer lasts, ``0`` for a 100%-off period, then the list price. A
    yearly price counts as a twelfth of that; the sum per currency is rounded once, to
    the nearest minor unit.

    :raises UnknownPrice: a membership's price is not in the catalog (archived prices
        count: members keep the price they signed up for).
    """
    totals: dict[str, Fraction] = {}
    for membership in memberships:
        if membership.status not in PAYING or membership.price_id is None:
            continue
        if membership.started_at is not None and membership.started_at > at:
            continue
        price = catalog.price(membership.price_id, include_archived=True)
        if price.interval is Interval.ONE_OFF:
            continue
        monthly = monthly_recurring(membership, price, at)
        totals[price.currency] = totals.get(price.currency, Fraction(0)) + monthly
    return {currency: round(total) for currency, total in sorted(totals.items())}


def monthly_recurring(membership: Membership, price: Price, at: datetime) -> Fraction:
    """What one membership adds to :func:`mrr` at ``at``, in ``price``'s minor units.

    What is paid, not the list price: ``0`` unless the membership is paying (``active``
    or ``past_due``) on a recurring price; else what it is charged at ``at`` (a discount
    counts while it lasts, a 100%-off period counts ``0``), a yearly price as a twelfth.
    Adapters keeping a history of memberships (``wagtail_paywall``'s ledger) record this
    figure for each stored change, so their sums agree with :func:`mrr`.
    """
    if membership.status not in PAYING or price.interval is Interval.ONE_OFF:
        return Fraction(0)
    paid = membership.charged(price.amount, at)
    return Fraction(paid, 12 if price.interval is Interval.YEAR else 1)


@dataclass(frozen=True, slots=True)
class Churn:
    """Memberships live at a period's start, and how many of them ended within it."""

    start: datetime
    end: datetime
    live_at_start: int
    ended: int

    @property
    def rate(self) -> float | None:
        """``ended / live_at_start``, or ``None`` when nobody was live at the start."""
        return self.ended / self.live_at_start if self.live_at_start else None


def churn(memberships: Iterable[Membership], start: datetime, end: datetime) -> Churn:
    """Churn over ``[start, end)``: of the memberships live at ``start``, those whose
    access ended before ``end``. Memberships that began within the period are not
    counted, so new sign-ups never dilute the rate.

    :raises MembershipError: ``end`` is not after ``start``.
    """
    if end <= start:
        raise MembershipError(f"a churn period must end after it starts: {start} .. {end}")
    live = [m for m in memberships if _live_at(m, start)]
    ended = 0
    for membership in live:
        when = ended_at(membership)
        if when is not None and when < end:
            ended += 1
    return Churn(start, end, len(live), ended)


def churn_rate(memberships: Iterable[Membership], start: datetime, end: datetime) -> float | None:
    """:func:`churn`'s rate: a number in ``[0, 1]``, or ``None`` without live memberships."""
    return churn(memberships, start, end).rate


@dataclass(frozen=True, slots=True)
class TrialConversion:
    """Trials that had ended by an instant, and how many went on to a paid period."""

    trials: int
    converted: int

    @property
    def rate(self) -> float | None:
        """``converted / trials``, or ``None`` when no trial has ended."""
        return self.converted / self.trials if self.trials else None


def trial_conversion(memberships: Iterable[Membership], at: datetime) -> TrialConversion:
    """Of the memberships whose trial had ended by ``at``, how many paid for a period
    after it: their paid period reaches past the trial's end. Trials still running are
    left out; a trial canceled before it ended counts as not converted."""
    trials = converted = 0
    for membership in memberships:
        trial_end = membership.trial_end
        if trial_end is None or trial_end > at:
            continue
        trials += 1
        period_end = membership.current_period_end
        if (
            membership.status != Status.TRIALING
            and membership.status not in UNCOUNTED
            and period_end is not None
            and period_end > trial_end
        ):
            converted += 1
    return TrialConversion(trials, converted)


def gift_holders(grants: Iterable[Grant], at: datetime) -> dict[str, int]:
    """Tier slug -> members holding a gift of it at ``at`` (an active ``gift`` grant).

    Counted apart from paying members: a gift was paid once, by someone else, and ends by
    itself, so :func:`mrr` never counts it (it reads memberships only) and neither should
    a count of members who pay."""
    holders: dict[str, set[str]] = {}
    for grant in grants:
        if grant.kind is GrantKind.GIFT and grant.tier and grant.active(at):
            holders.setdefault(grant.tier, set()).add(grant.member_id)
    return {tier: len(members) for tier, members in sorted(holders.items())}
