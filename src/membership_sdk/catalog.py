"""The catalog: tiers, their prices, coupons and the offers that unlock content.

All values are immutable. A :class:`Catalog` validates itself when built: duplicate
slugs, prices of unknown tiers and invalid amounts are rejected with a message that
names them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property

from .currency import normalize_currency
from .entitlements import Entitlement
from .errors import CatalogError, DuplicateSlug, InvalidAmount, UnknownPrice, UnknownTier

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

    def __post_init__(self) -> None:
        _check_slug("price", self.id)
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

    @property
    def recurring(self) -> bool:
        return self.interval is not Interval.ONE_OFF


@dataclass(frozen=True, slots=True)
class Coupon:
    """A discount a provider applies at checkout (``percent_off`` or ``amount_off``)."""

    code: str
    percent_off: int | None = None
    amount_off: int | None = None
    currency: str | None = None

    def __post_init__(self) -> None:
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
    ) -> None:
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
            self._prices[price.id] = price
        self._coupons: dict[str, Coupon] = {}
        for coupon in coupons:
            if coupon.code in self._coupons:
                raise DuplicateSlug(f"duplicate coupon code {coupon.code!r}")
            self._coupons[coupon.code] = coupon
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
        return self._coupons.get(code)

    def prices_for_tier(self, slug: str) -> tuple[Price, ...]:
        return tuple(p for p in self._prices.values() if p.tier == slug and not p.archived)

    def prices_for_item(self, item: str) -> tuple[Price, ...]:
        return tuple(p for p in self._prices.values() if p.item == item and not p.archived)

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
