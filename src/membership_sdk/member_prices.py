"""Member prices: a one-off item that costs less for members ("€9, members €5").

A one-off item price (an event ticket ``event:summer-meetup``, a download ``doc:7``) may
name member prices in :attr:`~membership_sdk.catalog.Price.member_amounts`: tier slug ->
amount, each a positive number of minor units below the list amount. A member price of a
tier is for every member who holds that tier or one ranked as high or higher, as
:class:`~membership_sdk.access.MinTier` decides; a member who qualifies for several
pays the lowest of them. What a member holds is resolved exactly as for the access
decision (:func:`~membership_sdk.access.resolve_context`): paid memberships that give
access (a lapsed one, expired, canceled past its period or past due beyond the grace
period, does not), comps, gifts and other tier grants; every signed-in member holds the
catalog's free tier, so a member price of the free tier is for every registered reader.

The price is decided on the server, when
:meth:`~membership_sdk.MembershipProgram.start_checkout` starts the checkout, from the
member's memberships and grants at that moment, never from the request. It reaches the
provider as a :class:`~membership_sdk.discounts.Discount` whose ``member_tier`` names the
tier (the ``fake`` provider's checkout amount, the ``manual`` provider's invoice, a
Stripe coupon of the saving on the Checkout Session).

One discount per checkout: a member price and a coupon never combine. When both could
apply, the cheaper one wins, the member price on a tie (:func:`cheaper`). Catalog
coupons discount recurring prices only, so on an item a catalog code is refused as ever
(``not_for_this_plan``); a code the catalog does not know (a Stripe promotion code)
cannot be compared, so with a member price it is refused too, and the member pays the
member price without it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .access import AccessContext
from .catalog import Catalog, Duration, Price
from .discounts import Discount
from .errors import CouponError

__all__ = [
    "MemberPrice",
    "TierPrice",
    "amounts_of",
    "cheaper",
    "checkout_discount",
    "member_discount",
    "member_priced",
    "price_for",
    "price_for_rank",
    "tier_prices",
]


@dataclass(frozen=True, slots=True)
class MemberPrice:
    """What one visitor pays for one price.

    :ivar price: the price's id.
    :ivar list_amount: the price's own amount (minor units of ``currency``).
    :ivar amount: what this visitor pays: a member price, or ``list_amount``.
    :ivar tier: the tier whose member price applies; ``None``: the list price.
    """

    price: str
    list_amount: int
    amount: int
    currency: str
    tier: str | None = None

    @property
    def member(self) -> bool:
        """Whether a member price applies."""
        return self.tier is not None

    @property
    def saving(self) -> int:
        """How much less than the list price this visitor pays (0 at the list price)."""
        return self.list_amount - self.amount


@dataclass(frozen=True, slots=True)
class TierPrice:
    """What members of one tier pay for a price, for a pricing page.

    ``amount`` is what a member holding ``tier`` (and nothing ranked higher) pays: the
    lowest member price of a tier ranked at most as high, so a tier listed with a higher
    member price than a lower tier's still pays the lower one.
    """

    tier: str
    name: str
    rank: int
    list_amount: int
    amount: int
    currency: str

    @property
    def saving(self) -> int:
        return self.list_amount - self.amount


def amounts_of(price: Price) -> Mapping[str, int]:
    """``price``'s member prices (none for a price pickled before they existed: a
    catalog an adapter cached across an upgrade)."""
    amounts: Mapping[str, int] | None = getattr(price, "member_amounts", None)
    return amounts or {}


def price_for_rank(price: Price, catalog: Catalog, rank: int) -> MemberPrice:
    """What a member whose highest tier has ``rank`` pays for ``price`` (``-1``: no tier,
    an anonymous visitor; they pay the list price)."""
    best: tuple[int, int, str] | None = None
    for slug, amount in amounts_of(price).items():
        tier_rank = catalog.rank_of.get(slug)
        if tier_rank is None or tier_rank > rank:
            continue
        # The lowest amount; on a tie the higher-ranked tier, then the slug: stable.
        key = (amount, -tier_rank, slug)
        if best is None or key < best:
            best = key
    if best is None:
        return MemberPrice(price.id, price.amount, price.amount, price.currency)
    return MemberPrice(price.id, price.amount, best[0], price.currency, best[2])


def price_for(price: Price, context: AccessContext) -> MemberPrice:
    """What the visitor of ``context`` pays for ``price``: the lowest member price of a
    tier ranked at most as high as the highest tier they hold, else the list price."""
    if context.member_id is None or not amounts_of(price):
        return MemberPrice(price.id, price.amount, price.amount, price.currency)
    return price_for_rank(price, context.catalog, context.rank)


def tier_prices(price: Price, catalog: Catalog) -> tuple[TierPrice, ...]:
    """What members of each tier named in ``price``'s member prices pay, by rank (a tier
    of the catalog not named pays what its rank gives it: see :func:`price_for_rank`)."""
    rows = []
    for slug in amounts_of(price):
        if slug not in catalog.rank_of:
            continue
        tier = catalog.tier(slug)
        paid = price_for_rank(price, catalog, tier.rank)
        rows.append(
            TierPrice(tier.slug, tier.name, tier.rank, price.amount, paid.amount, price.currency)
        )
    return tuple(sorted(rows, key=lambda r: (r.rank, r.tier)))


def member_priced(catalog: Catalog, currency: str | None = None) -> tuple[Price, ...]:
    """The catalog's item prices on sale with member prices (in ``currency`` if given)."""
    return tuple(
        p
        for p in catalog.prices
        if amounts_of(p)
        and not p.archived
        and p.item is not None
        and (currency is None or p.currency == currency)
    )


def member_discount(price: Price, context: AccessContext) -> Discount | None:
    """The member price of ``context``'s member for ``price`` as the checkout's
    :class:`~membership_sdk.discounts.Discount` (``member_tier`` set), or ``None`` when
    they pay the list price."""
    paid = price_for(price, context)
    if paid.tier is None:
        return None
    return Discount(
        price=price.id,
        list_amount=price.amount,
        amount=paid.amount,
        currency=price.currency,
        interval=price.interval,
        periods=1,
        amount_off=paid.saving,
        duration=Duration.ONCE,
        member_tier=paid.tier,
    )


def cheaper(member: Discount | None, other: Discount | None) -> Discount | None:
    """The one discount a checkout gets when a member price and another discount (a
    coupon) could both apply: the cheaper, the member price on a tie. Never both."""
    if member is None or other is None:
        return member or other
    return other if other.amount < member.amount else member


def checkout_discount(
    price: Price, context: AccessContext, other: Discount | None, code: str | None
) -> Discount | None:
    """The discount a checkout of ``price`` by ``context``'s member gets, given the
    ``other`` one the program resolved (a coupon, an intro offer) for the ``code`` the
    member entered.

    :raises CouponError: ``reason`` ``not_for_this_plan``: a member price applies and
        ``code`` is one the catalog does not know (a provider's own promotion code),
        whose terms cannot be compared with it. Nothing is reserved then.
    """
    member = member_discount(price, context)
    if member is None:
        return other
    if code and (other is None or not other.code):
        raise CouponError(
            f"code {code!r} cannot be used on price {price.id!r}: the member price for tier "
            f"{member.member_tier!r} applies, and a code does not combine with it",
            code=code,
            reason="not_for_this_plan",
        )
    return cheaper(member, other)
