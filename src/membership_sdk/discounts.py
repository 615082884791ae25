"""Coupons and intro offers at checkout: whether a code is good for a checkout, and what
each period costs with it.

:func:`checkout_discount` is what :meth:`~membership_sdk.MembershipProgram.start_checkout`
asks before it calls a provider: it checks the code against the catalog (raising
:class:`~membership_sdk.errors.CouponError` with a machine ``reason`` when it cannot be
used) and returns the :class:`Discount` the provider applies, the price's intro offer
included. How many times a code was used is counted apart, through the
:class:`~membership_sdk.ports.RedemptionStore` port, because only an atomic reservation
keeps ``max_redemptions`` under concurrency.

One discount applies per subscription, as on Stripe: when a price has an intro offer and
the member also enters a code, the one whose first period is cheaper applies (the intro
offer on a tie), and a code that loses is not redeemed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from .catalog import Catalog, Coupon, Duration, Interval, Price
from .currency import format_amount
from .errors import CouponError, MembershipError


@dataclass(frozen=True, slots=True)
class Discount:
    """A discount resolved for one checkout of one price.

    Each of the first ``periods`` billing periods (every period when ``None``) costs
    ``amount`` instead of ``list_amount`` (minor units of ``currency``). ``code`` is the
    coupon's code, ``""`` for the price's intro offer. ``percent_off`` / ``amount_off``,
    ``duration`` and ``months`` describe it as the coupon does, for providers that keep
    discounts of their own (Stripe); ``provider_ids`` are the coupon's ids there.
    """

    price: str
    list_amount: int
    amount: int
    currency: str
    interval: Interval
    periods: int | None
    code: str = ""
    percent_off: int | None = None
    amount_off: int | None = None
    duration: Duration = Duration.ONCE
    months: int | None = None
    provider_ids: Mapping[str, str] = field(default_factory=dict, hash=False, compare=True)
    #: The tier whose member price this is (see :mod:`membership_sdk.member_prices`);
    #: ``""`` for a coupon or an intro offer.
    member_tier: str = ""

    @property
    def intro(self) -> bool:
        """Whether this is the price's intro offer rather than a coupon or a member price."""
        return not self.code and not self.member_tier

    @property
    def off(self) -> int:
        """How much less each discounted period costs."""
        return self.list_amount - self.amount

    def ends_at(self, start: datetime) -> datetime | None:
        """When the list price applies again for a subscription whose first discounted
        period starts at ``start``; ``None`` for a discount that lasts for ever."""
        if self.periods is None:
            return None
        # Imported here: the providers' package imports this module.
        from .providers.simulated import add_interval

        return add_interval(start, self.interval, self.periods)

    def charged(self, period: int) -> int:
        """What period number ``period`` (0 for the first) costs."""
        if self.periods is None or period < self.periods:
            return self.amount
        return self.list_amount

    def describe(self) -> str:
        """A short English description (``"€1.00 a month for 3 months, then €9.00"``)."""
        unit = "year" if self.interval is Interval.YEAR else "month"
        now = f"{self.currency} {format_amount(self.amount, self.currency)}"
        then = f"{self.currency} {format_amount(self.list_amount, self.currency)}"
        if self.periods is None:
            return f"{now} a {unit}"
        plural = "" if self.periods == 1 else "s"
        return f"{now} a {unit} for {self.periods} {unit}{plural}, then {then}"


def discounted(list_amount: int, *, percent_off: int | None, amount_off: int | None) -> int:
    """``list_amount`` less ``percent_off`` percent (rounded to the nearest minor unit, half
    up) or less ``amount_off`` (never below 0)."""
    if percent_off is not None:
        return list_amount - (list_amount * percent_off + 50) // 100
    return max(0, list_amount - (amount_off or 0))


def check_discount_terms(
    code: str, *, percent_off: int | None, amount_off: int | None, months: int | None
) -> None:
    """Check a discount put on a running subscription (see
    :meth:`~membership_sdk.MembershipProgram.apply_discount`).

    :raises MembershipError: no code, not exactly one of ``percent_off`` (1..100) and
        ``amount_off`` (> 0), or ``months`` below 1.
    """
    if not isinstance(code, str) or not code.strip():
        raise MembershipError(f"a discount needs a code naming it, got {code!r}")
    if (percent_off is None) == (amount_off is None):
        raise MembershipError(
            f"discount {code!r}: set exactly one of percent_off or amount_off; got "
            f"percent_off={percent_off!r}, amount_off={amount_off!r}"
        )
    if percent_off is not None and not (isinstance(percent_off, int) and 0 < percent_off <= 100):
        raise MembershipError(f"discount {code!r}: percent_off must be 1..100, got {percent_off!r}")
    if amount_off is not None and not (isinstance(amount_off, int) and amount_off > 0):
        raise MembershipError(f"discount {code!r}: amount_off must be positive, got {amount_off!r}")
    if months is not None and not (isinstance(months, int) and months >= 1):
        raise MembershipError(f"discount {code!r}: months must be >= 1 or None, got {months!r}")


def coupon_periods(coupon: Coupon, interval: Interval) -> int | None:
    """How many billing periods of ``interval`` the coupon discounts: 1 for ``once``,
    the periods that start within ``months`` for ``repeating`` (a 3-month coupon
    discounts a yearly price's first year, as on Stripe), ``None`` for ``forever``."""
    if coupon.duration is Duration.FOREVER:
        return None
    if coupon.duration is Duration.ONCE:
        return 1
    months = coupon.months or 1
    if interval is Interval.YEAR:
        return -(-months // 12)
    return months


def coupon_discount(coupon: Coupon, price: Price) -> Discount:
    """The discount ``coupon`` gives on ``price`` (checked already: see :func:`check_coupon`)."""
    return Discount(
        price=price.id,
        list_amount=price.amount,
        amount=discounted(
            price.amount, percent_off=coupon.percent_off, amount_off=coupon.amount_off
        ),
        currency=price.currency,
        interval=price.interval,
        periods=coupon_periods(coupon, price.interval),
        code=coupon.code,
        percent_off=coupon.percent_off,
        amount_off=coupon.amount_off,
        duration=coupon.duration,
        months=coupon.months,
        provider_ids=coupon.provider_ids,
    )


def intro_discount(price: Price) -> Discount | None:
    """The price's intro offer as a discount, or ``None`` when it has none."""
    if not price.has_intro or price.intro_amount is None:
        return None
    periods = price.intro_periods
    months = periods * (12 if price.interval is Interval.YEAR else 1)
    return Discount(
        price=price.id,
        list_amount=price.amount,
        amount=price.intro_amount,
        currency=price.currency,
        interval=price.interval,
        periods=periods,
        amount_off=price.amount - price.intro_amount,
        duration=Duration.ONCE if periods == 1 else Duration.REPEATING,
        months=None if periods == 1 else months,
    )


def check_coupon(
    catalog: Catalog,
    code: str,
    price: Price,
    *,
    now: datetime,
    first_time: bool,
    member_id: str | None = None,
) -> Coupon:
    """The catalog's coupon for ``code`` if it may discount a checkout of ``price`` at
    ``now`` by a member who never had a membership (``first_time``) or did.

    Whether it is used up is for the :class:`~membership_sdk.ports.RedemptionStore` to
    say, atomically, when the checkout reserves it.

    :raises CouponError: ``reason`` ``unknown``, ``expired``, ``not_for_this_plan``,
        ``wrong_currency`` or ``not_first_time``; a personal code (``member_id``) used
        by anyone but ``member_id`` is ``unknown``, as if it did not exist.
    """
    coupon = catalog.coupon(code)
    if coupon is None or (coupon.member_id and coupon.member_id != member_id):
        raise CouponError(f"unknown coupon code {code!r}", code=code, reason="unknown")
    if coupon.expired(now):
        assert coupon.expires_at is not None
        raise CouponError(
            f"coupon {coupon.code!r} expired on {coupon.expires_at:%Y-%m-%d}",
            code=code,
            reason="expired",
        )
    if not coupon.applies_to(price):
        limits = [*coupon.tiers, *coupon.prices]
        raise CouponError(
            f"coupon {coupon.code!r} is not for price {price.id!r}"
            + (f"; it is for {', '.join(map(repr, limits))}" if limits else ""),
            code=code,
            reason="not_for_this_plan",
        )
    if coupon.amount_off is not None and coupon.currency != price.currency:
        raise CouponError(
            f"coupon {coupon.code!r} takes {coupon.currency} off; price {price.id!r} is in "
            f"{price.currency}",
            code=code,
            reason="wrong_currency",
        )
    if coupon.first_time_only and not first_time:
        raise CouponError(
            f"coupon {coupon.code!r} is for first-time members only",
            code=code,
            reason="not_first_time",
        )
    return coupon


def better(coupon: Discount | None, intro: Discount | None) -> Discount | None:
    """The discount that applies when both could: the cheaper first period wins, the
    intro offer on a tie (a code that changes nothing is not redeemed)."""
    if coupon is None or intro is None:
        return coupon or intro
    return coupon if coupon.amount < intro.amount else intro


def checkout_discount(
    catalog: Catalog,
    price: Price,
    code: str | None,
    *,
    now: datetime,
    first_time: bool,
    member_id: str | None = None,
) -> Discount | None:
    """The discount a checkout of ``price`` with ``code`` (``None``: none entered) gets:
    the coupon's or the price's intro offer (see :func:`better`), or ``None``.

    :raises CouponError: the code cannot be used (see :func:`check_coupon`).
    """
    intro = intro_discount(price)
    if not code:
        return intro
    coupon = check_coupon(catalog, code, price, now=now, first_time=first_time, member_id=member_id)
    return better(coupon_discount(coupon, price), intro)
