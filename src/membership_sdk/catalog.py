"""The catalog: tiers, their prices, coupons and the offers that unlock content.

All values are immutable. A :class:`Catalog` validates itself when built: duplicate
slugs, prices of unknown tiers and invalid amounts are rejected with a message that
names them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING

from .currency import normalize_currency
from .entitlements import Entitlement
from .errors import CatalogError, DuplicateSlug, InvalidAmount, UnknownPrice, UnknownTier

if TYPE_CHECKING:
    from .usage import UsageRate

_SLUG_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_")


def _check_slug(kind: str, slug: object) -> None:
    if not isinstance(slug, str) or not slug or not set(slug) <= _SLUG_CHARS:
        raise CatalogError(
            f"invalid {kind} slug {slug!r}; expected lower-case letters, digits, '-' or '_'"
        )


class Interval(StrEnum):
    """How often a price is charged."""

    MONTH = "month"
    YEAR = "year"
    ONE_OFF = "one_off"


@dataclass(frozen=True, slots=True)
class Tier:
    """A membership level. Higher ``rank`` means more access; free tiers have rank 0."""

    slug: str
    name: str
    rank: int = 0
    entitlements: tuple[Entitlement, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        _check_slug("tier", self.slug)
        if not isinstance(self.rank, int) or self.rank < 0:
            raise CatalogError(
                f"tier {self.slug!r}: rank must be an integer >= 0, got {self.rank!r}"
            )
        parsed = tuple(Entitlement.parse(e) for e in self.entitlements)
        object.__setattr__(self, "entitlements", parsed)
        keys = [e.key for e in parsed]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise DuplicateSlug(f"tier {self.slug!r} lists entitlement(s) {dupes} more than once")


@dataclass(frozen=True, slots=True)
class Price:
    """What a tier (or a one-off item) costs.

    ``amount`` is in minor units of ``currency`` (cents for EUR, whole yen for JPY).
    A price sells either a ``tier`` (recurring or one-off) or an ``item`` (a one-off
    purchase of a single resource key). ``provider_ids`` maps a provider name to that
    provider's id for this price (``{"stripe": "price_123"}``).
    """

    id: str
    amount: int
    currency: str
    interval: Interval = Interval.MONTH
    tier: str | None = None
    item: str | None = None
    trial_days: int = 0
    provider_ids: Mapping[str, str] = field(default_factory=dict, hash=False, compare=True)
    archived: bool = False
    nickname: str = ""
    #: An intro offer: the first ``intro_periods`` periods cost ``intro_amount`` ("first
    #: 3 months at €1"), then ``amount``. Applied by every checkout of the price.
    intro_amount: int | None = None
    intro_periods: int = 0
    #: A gift price: a one-off sale of this many months of ``tier`` for someone else to
    #: redeem (see :mod:`membership_sdk.gifts`); ``None`` for every other price.
    gift_months: int | None = None
    #: Member prices of a one-off item: tier slug -> what members of that tier (or of a
    #: tier ranked as high or higher) pay instead of ``amount`` ("€9, members €5"); see
    #: :mod:`membership_sdk.member_prices`.
    member_amounts: Mapping[str, int] = field(default_factory=dict, hash=False, compare=True)

    def __post_init__(self) -> None:
        _check_slug("price", self.id)
        if self.gift_months is not None:
            self._check_gift()
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise InvalidAmount(
                f"price {self.id!r}: amount must be an integer in minor units, got {self.amount!r}"
            )
        if self.amount <= 0:
            raise InvalidAmount(
                f"price {self.id!r}: amount must be positive, got {self.amount}; "
                "grant free access with a free tier or a comp instead"
            )
        object.__setattr__(self, "currency", normalize_currency(self.currency))
        object.__setattr__(self, "interval", Interval(self.interval))
        if (self.tier is None) == (self.item is None):
            raise CatalogError(f"price {self.id!r}: set exactly one of tier= or item=")
        if self.item is not None and self.interval is not Interval.ONE_OFF:
            raise CatalogError(f"price {self.id!r}: an item price must be one_off")
        if not isinstance(self.trial_days, int) or self.trial_days < 0:
            raise CatalogError(
                f"price {self.id!r}: trial_days must be >= 0, got {self.trial_days!r}"
            )
        if self.trial_days and self.interval is Interval.ONE_OFF:
            raise CatalogError(f"price {self.id!r}: a one-off price cannot have a trial")
        object.__setattr__(self, "provider_ids", dict(self.provider_ids))
        self._check_intro()
        if self.member_amounts:
            self._check_member_amounts()

    def _check_gift(self) -> None:
        months = self.gift_months
        if not isinstance(months, int) or isinstance(months, bool) or not 1 <= months <= 36:
            raise CatalogError(
                f"price {self.id!r}: gift_months must be a whole number of months from 1 "
                f"to 36, got {months!r}"
            )
        # Compared by value: __post_init__ runs this before it normalises ``interval``.
        if self.tier is None or self.interval != Interval.ONE_OFF:
            raise CatalogError(
                f"price {self.id!r}: a gift price sells months of a tier once; it needs "
                f"tier= and interval='one_off', got tier={self.tier!r}, "
                f"interval={str(self.interval)!r}"
            )

    def _check_intro(self) -> None:
        amount, periods = self.intro_amount, self.intro_periods
        if amount is None and not periods:
            return
        if amount is None or not periods:
            raise CatalogError(
                f"price {self.id!r}: an intro offer needs both intro_amount and intro_periods; "
                f"got intro_amount={amount!r}, intro_periods={periods!r}"
            )
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
            raise InvalidAmount(
                f"price {self.id!r}: intro_amount must be an integer >= 0 in minor units, "
                f"got {amount!r}"
            )
        if amount >= self.amount:
            raise InvalidAmount(
                f"price {self.id!r}: intro_amount {amount} must be below the price's "
                f"amount {self.amount}"
            )
        if not isinstance(periods, int) or isinstance(periods, bool) or periods < 1:
            raise CatalogError(
                f"price {self.id!r}: intro_periods must be a whole number >= 1, got {periods!r}"
            )
        if self.interval is Interval.ONE_OFF:
            raise CatalogError(f"price {self.id!r}: a one-off price cannot have an intro offer")
        if self.trial_days:
            raise CatalogError(
                f"price {self.id!r}: choose a trial or an intro offer, not both "
                f"(trial_days={self.trial_days}, intro_periods={periods})"
            )

    def _check_member_amounts(self) -> None:
        amounts = self.member_amounts
        if not isinstance(amounts, Mapping):
            raise CatalogError(
                f"price {self.id!r}: member_amounts must map tier slugs to amounts, got {amounts!r}"
            )
        if self.item is None:
            raise CatalogError(
                f"price {self.id!r}: member prices are for one-off item prices (item=); "
                f"this price sells tier {self.tier!r}"
            )
        for slug, amount in amounts.items():
            _check_slug("tier", slug)
            if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
                raise InvalidAmount(
                    f"price {self.id!r}: the member price for tier {slug!r} must be a "
                    f"positive integer in minor units, got {amount!r}"
                )
            if amount >= self.amount:
                raise InvalidAmount(
                    f"price {self.id!r}: the member price for tier {slug!r} ({amount}) must "
                    f"be below the price's amount {self.amount}"
                )
        object.__setattr__(self, "member_amounts", dict(amounts))

    @property
    def recurring(self) -> bool:
        return self.interval is not Interval.ONE_OFF

    @property
    def gift(self) -> bool:
        """Whether this price sells a gift (``gift_months`` of its tier) to give away."""
        return self.gift_months is not None

    @property
    def has_intro(self) -> bool:
        """Whether the price has an intro offer (``intro_amount`` for ``intro_periods``)."""
        return self.intro_amount is not None and self.intro_periods > 0


class Duration(StrEnum):
    """How long a coupon's discount lasts: the first period, ``months`` months, or for
    as long as the subscription runs."""

    ONCE = "once"
    REPEATING = "repeating"
    FOREVER = "forever"


def _codes(kind: str, owner: str, values: Iterable[str]) -> tuple[str, ...]:
    if isinstance(values, str):
        raise CatalogError(f"coupon {owner!r}: {kind} must be a list, not one string {values!r}")
    return tuple(dict.fromkeys(values))


@dataclass(frozen=True, slots=True)
class Coupon:
    """A discount a member gets with a code at checkout.

    ``percent_off`` (1..100) or ``amount_off`` (minor units of ``currency``) per period;
    for ``duration``: the first period only (``once``), ``months`` months
    (``repeating``), or ``forever``. ``tiers`` and ``prices`` limit it to those (empty:
    any recurring price). ``max_redemptions`` caps how many members may use it (counted
    through :class:`~membership_sdk.ports.RedemptionStore`), ``expires_at`` ends it,
    ``first_time_only`` keeps it for members who never had a membership, ``member_id``
    (``""``: anyone) for one member (a personal code, see :mod:`membership_sdk.loyalty`).
    ``provider_ids`` maps a provider to its own id for the discount (Stripe: a
    promotion code ``promo_...`` or a coupon id); codes are matched case-insensitively.
    """

    code: str
    percent_off: int | None = None
    amount_off: int | None = None
    currency: str | None = None
    duration: Duration = Duration.ONCE
    months: int | None = None
    tiers: tuple[str, ...] = ()
    prices: tuple[str, ...] = ()
    max_redemptions: int | None = None
    expires_at: datetime | None = None
    first_time_only: bool = False
    provider_ids: Mapping[str, str] = field(default_factory=dict, hash=False, compare=True)
    name: str = ""
    member_id: str = ""

    def __post_init__(self) -> None:
        code = self.code
        if not isinstance(code, str) or not code.strip() or len(code) > 64:
            raise CatalogError(f"invalid coupon code {code!r}; expected 1..64 characters")
        if code != code.strip() or any(c.isspace() for c in code):
            raise CatalogError(f"coupon code {code!r} may not contain spaces")
        if (self.percent_off is None) == (self.amount_off is None):
            raise CatalogError(
                f"coupon {self.code!r}: set exactly one of percent_off or amount_off"
            )
        if self.percent_off is not None and not 0 < self.percent_off <= 100:
            raise InvalidAmount(f"coupon {self.code!r}: percent_off must be 1..100")
        if self.amount_off is not None:
            if self.amount_off <= 0:
                raise InvalidAmount(f"coupon {self.code!r}: amount_off must be positive")
            object.__setattr__(self, "currency", normalize_currency(self.currency))
        try:
            duration = Duration(self.duration)
        except ValueError:
            raise CatalogError(
                f"coupon {self.code!r}: duration must be one of "
                f"{', '.join(d.value for d in Duration)}; got {self.duration!r}"
            ) from None
        object.__setattr__(self, "duration", duration)
        if duration is Duration.REPEATING:
            if not isinstance(self.months, int) or isinstance(self.months, bool) or self.months < 1:
                raise CatalogError(
                    f"coupon {self.code!r}: a repeating coupon needs months >= 1, "
                    f"got {self.months!r}"
                )
        elif self.months is not None:
            raise CatalogError(
                f"coupon {self.code!r}: months is only for a repeating coupon, "
                f"not for one that lasts {duration.value!r}"
            )
        if self.max_redemptions is not None and (
            not isinstance(self.max_redemptions, int) or self.max_redemptions < 1
        ):
            raise CatalogError(
                f"coupon {self.code!r}: max_redemptions must be >= 1 or None, "
                f"got {self.max_redemptions!r}"
            )
        if self.expires_at is not None and self.expires_at.tzinfo is None:
            raise CatalogError(
                f"coupon {self.code!r}: expires_at must be an aware datetime, "
                f"got {self.expires_at!r}"
            )
        object.__setattr__(self, "tiers", _codes("tiers", code, self.tiers))
        object.__setattr__(self, "prices", _codes("prices", code, self.prices))
        object.__setattr__(self, "provider_ids", dict(self.provider_ids))

    def applies_to(self, price: Price) -> bool:
        """Whether the coupon may discount ``price``: a recurring price, of one of
        ``tiers`` or ``prices`` when it names any."""
        if not price.recurring:
            return False
        if not self.tiers and not self.prices:
            return True
        return price.id in self.prices or (price.tier is not None and price.tier in self.tiers)

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at


class OfferKind(StrEnum):
    TIER = "tier"
    PURCHASE = "purchase"


@dataclass(frozen=True, slots=True)
class Offer:
    """Something a visitor can buy to unlock a resource: a tier or a single item."""

    kind: OfferKind
    slug: str
    name: str
    prices: tuple[Price, ...]


class Catalog:
    """Every tier, price and coupon of a site. Built once, then read-only."""

    def __init__(
        self,
        tiers: Iterable[Tier] = (),
        prices: Iterable[Price] = (),
        coupons: Iterable[Coupon] = (),
        *,
        items: Mapping[str, str] | None = None,
        usage: Iterable[UsageRate] = (),
    ) -> None:
        self._usage: dict[str, UsageRate] = {}
        for rate in usage:  # usage-based add-ons (membership_sdk.usage)
            if rate.meter in self._usage:
                raise DuplicateSlug(f"two usage rates for meter {rate.meter!r}")
            self._usage[rate.meter] = rate
        self._tiers: dict[str, Tier] = {}
        for tier in tiers:
            if tier.slug in self._tiers:
                raise DuplicateSlug(f"duplicate tier slug {tier.slug!r}")
            self._tiers[tier.slug] = tier
        self._prices: dict[str, Price] = {}
        self._by_provider: dict[tuple[str, str], Price] = {}
        for price in prices:
            if price.id in self._prices:
                raise DuplicateSlug(f"duplicate price id {price.id!r}")
            if price.tier is not None and price.tier not in self._tiers:
                raise UnknownTier(
                    f"price {price.id!r} is for tier {price.tier!r}, which is not in the catalog; "
                    f"known tiers: {sorted(self._tiers)}"
                )
            for provider, external_id in price.provider_ids.items():
                if (provider, external_id) in self._by_provider:
                    raise DuplicateSlug(
                        f"{provider} price id {external_id!r} is used by both "
                        f"{self._by_provider[provider, external_id].id!r} and {price.id!r}"
                    )
                self._by_provider[provider, external_id] = price
            for slug in price.member_amounts:
                if slug not in self._tiers:
                    raise UnknownTier(
                        f"price {price.id!r} has a member price for tier {slug!r}, which is "
                        f"not in the catalog; known tiers: {sorted(self._tiers)}"
                    )
            self._prices[price.id] = price
        self._coupons: dict[str, Coupon] = {}
        for coupon in coupons:
            # Codes are typed by readers: SPRING, spring and Spring are one code.
            folded = coupon.code.casefold()
            if folded in self._coupons:
                raise DuplicateSlug(f"duplicate coupon code {coupon.code!r}")
            for slug in coupon.tiers:
                if slug not in self._tiers:
                    raise UnknownTier(
                        f"coupon {coupon.code!r} is for tier {slug!r}, which is not in the "
                        f"catalog; known tiers: {sorted(self._tiers)}"
                    )
            for price_id in coupon.prices:
                if price_id not in self._prices:
                    raise UnknownPrice(
                        f"coupon {coupon.code!r} is for price {price_id!r}, which is not in "
                        "the catalog"
                    )
            self._coupons[folded] = coupon
        #: Display names of purchasable items, by item key.
        self.items: dict[str, str] = dict(items or {})
        self.rank_of: dict[str, int] = {t.slug: t.rank for t in self._tiers.values()}
        self._offers_from_rank: dict[int, tuple[Offer, ...]] = {}
        self._offers_for_tiers: dict[frozenset[str], tuple[Offer, ...]] = {}
        self._item_offers: dict[str, tuple[Offer, ...]] = {}

    # -- lookups ---------------------------------------------------------------------------
    @property
    def tiers(self) -> tuple[Tier, ...]:
        """Tiers ordered by rank, then slug."""
        return tuple(sorted(self._tiers.values(), key=lambda t: (t.rank, t.slug)))

    @property
    def prices(self) -> tuple[Price, ...]:
        return tuple(self._prices.values())

    def tier(self, slug: str) -> Tier:
        try:
            return self._tiers[slug]
        except KeyError:
            raise UnknownTier(
                f"unknown tier {slug!r}; known tiers: {sorted(self._tiers)}"
            ) from None

    def price(self, price_id: str, *, include_archived: bool = False) -> Price:
        """The price with ``price_id``; archived prices only with ``include_archived``."""
        price = self._prices.get(price_id)
        if price is None or (price.archived and not include_archived):
            state = "archived" if price is not None else "not in the catalog"
            raise UnknownPrice(f"unknown price {price_id!r}: it is {state}")
        return price

    def price_for_provider(self, provider: str, external_id: str) -> Price | None:
        """Our price for a provider's price id, or ``None`` for a foreign price."""
        return self._by_provider.get((provider, external_id))

    def coupon(self, code: str) -> Coupon | None:
        """The coupon with ``code`` (any case, surrounding spaces ignored), or ``None``."""
        return self._coupons.get(code.strip().casefold())

    @property
    def coupons(self) -> tuple[Coupon, ...]:
        return tuple(self._coupons.values())

    def prices_for_tier(self, slug: str) -> tuple[Price, ...]:
        """The tier's prices on sale to members themselves (not gift prices: buying one
        unlocks nothing for the buyer; see :meth:`gift_prices`)."""
        return tuple(
            p
            for p in self._prices.values()
            if p.tier == slug and not p.archived and p.gift_months is None
        )

    def gift_prices(self, tier: str | None = None) -> tuple[Price, ...]:
        """Gift prices on sale (of ``tier``, or of every tier): by tier rank, then months."""
        return tuple(
            sorted(
                (
                    p
                    for p in self._prices.values()
                    if p.gift_months is not None
                    and not p.archived
                    and (tier is None or p.tier == tier)
                ),
                key=lambda p: (self.rank_of.get(p.tier or "", 0), p.tier or "", p.gift_months),
            )
        )

    def prices_for_item(self, item: str) -> tuple[Price, ...]:
        return tuple(p for p in self._prices.values() if p.item == item and not p.archived)

    @property
    def usage_rates(self) -> tuple[UsageRate, ...]:
        """The usage-based add-ons (see :mod:`membership_sdk.usage`), by meter key."""
        rates = self._rates()
        return tuple(rates[k] for k in sorted(rates))

    def _rates(self) -> dict[str, UsageRate]:
        # A catalog pickled before usage rates existed has none.
        rates: dict[str, UsageRate] = self.__dict__.get("_usage", {})
        return rates

    def usage_rate(self, meter: str) -> UsageRate | None:
        """The usage rate of ``meter`` (an entitlement key), or ``None``."""
        return self._rates().get(meter)

    def usage_rates_for_tier(self, slug: str) -> tuple[UsageRate, ...]:
        """The usage rates of the metered entitlements tier ``slug`` includes."""
        tier = self._tiers.get(slug)
        if tier is None:
            return ()
        rates = self._rates()
        return tuple(rates[e.key] for e in tier.entitlements if e.key in rates)

    @cached_property
    def free_tier(self) -> Tier | None:
        """The lowest-ranked tier that has no price, which every registered member holds."""
        priced = {p.tier for p in self._prices.values()}
        free = [t for t in self.tiers if t.slug not in priced]
        return free[0] if free else None

    # -- offers (cached: asked on every denied decision) ------------------------------------
    def _tier_offer(self, tier: Tier) -> Offer:
        return Offer(OfferKind.TIER, tier.slug, tier.name, self.prices_for_tier(tier.slug))

    def offers_from_rank(self, rank: int) -> tuple[Offer, ...]:
        """Offers of every priced tier with at least ``rank``, cheapest rank first."""
        offers = self._offers_from_rank.get(rank)
        if offers is None:
            offers = tuple(
                self._tier_offer(t)
                for t in self.tiers
                if t.rank >= rank and self.prices_for_tier(t.slug)
            )
            self._offers_from_rank[rank] = offers
        return offers

    def offers_for_tiers(self, slugs: frozenset[str]) -> tuple[Offer, ...]:
        offers = self._offers_for_tiers.get(slugs)
        if offers is None:
            offers = tuple(
                self._tier_offer(t)
                for t in self.tiers
                if t.slug in slugs and self.prices_for_tier(t.slug)
            )
            self._offers_for_tiers[slugs] = offers
        return offers

    def offers_for_entitlement(self, key: str) -> tuple[Offer, ...]:
        return self.offers_for_tiers(
            frozenset(t.slug for t in self.tiers if any(e.key == key for e in t.entitlements))
        )

    def offers_for_item(self, item: str) -> tuple[Offer, ...]:
        offers = self._item_offers.get(item)
        if offers is None:
            prices = self.prices_for_item(item)
            name = self.items.get(item, item)
            offers = (Offer(OfferKind.PURCHASE, item, name, prices),) if prices else ()
            self._item_offers[item] = offers
        return offers
