"""Retention offers: what a member who is cancelling is offered instead, chosen by the
reason they gave, and whether an accepted offer kept them.

A site configures named offers (:func:`parse_offers`): a discount for some months, a pause
of up to three months, or a cheaper plan, each for one or more cancellation reasons.
:func:`offer_for` picks the first offer for a reason that the member's provider can honour
(:func:`can_honour`: the provider has the capability, the program the method, the
membership the state); :func:`accept` carries it out through the program. An offer never
stands in the way of the cancellation: the host shows it with a one-click way on.

A *save* (:func:`saved`) is an accepted offer whose member was still a member
:data:`SAVE_WINDOW` after accepting, read from the membership as it is when asked, never
from a flag set once.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from .catalog import Catalog, Interval, Price
from .errors import MembershipError
from .lifecycle import MAX_PAUSE_MONTHS
from .membership import TERMINAL, Membership, Status
from .providers.base import Pausing, PlanChanges, SubscriptionDiscounts

if TYPE_CHECKING:
    from .program import MembershipProgram

#: How long after accepting an offer the member must still be a member for it to count
#: as a save.
SAVE_WINDOW = timedelta(days=30)


class RetentionKind(StrEnum):
    """What a retention offer proposes."""

    DISCOUNT = "discount"
    PAUSE = "pause"
    CHEAPER_PLAN = "cheaper_plan"


class RetentionConfigError(MembershipError, ValueError):
    """A retention offer is configured wrongly; the message names the offer and the key."""


@dataclass(frozen=True, slots=True)
class RetentionOffer:
    """One configured offer.

    ``reasons`` are the cancellation reasons it answers. A discount takes ``percent_off``
    (1-100) or ``amount_off`` (minor units of the membership's currency) for ``months``
    periods (``None``: for ever) under the coupon ``code``; a pause lasts 1 to ``months``
    months, the member choosing; a cheaper plan moves to ``price`` (a catalog price id), or,
    when it is empty, to the dearest price of the member's provider, currency and interval
    that costs less than theirs.
    """

    id: str
    kind: RetentionKind
    reasons: tuple[str, ...]
    percent_off: int | None = None
    amount_off: int | None = None
    months: int | None = None
    price: str = ""
    code: str = ""


_KEYS = {
    RetentionKind.DISCOUNT: {"percent_off", "amount_off", "months", "code"},
    RetentionKind.PAUSE: {"months"},
    RetentionKind.CHEAPER_PLAN: {"price"},
}


def _positive_int(offer_id: str, key: str, value: object, top: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RetentionConfigError(
            f"retention offer {offer_id!r}: {key} must be a whole number of at least 1, "
            f"got {value!r}"
        )
    if top is not None and value > top:
        raise RetentionConfigError(
            f"retention offer {offer_id!r}: {key} must be at most {top}, got {value!r}"
        )
    return value


def parse_offer(
    offer_id: str, spec: Mapping[str, Any], *, reasons: Collection[str] | None = None
) -> RetentionOffer:
    """One offer from its settings, ``{"kind": ..., "reasons": [...], ...}``.

    :param reasons: the cancellation reasons that exist; a reason outside them is refused.
    :raises RetentionConfigError: naming the offer and the key at fault.
    """
    if not isinstance(spec, Mapping):
        raise RetentionConfigError(
            f"retention offer {offer_id!r} must be a mapping, got {type(spec).__name__}"
        )
    try:
        kind = RetentionKind(str(spec.get("kind")))
    except ValueError:
        raise RetentionConfigError(
            f"retention offer {offer_id!r}: kind must be one of "
            f"{', '.join(repr(k.value) for k in RetentionKind)}; got {spec.get('kind')!r}"
        ) from None
    unknown = set(spec) - _KEYS[kind] - {"kind", "reasons"}
    if unknown:
        raise RetentionConfigError(
            f"retention offer {offer_id!r}: unknown keys {sorted(unknown)!r} for a {kind} "
            f"offer; it takes {sorted(_KEYS[kind] | {'kind', 'reasons'})!r}"
        )
    raw = spec.get("reasons")
    if isinstance(raw, str) or not isinstance(raw, Collection) or not raw:
        raise RetentionConfigError(
            f"retention offer {offer_id!r}: reasons must be a non-empty list of "
            f"cancellation reasons, got {raw!r}"
        )
    wanted = tuple(str(r) for r in raw)
    if reasons is not None:
        bad = [r for r in wanted if r not in reasons]
        if bad:
            raise RetentionConfigError(
                f"retention offer {offer_id!r}: unknown reasons {bad!r}; known: {sorted(reasons)!r}"
            )
    months = spec.get("months")
    if kind is RetentionKind.DISCOUNT:
        percent, amount = spec.get("percent_off"), spec.get("amount_off")
        if (percent is None) == (amount is None):
            raise RetentionConfigError(
                f"retention offer {offer_id!r}: a discount takes exactly one of "
                f"percent_off or amount_off"
            )
        code = spec.get("code", f"retention-{offer_id}")
        if not isinstance(code, str) or not code.strip():
            raise RetentionConfigError(
                f"retention offer {offer_id!r}: code must be a non-empty string, got {code!r}"
            )
        return RetentionOffer(
            id=offer_id,
            kind=kind,
            reasons=wanted,
            percent_off=None
            if percent is None
            else _positive_int(offer_id, "percent_off", percent, 100),
            amount_off=None if amount is None else _positive_int(offer_id, "amount_off", amount),
            months=None if months is None else _positive_int(offer_id, "months", months, 36),
            code=code.strip(),
        )
    if kind is RetentionKind.PAUSE:
        return RetentionOffer(
            id=offer_id,
            kind=kind,
            reasons=wanted,
            months=_positive_int(
                offer_id, "months", MAX_PAUSE_MONTHS if months is None else months, MAX_PAUSE_MONTHS
            ),
        )
    price = spec.get("price", "")
    if not isinstance(price, str):
        raise RetentionConfigError(
            f"retention offer {offer_id!r}: price must be a price id, got {price!r}"
        )
    return RetentionOffer(id=offer_id, kind=kind, reasons=wanted, price=price)


def parse_offers(
    config: Mapping[str, Mapping[str, Any]], *, reasons: Collection[str] | None = None
) -> tuple[RetentionOffer, ...]:
    """Every offer of ``config`` (offer id -> its settings), in the order given: for a
    reason, the first one the member's provider can honour is shown.

    :raises RetentionConfigError: naming the first offer and key at fault.
    """
    if not isinstance(config, Mapping):
        raise RetentionConfigError(
            f"retention offers must be a mapping of offer id to settings, "
            f"got {type(config).__name__}"
        )
    return tuple(parse_offer(str(k), v, reasons=reasons) for k, v in config.items())


# -- which offer, and whether it can be honoured ---------------------------------------------
def _monthly(price: Price) -> float:
    return price.amount / 12 if price.interval is Interval.YEAR else float(price.amount)


def cheaper_price(offer: RetentionOffer, catalog: Catalog, membership: Membership) -> Price | None:
    """The price a cheaper-plan ``offer`` moves ``membership`` to, or ``None`` when there is
    none: a recurring price of a tier, on sale through the member's provider, in the
    same currency, costing less a month than the membership's price. The offer's
    ``price`` when it names one; otherwise the dearest such price of the same interval."""
    try:
        current = catalog.price(membership.price_id or "", include_archived=True)
    except MembershipError:
        return None
    candidates = [
        p
        for p in catalog.prices
        if p.interval is not Interval.ONE_OFF
        and not p.archived
        and p.tier
        and p.id != current.id
        and p.currency == current.currency
        and membership.provider in p.provider_ids
        and _monthly(p) < _monthly(current)
    ]
    if offer.price:
        return next((p for p in candidates if p.id == offer.price), None)
    # Unnamed, it stays on the member's interval: a yearly plan cheaper by the month
    # asks more money up front of someone who finds the price too high.
    same = [p for p in candidates if p.interval is current.interval]
    if not same:
        return None
    return max(same, key=lambda p: (p.amount, p.id))


def can_honour(
    offer: RetentionOffer,
    program: MembershipProgram,
    membership: Membership,
    *,
    now: datetime | None = None,
) -> bool:
    """Whether ``offer`` can be carried out for ``membership`` now: its provider has the
    capability (:class:`~membership_sdk.providers.SubscriptionDiscounts`,
    :class:`~membership_sdk.providers.Pausing` or
    :class:`~membership_sdk.providers.PlanChanges`), and the membership is running
    (active, or trialing for a discount or a plan change), for a discount with no
    discount already running."""
    if membership.cancel_at_period_end or not membership.provider_subscription_id:
        return False
    provider = program.providers.get(membership.provider)
    if offer.kind is RetentionKind.DISCOUNT:
        if membership.status not in (Status.ACTIVE, Status.TRIALING):
            return False
        when = now or program.clock()
        if membership.coupon and (
            membership.discount_ends_at is None or membership.discount_ends_at > when
        ):
            return False
        return isinstance(provider, SubscriptionDiscounts)
    if offer.kind is RetentionKind.PAUSE:
        return membership.status is Status.ACTIVE and isinstance(provider, Pausing)
    return (
        membership.status in (Status.ACTIVE, Status.TRIALING)
        and isinstance(provider, PlanChanges)
        and cheaper_price(offer, program.catalog, membership) is not None
    )


def offer_for(
    offers: Collection[RetentionOffer],
    reason: str,
    program: MembershipProgram,
    membership: Membership,
) -> RetentionOffer | None:
    """The first of ``offers`` for ``reason`` that :func:`can_honour` for ``membership``;
    ``None``: no offer, the cancellation goes on at once."""
    for offer in offers:
        if reason in offer.reasons and can_honour(offer, program, membership):
            return offer
    return None


def accept(
    program: MembershipProgram,
    offer: RetentionOffer,
    membership: Membership,
    *,
    months: int | None = None,
    reason: str = "",
) -> Membership:
    """Carry out ``offer`` for ``membership`` through the program, and return the
    membership as the provider answered.

    :param months: a pause's length, 1 to ``offer.months`` (default: ``offer.months``).
    :param reason: the cancellation reason, kept as the pause reason.
    :raises RetentionConfigError: ``months`` is out of the offer's range, or no cheaper
        price is left; nothing changed.
    :raises ProviderError: the provider failed; nothing changed.
    """
    if offer.kind is RetentionKind.DISCOUNT:
        return program.apply_discount(
            membership.id,
            code=offer.code,
            percent_off=offer.percent_off,
            amount_off=offer.amount_off,
            months=offer.months,
        )
    if offer.kind is RetentionKind.PAUSE:
        top = offer.months or MAX_PAUSE_MONTHS
        length = top if months is None else months
        if not 1 <= length <= top:
            raise RetentionConfigError(
                f"retention offer {offer.id!r} pauses for 1 to {top} months, got {length!r}"
            )
        return program.pause(membership.id, months=length, reason=reason)
    price = cheaper_price(offer, program.catalog, membership)
    if price is None:
        raise RetentionConfigError(
            f"retention offer {offer.id!r} has no cheaper price for membership {membership.id!r}"
        )
    return program.change_plan(membership.id, price.id)


# -- saves -----------------------------------------------------------------------------------
def left_at(membership: Membership, since: datetime) -> datetime | None:
    """When the member of ``membership`` left (asked to cancel, or the membership ended)
    at or after ``since``; ``None`` while they have not."""
    leaving = membership.status in TERMINAL or membership.cancel_at_period_end
    if leaving and membership.canceled_at is not None and membership.canceled_at >= since:
        return membership.canceled_at
    if membership.status in TERMINAL:
        end = membership.current_period_end or membership.canceled_at
        return since if end is None or end < since else end
    if membership.cancel_at_period_end:
        # Set to end, with no date after ``since`` to say when it was asked: count from
        # the offer, the cautious reading.
        return since
    return None


def saved(
    membership: Membership | None,
    accepted_at: datetime,
    now: datetime,
    window: timedelta = SAVE_WINDOW,
) -> bool | None:
    """Whether an offer accepted at ``accepted_at`` saved ``membership``: its member was
    still a member ``window`` later (a paused membership counts; a cancellation asked for
    within the window does not, even if the paid period runs on).

    :returns: ``True`` or ``False``; ``None`` while the window has not passed and the
        member has not left (too early to tell).
    """
    deadline = accepted_at + window
    if membership is None:
        return None if now < deadline else False
    gone = left_at(membership, accepted_at)
    if gone is not None and gone < deadline:
        return False
    if now < deadline:
        return None
    return True
