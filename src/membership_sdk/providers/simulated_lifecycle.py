"""Plan changes and pauses as the simulated providers (``fake``, ``manual``) apply them
to a :class:`~membership_sdk.providers.simulated.SimulatedSubscription`.

The billing rule is :mod:`membership_sdk.lifecycle`'s: an upgrade now, prorated; a
downgrade at the period's end. A pause stops billing until ``paused_until``; the period
paid before it is not pushed back. At the resume, a period still running goes on; one
that ended meanwhile is followed by a new one, charged then (``fake``) or invoiced then
(``manual``: access again once the transfer is confirmed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ..catalog import Interval, Price
from ..errors import ProviderError
from ..events import EventType, SubscriptionSnapshot
from ..lifecycle import PlanChangeTerms, prorate
from ..membership import Status
from .base import PlanChangePreview, Webhook
from .simulated import SimulatedService, SimulatedSubscription, add_interval


def period_start(sub: SimulatedSubscription) -> datetime | None:
    """Where the current period began (its end less one interval, not before the start)."""
    end = sub.current_period_end
    if end is None:
        return None
    return max(add_interval(end, sub.interval, -1), sub.price_since or sub.started_at)


def plan_terms(
    name: str,
    sub: SimulatedSubscription,
    price: str,
    prices: Mapping[str, Price] | None,
    at: datetime,
    paid: int | None = None,
    terms: DiscountTerms | None = None,
) -> tuple[PlanChangeTerms, Price]:
    """How moving ``sub`` to ``price`` at ``at`` is billed, and the new price.
    ``paid`` is what the current period was charged, where the service recorded it
    (else what its discount made of it, see :func:`charged_now`); ``terms`` the terms
    of its discount, where the service recorded them (see :func:`rediscounted`).

    :raises ProviderError: code ``unknown_price`` (``prices`` lacks the subscription's or
        the new price), ``same_price``, ``currency_mismatch`` or ``not_changeable`` (the
        subscription is not active or trialing).
    """
    known = prices or {}
    old, new = known.get(sub.price), known.get(price)
    if old is None or new is None:
        missing = sub.price if old is None else price
        raise ProviderError(
            f"{name}: a plan change needs the catalog's price of {missing!r}; pass prices=",
            code="unknown_price",
        )
    if price == sub.price:
        raise ProviderError(
            f"{name}: subscription {sub.id!r} is on price {price!r} already", code="same_price"
        )
    if new.currency != old.currency:
        raise ProviderError(
            f"{name}: subscription {sub.id!r} is billed in {old.currency}, price {price!r} "
            f"in {new.currency}",
            code="currency_mismatch",
        )
    status = Status.parse(sub.status)
    if status not in (Status.ACTIVE, Status.TRIALING) or new.interval is Interval.ONE_OFF:
        raise ProviderError(
            f"{name}: subscription {sub.id!r} is {sub.status}; only an active or trialing "
            "subscription changes to another recurring price",
            code="not_changeable",
        )
    start = period_start(sub)
    # The credit is for what the current period was charged, the new price is charged
    # with the discount carried over (see rediscounted), while that discount lasts.
    paid = charged_now(sub) if paid is None else paid
    # A discount applies to the rest of this period only if this period was discounted
    # (one given as a retention offer starts at the next renewal).
    lasts = (
        sub.amount is not None
        and paid is not None
        and paid != sub.list_amount
        and (start is None or sub.discount_ends_at is None or start < sub.discount_ends_at)
    )
    carried = rediscounted(sub, new.amount, terms) if lasts else None
    billed = prorate(
        subscription_id=sub.id,
        provider_price=price,
        old=old,
        new=new,
        at=at,
        period_start=start,
        period_end=sub.current_period_end,
        trialing=status is Status.TRIALING,
        old_paid=paid,
        new_charged=carried,
    )
    return billed, new


#: A discount's terms as a service recorded them: its code, ``percent_off``, ``amount_off``.
DiscountTerms = tuple[str, int | None, int | None]


def rediscounted(
    sub: SimulatedSubscription, new_amount: int | None, terms: DiscountTerms | None = None
) -> int | None:
    """What ``sub``'s discount makes of another price's ``new_amount`` (``None``: no
    discount carries over).

    A coupon stays on the subscription, as Stripe keeps it, and applies to the new price:
    a percentage off stays that percentage off, an amount off the same amount off (never
    below 0). With its ``terms`` recorded (the ``fake`` provider records them) they say
    which; otherwise (the ``manual`` provider) one that took a whole percentage off the
    old price counts as a percentage, any other as an amount. An intro offer (a discount
    without a code) belongs to the old price and ends with it."""
    from ..discounts import discounted

    old = sub.list_amount
    if sub.amount is None or not sub.coupon or not old or new_amount is None:
        return None
    if terms is not None and terms[0] == sub.coupon and (terms[1] or terms[2]):
        return discounted(new_amount, percent_off=terms[1], amount_off=terms[2])
    off = old - sub.amount
    percent = (off * 100 + old // 2) // old
    if 0 < percent <= 100 and discounted(old, percent_off=percent, amount_off=None) == sub.amount:
        return discounted(new_amount, percent_off=percent, amount_off=None)
    return discounted(new_amount, percent_off=None, amount_off=off)


def moved_discount(
    sub: SimulatedSubscription,
    new_amount: int | None,
    at: datetime | None = None,
    terms: DiscountTerms | None = None,
) -> dict[str, Any]:
    """The discount fields once ``sub`` moves to a price of ``new_amount`` at ``at``
    (a discount that has ended by then is dropped)."""
    ended = at is not None and sub.discount_ends_at is not None and at >= sub.discount_ends_at
    amount = None if ended else rediscounted(sub, new_amount, terms)
    if amount is None:
        return {"amount": None, "coupon": "", "discount_ends_at": None}
    return {"amount": amount}


def charged_now(sub: SimulatedSubscription) -> int | None:
    """What the current period was charged (after its discount), if the service knows."""
    start = period_start(sub)
    return sub.charge_for(start) if start is not None else sub.list_amount


def applied(
    price: str,
    new: Price,
    at: datetime,
    period_end: datetime | None,
    sub: SimulatedSubscription | None = None,
    terms: DiscountTerms | None = None,
) -> dict[str, Any]:
    """The changes that put a subscription (``sub``, whose discount carries over) on
    ``new`` (provider id ``price``) from ``at``."""
    return {
        "price": price,
        "interval": new.interval,
        "list_amount": new.amount,
        "price_since": at,
        "current_period_end": period_end,
        **(moved_discount(sub, new.amount, at, terms) if sub is not None else {}),
        **cleared(),
    }


def pending(price: str, new: Price, invoice: str | None = None) -> dict[str, Any]:
    """The changes that make ``new`` wait for the period's end (or for ``invoice``)."""
    return {
        "pending_price": price,
        "pending_interval": new.interval,
        "pending_amount": new.amount,
        "pending_invoice": invoice,
    }


def cleared() -> dict[str, Any]:
    return {
        "pending_price": None,
        "pending_interval": None,
        "pending_amount": None,
        "pending_invoice": None,
    }


def at_period_end(sub: SimulatedSubscription) -> bool:
    """Whether a change waits for the period's end (not for an invoice)."""
    return sub.pending_price is not None and sub.pending_invoice is None


def renewal_terms(
    sub: SimulatedSubscription, start: datetime | None = None
) -> tuple[str, Interval, int | None]:
    """The price, interval and amount the next period (from ``start``) is billed at: a
    change waiting for the period's end applies from it, with the discount carried over
    while it lasts."""
    if at_period_end(sub) and sub.pending_price is not None:
        amount = sub.pending_amount
        lasts = start is None or sub.discount_ends_at is None or start < sub.discount_ends_at
        carried = rediscounted(sub, amount) if lasts else None
        return (
            sub.pending_price,
            sub.pending_interval or sub.interval,
            amount if carried is None else carried,
        )
    return sub.price, sub.interval, None


def renew_into_pending(
    sub: SimulatedSubscription, start: datetime, terms: DiscountTerms | None = None
) -> dict[str, Any]:
    """The changes that move ``sub`` onto its pending price as the period from ``start``
    begins (nothing when no change waits for the period's end)."""
    if not at_period_end(sub) or sub.pending_price is None:
        return {}
    return {
        "price": sub.pending_price,
        "interval": sub.pending_interval or sub.interval,
        "list_amount": sub.pending_amount,
        "price_since": start,
        **moved_discount(sub, sub.pending_amount, start, terms),
        **cleared(),
    }


def check_pausable(name: str, sub: SimulatedSubscription) -> None:
    """:class:`ProviderError` (``not_pausable``) unless ``sub`` is active and renews."""
    if sub.status != Status.ACTIVE or sub.cancel_at_period_end:
        state = "set to cancel" if sub.cancel_at_period_end else sub.status
        raise ProviderError(
            f"{name}: subscription {sub.id!r} is {state}; only an active subscription "
            "that renews can be paused",
            code="not_pausable",
        )


def check_paused(name: str, sub: SimulatedSubscription) -> None:
    """:class:`ProviderError` (``not_paused``) unless ``sub`` is paused by a pause."""
    if sub.status != Status.PAUSED or sub.paused_until is None:
        raise ProviderError(
            f"{name}: subscription {sub.id!r} is {sub.status}, not paused", code="not_paused"
        )


def resumed(sub: SimulatedSubscription, now: datetime) -> tuple[EventType, dict[str, Any]]:
    """The event and changes ending ``sub``'s pause at ``now``: a period still running
    goes on; after one that ended, billing starts again now (the caller charges or
    invoices the new period)."""
    end = sub.current_period_end
    changes: dict[str, Any] = {"status": str(Status.ACTIVE), "paused_until": None}
    if end is not None and now < end:
        return EventType.SUBSCRIPTION_UPDATED, changes
    return EventType.PAYMENT_SUCCEEDED, changes


def prorated_at(proration_date: int | None, now: datetime) -> datetime:
    """The moment a plan change is prorated from: the preview's ``proration_date`` (Unix
    seconds), or ``now`` without one."""
    if proration_date is None:
        return now
    return datetime.fromtimestamp(proration_date, UTC)


class SimulatedPlans(SimulatedService):
    """Plan changes (:class:`~membership_sdk.providers.PlanChanges`) and pauses
    (:class:`~membership_sdk.providers.Pausing`) for a service that charges a card by
    itself (the ``fake`` provider): an upgrade is charged at once, a resume after the
    paid period charges the new one. A card that is declined
    (:meth:`~membership_sdk.providers.fake.FakeProvider.decline_card`) pays neither: the
    upgrade is refused (``card_declined``), the resume leaves it past due."""

    #: Customer ids whose card fails every charge (the ``fake`` provider's dunning).
    declining: set[str]
    #: What each subscription's latest payment charged, by subscription id.
    latest_payment: dict[str, int]
    #: What each subscription's current period is charged at (after its discount; a
    #: plan change moves it to the new plan's), by subscription id.
    period_rate: dict[str, int]
    #: The terms of each subscription's coupon, by subscription id.
    discount_terms: dict[str, DiscountTerms]

    def _declined(self, sub: SimulatedSubscription) -> bool:
        return sub.customer_id in getattr(self, "declining", ())

    def _paid(
        self, sub: SimulatedSubscription, amount: int | None, rate: int | None = None
    ) -> None:
        """Remember what ``sub``'s latest payment charged (for a refund of it) and what
        its current period is charged at (``rate``; ``amount`` by default)."""
        if amount is not None and hasattr(self, "latest_payment"):
            self.latest_payment[sub.id] = amount
        rate = amount if rate is None else rate
        if rate is not None and hasattr(self, "period_rate"):
            self.period_rate[sub.id] = rate

    def _rate(self, sub: SimulatedSubscription) -> int | None:
        return getattr(self, "period_rate", {}).get(sub.id)

    def _terms(self, sub: SimulatedSubscription) -> DiscountTerms | None:
        return getattr(self, "discount_terms", {}).get(sub.id)

    def preview_plan_change(
        self,
        subscription_id: str,
        price: str,
        *,
        proration_date: int | None = None,
        prices: Mapping[str, Price] | None = None,
        usage_prices: Sequence[str] | None = None,
    ) -> PlanChangePreview:
        """What moving to ``price`` costs (see :mod:`membership_sdk.lifecycle`)."""
        self.call("preview_plan_change")
        sub = self._live(subscription_id, "change the plan of")
        at = prorated_at(proration_date, self.now())
        terms, _ = plan_terms(self.name, sub, price, prices, at, self._rate(sub), self._terms(sub))
        return terms.preview

    def change_plan(
        self,
        subscription_id: str,
        price: str,
        *,
        proration_date: int | None = None,
        idempotency_key: str | None = None,
        prices: Mapping[str, Price] | None = None,
        usage_prices: Sequence[str] | None = None,
    ) -> SubscriptionSnapshot:
        """Move to ``price``: an upgrade now, charged as previewed at ``proration_date``
        (a ``payment.succeeded`` webhook); a downgrade at the period's end (the next
        renewal bills the new price)."""
        self.call("change_plan")
        sub = self._live(subscription_id, "change the plan of")
        at = prorated_at(proration_date, self.now())
        terms, new = plan_terms(
            self.name, sub, price, prices, at, self._rate(sub), self._terms(sub)
        )
        if terms.immediate:
            charged = terms.preview.amount_due > 0
            if charged and self._declined(sub):
                raise ProviderError(
                    f"{self.name}: the card of customer {sub.customer_id!r} was declined: "
                    f"the plan change of subscription {sub.id!r} is not made; update the "
                    "payment method first",
                    code="card_declined",
                )
            kind = EventType.PAYMENT_SUCCEEDED if charged else EventType.SUBSCRIPTION_UPDATED
            changes = applied(price, new, self.now(), terms.period_end, sub, self._terms(sub))
            self._paid(sub, terms.preview.amount_due if charged else None, terms.rate)
            self.change(sub, kind, **changes)
        else:
            self.change(sub, EventType.SUBSCRIPTION_UPDATED, **pending(price, new))
        return sub.snapshot()

    def renew_on_price(
        self,
        subscription_id: str,
        price: str,
        *,
        prices: Mapping[str, Price] | None = None,
        usage_prices: Sequence[str] | None = None,
    ) -> SubscriptionSnapshot:
        """The :class:`~membership_sdk.providers.RenewalPrices` capability: the next
        renewal moves onto ``price`` (see :func:`~membership_sdk.cancellation.renewing_on`)."""
        from ..cancellation import renewing_on

        self.call("renew_on_price")
        sub = self._live(subscription_id, "change the renewal of")
        self.change(
            sub, EventType.SUBSCRIPTION_UPDATED, **renewing_on(self.name, sub, price, prices)
        )
        return sub.snapshot()

    def pause_subscription(
        self, subscription_id: str, *, resumes_at: datetime
    ) -> SubscriptionSnapshot:
        """Stop billing until ``resumes_at``; :meth:`resume_due_pauses` resumes it then."""
        self.call("pause_subscription")
        sub = self._live(subscription_id, "pause")
        check_pausable(self.name, sub)
        self.change(
            sub, EventType.SUBSCRIPTION_UPDATED, status=str(Status.PAUSED), paused_until=resumes_at
        )
        return sub.snapshot()

    def unpause_subscription(self, subscription_id: str) -> SubscriptionSnapshot:
        """End the pause now."""
        self.call("unpause_subscription")
        sub = self._live(subscription_id, "resume")
        check_paused(self.name, sub)
        self._end_pause(sub, self.now())
        return sub.snapshot()

    def _end_pause(self, sub: SimulatedSubscription, now: datetime) -> Webhook:
        kind, changes = resumed(sub, now)
        if kind is EventType.PAYMENT_SUCCEEDED and self._declined(sub):
            # The period starting now is due and unpaid: past due, as a failed renewal
            # (retry_payment or a new card pays it from now).
            changes.update(status=str(Status.PAST_DUE), current_period_end=now)
            return self.change(sub, EventType.PAYMENT_FAILED, **changes)
        if kind is EventType.PAYMENT_SUCCEEDED:  # the card pays the period starting now
            sub.end_discount_by(now)
            self._paid(sub, sub.charge_for(now))
            changes["current_period_end"] = add_interval(now, sub.interval)
        return self.change(sub, kind, **changes)

    def resume_due_pauses(self, now: datetime | None = None) -> list[Webhook]:
        """Resume every pause whose ``paused_until`` has come by ``now`` (the clock's by
        default), as the service does by itself; returns the webhooks sent."""
        moment = now or self.now()
        return [
            self._end_pause(sub, moment)
            for _, sub in sorted(self.subscriptions.items())
            if sub.status == Status.PAUSED
            and sub.paused_until is not None
            and sub.paused_until <= moment
        ]
