"""Lawful cancellation: the rules behind the German cancellation button (§312k BGB), the
EU withdrawal button (Consumer Rights Directive Art. 11a), the Dutch Wet van Dam and
§309 Nr. 9 BGB. Each is switched on by a site; none is legal advice.

- :func:`earliest_end`: when a cancellation declared now takes effect: the paid period's
  end, or, under the Wet van Dam notice cap, at most one month after the declaration
  once a yearly plan's first term is over.
- :func:`cancel_lawfully`: cancel so, through the provider's
  :class:`~membership_sdk.providers.ScheduledCancellation` capability when the end falls
  inside the paid period.
- :func:`withdraw`: withdrawal within :data:`WITHDRAWAL_DAYS` of the start: the
  contract ends now and the latest payment is refunded where the provider can
  (:class:`~membership_sdk.providers.SubscriptionRefunds`).
- :func:`renew_monthly`: a yearly plan's first renewal moves onto the tier's monthly
  price (§309 Nr. 9 BGB), through :class:`~membership_sdk.providers.RenewalPrices`.

Errors, under :class:`~membership_sdk.errors.MembershipError`::

    CancellationError        a lawful-cancellation step the program refuses; nothing changed
    └── OutsideWithdrawalPeriod   the withdrawal period is over (or never began)
    CapabilityDeclined       the provider cannot do it (from :mod:`membership_sdk.lifecycle`)

The simulated providers (``fake``, ``manual``) apply the field changes
:func:`ending_at` and :func:`renewing_on` compute. See ``docs/cancellation.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .catalog import Catalog, Interval, Price
from .errors import MembershipError, ProviderError, UnknownPrice
from .lifecycle import CapabilityDeclined, usage_price_args
from .membership import GRANTING, TERMINAL, Membership, Status
from .providers.base import Refund, RenewalPrices, ScheduledCancellation, SubscriptionRefunds

if TYPE_CHECKING:
    from .program import MembershipProgram
    from .providers.simulated import SimulatedSubscription

#: Days a consumer may withdraw from a contract concluded at a distance (Directive
#: 2011/83/EU Art. 9), counted from the start of the membership.
WITHDRAWAL_DAYS = 14
#: The longest notice the Wet van Dam allows, in months.
NOTICE_MONTHS = 1
#: The ``cancel_reason`` recorded for a withdrawal and for a trial that ends by itself.
WITHDRAWAL_REASON = "withdrawal"
TRIAL_ENDS_REASON = "trial_ends"


class CancellationError(MembershipError):
    """A lawful-cancellation step the program refuses; nothing was changed."""


class OutsideWithdrawalPeriod(CancellationError):
    """The membership's withdrawal period is over, or it holds no running contract."""


@dataclass(frozen=True, slots=True)
class CancellationRules:
    """Which rules a site applies (each off by default).

    :param notice_cap: Wet van Dam: once a yearly plan's first term is over, a
        cancellation takes effect at most :data:`NOTICE_MONTHS` after it is declared.
    :param trials_end: Wet van Dam: a trial ends by itself unless the member confirms
        it (the adapter sets every new trial to cancel at its end; resuming confirms).
    :param yearly_renews_monthly: §309 Nr. 9 BGB: a yearly plan renews on the tier's
        monthly price (see :func:`renew_monthly`).
    """

    notice_cap: bool = False
    trials_end: bool = False
    yearly_renews_monthly: bool = False


# -- when a cancellation takes effect ---------------------------------------------------------
def _add_months(moment: datetime, months: int) -> datetime:
    from .providers.simulated import add_interval

    return add_interval(moment, Interval.MONTH, months)


def withdrawal_deadline(membership: Membership) -> datetime | None:
    """When ``membership``'s withdrawal period ends (``None``: no start date known)."""
    if membership.started_at is None:
        return None
    return membership.started_at + timedelta(days=WITHDRAWAL_DAYS)


def can_withdraw(membership: Membership, now: datetime) -> bool:
    """Whether ``membership`` gives access and is still within its withdrawal period."""
    deadline = withdrawal_deadline(membership)
    return membership.status in GRANTING and deadline is not None and now < deadline


def _price(catalog: Catalog, membership: Membership) -> Price | None:
    try:
        return catalog.price(membership.price_id or "", include_archived=True)
    except UnknownPrice:
        return None


def earliest_end(
    membership: Membership, now: datetime, rules: CancellationRules, price: Price | None
) -> datetime | None:
    """When an ordinary cancellation of ``membership`` declared at ``now`` takes effect.

    The end of the paid period (or the trial), except under ``rules.notice_cap`` for a
    yearly plan whose first term is over: then at most :data:`NOTICE_MONTHS` after
    ``now``. Within the first term the member agreed to that term, which runs out.
    ``None`` when the membership has no period end.
    """
    end = membership.current_period_end
    if end is None or not rules.notice_cap or price is None or price.interval is not Interval.YEAR:
        return end
    if membership.started_at is None or now < _add_months(membership.started_at, 12):
        return end
    return min(end, _add_months(now, NOTICE_MONTHS).replace(microsecond=0))


def cancel_lawfully(
    program: MembershipProgram,
    membership_id: str,
    rules: CancellationRules,
    *,
    reason: str = "",
) -> Membership:
    """Cancel ``membership_id`` to take effect at :func:`earliest_end`.

    An end inside the paid period needs the provider's
    :class:`~membership_sdk.providers.ScheduledCancellation`; a provider without it
    cancels at the period's end (``docs/cancellation.md`` lists which do).

    :raises InvalidTransition: the membership already ended.
    :raises ProviderError: the provider failed; nothing changed.
    """
    membership = program._membership(membership_id)
    end = earliest_end(membership, program.clock(), rules, _price(program.catalog, membership))
    period_end = membership.current_period_end
    backend = program.providers[membership.provider]
    if (
        end is not None
        and period_end is not None
        and end < period_end
        and membership.status not in TERMINAL
        and isinstance(backend, ScheduledCancellation)
    ):
        snap = backend.cancel_subscription_at(
            membership.provider_subscription_id or membership.id, end
        )
        return program._store_local(membership, snap, cancel_reason=reason)
    return program.cancel(membership_id, reason=reason, at_period_end=True)


def ending_at(name: str, sub: SimulatedSubscription, at: datetime, now: datetime) -> dict[str, Any]:
    """The changes that make a simulated subscription end at ``at``: it no longer renews
    and its period ends then.

    :raises ProviderError: code ``bad_cancel_date`` when ``at`` is not after ``now`` or
        is after the paid period's end.
    """
    at = at.replace(microsecond=0)
    end = sub.current_period_end
    if at <= now or end is None or at > end:
        raise ProviderError(
            f"{name}: subscription {sub.id!r} cannot end at {at:%Y-%m-%d %H:%M}: expected a "
            f"moment after now ({now:%Y-%m-%d %H:%M}) and within its paid period"
            + (f" (ends {end:%Y-%m-%d %H:%M})" if end is not None else ""),
            code="bad_cancel_date",
        )
    return {"cancel_at_period_end": True, "canceled_at": now, "current_period_end": at}


# -- withdrawal (Art. 11a Consumer Rights Directive) -------------------------------------------
@dataclass(frozen=True, slots=True)
class Withdrawal:
    """What a withdrawal did: the membership as it is now, and the refund.

    ``refund`` is ``None`` when nothing was refunded through the provider; ``refund_note``
    then says why: ``"trial"`` (nothing was paid), ``"unsupported"`` (the provider cannot
    refund: the staff pays back by hand), or the provider's code
    (``"nothing_to_refund"``, ``"already_refunded"``).
    """

    membership: Membership
    refund: Refund | None
    refund_note: str = ""


def withdraw(
    program: MembershipProgram, membership_id: str, *, declared_at: datetime | None = None
) -> Withdrawal:
    """Withdraw from ``membership_id``'s contract: refund its latest payment where the
    provider can, then end it now.

    ``declared_at`` is when the withdrawal was declared (default: now): a withdrawal
    declared within the period is carried out when confirmed later.

    :raises OutsideWithdrawalPeriod: it was declared after the withdrawal period, or the
        membership gives no access; nothing changed.
    :raises ProviderError: the provider failed to refund; nothing changed.
    """
    membership = program._membership(membership_id)
    now = program.clock() if declared_at is None else declared_at
    if not can_withdraw(membership, now):
        deadline = withdrawal_deadline(membership)
        when = f"ended on {deadline:%Y-%m-%d}" if deadline is not None else "is unknown"
        raise OutsideWithdrawalPeriod(
            f"membership {membership.id!r} is {membership.status} and its withdrawal period "
            f"of {WITHDRAWAL_DAYS} days {when}; cancel it instead"
        )
    refund: Refund | None = None
    note = ""
    backend = program.providers[membership.provider]
    if membership.status is Status.TRIALING:
        note = "trial"
    elif not isinstance(backend, SubscriptionRefunds):
        note = "unsupported"
    else:
        try:
            refund, membership = program.refund(membership.id)
        except ProviderError as exc:
            if exc.code not in ("nothing_to_refund", "already_refunded"):
                raise
            note = exc.code
    if membership.status not in TERMINAL:
        membership = program.cancel(membership.id, reason=WITHDRAWAL_REASON, at_period_end=False)
    return Withdrawal(membership, refund, note)


# -- §309 Nr. 9 BGB: a yearly plan renews as monthly -------------------------------------------
def monthly_price(catalog: Catalog, price: Price, provider: str) -> Price | None:
    """The monthly price of ``price``'s tier in its currency sold through ``provider``
    (the cheapest, if several), or ``None``."""
    candidates = [
        p
        for p in catalog.prices_for_tier(price.tier or "")
        if p.interval is Interval.MONTH
        and p.currency == price.currency
        and provider in p.provider_ids
    ]
    return min(candidates, key=lambda p: (p.amount, p.id), default=None)


def renew_monthly(program: MembershipProgram, membership_id: str) -> Membership | None:
    """Make a yearly membership renew on its tier's monthly price when its period ends;
    ``None`` (nothing done) for a membership that is not on a yearly price.

    :raises CancellationError: the tier has no monthly price in the same currency sold
        through the membership's provider.
    :raises CapabilityDeclined: the provider lacks
        :class:`~membership_sdk.providers.RenewalPrices`.
    :raises ProviderError: the provider failed; nothing changed.
    """
    membership = program._membership(membership_id)
    price = _price(program.catalog, membership)
    if price is None or price.interval is not Interval.YEAR or membership.status in TERMINAL:
        return None
    monthly = monthly_price(program.catalog, price, membership.provider)
    if monthly is None:
        raise CancellationError(
            f"tier {price.tier!r} has no monthly price in {price.currency} sold through "
            f"{membership.provider!r}, so yearly price {price.id!r} cannot renew as monthly"
        )
    backend = program.providers[membership.provider]
    if not isinstance(backend, RenewalPrices) or not membership.provider_subscription_id:
        raise CapabilityDeclined(
            f"provider {membership.provider!r} cannot renew a subscription on another "
            f"price (membership {membership.id!r})"
        )
    external = monthly.provider_ids[membership.provider]
    prices = {external: monthly}
    own = price.provider_ids.get(membership.provider)
    if own is not None:
        prices[own] = price
    snap = backend.renew_on_price(
        membership.provider_subscription_id,
        external,
        prices=prices,
        **usage_price_args(program.catalog, monthly, membership.provider),
    )
    return program._store_local(membership, snap)


def renewing_on(
    name: str, sub: SimulatedSubscription, price: str, prices: Mapping[str, Price] | None
) -> dict[str, Any]:
    """The changes that make a simulated subscription renew on ``price`` (the pending
    change a renewal applies, as a downgrade at the period's end does).

    :raises ProviderError: code ``unknown_price`` when ``prices`` lacks ``price``,
        ``not_changeable`` for a one-off price.
    """
    from .providers.simulated_lifecycle import pending

    new = (prices or {}).get(price)
    if new is None:
        raise ProviderError(
            f"{name}: renewing on {price!r} needs the catalog's price; pass prices=",
            code="unknown_price",
        )
    if new.interval is Interval.ONE_OFF:
        raise ProviderError(
            f"{name}: subscription {sub.id!r} cannot renew on one-off price {price!r}",
            code="not_changeable",
        )
    return pending(price, new)
