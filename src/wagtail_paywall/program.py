"""The site's :class:`~membership_sdk.MembershipProgram`, built lazily once per process.

The catalog comes from the :class:`~wagtail_paywall.models.Tier` and
:class:`~wagtail_paywall.models.Price` rows. It is kept in the Django cache under a
generation token that every tier or price change replaces, so each process rebuilds
its catalog the first time it notices the change, and a fresh process usually needs
no query at all to get it. See ``docs/wagtail.md`` (Storage and migrations) and ``docs/plugins.md``.
"""

from __future__ import annotations

import importlib
import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta
from typing import Any

from django.utils.module_loading import import_string

from membership_sdk import Catalog, MembershipProgram, get_plugin_manager, hookimpl
from membership_sdk import Coupon as CoreCoupon
from membership_sdk.errors import CatalogError
from membership_sdk.plugins import DEFAULT_PLUGINS

from . import conf, experiments
from .caching import cache, invalidate_member
from .manual_store import DjangoManualBilling
from .models import Coupon, Price, Tier
from .models.usage import rates as usage_rates
from .store import DjangoRedemptions, DjangoStore

CATALOG_GEN_KEY = "paywall:catalog:gen"
CATALOG_KEY = "paywall:catalog:{gen}"

_lock = threading.Lock()
_program: MembershipProgram | None = None
_catalog_gen: str | None = None
# Within one request (see :func:`request_scope`) the catalog is checked once: its cell
# holds the program the first get_program() of the request returned.
logger = logging.getLogger(__name__)

_request_cell: ContextVar[list[MembershipProgram | None] | None] = ContextVar(
    "paywall_request_program", default=None
)


class CacheInvalidation:
    """Drops a member's cached access context whenever the core reports a change."""

    @hookimpl
    def membership_access_changed(self, member_id: str) -> None:
        invalidate_member(member_id)


def load_catalog() -> Catalog:
    """Build the catalog from the database (tiers, prices, and coupons with their limits)."""
    tiers = list(Tier.objects.all())
    slugs = {t.pk: t.slug for t in tiers}
    prices = list(Price.objects.all())
    items = {p.item: p.item_name for p in prices if p.item and p.item_name}
    keys = {p.pk: p.key for p in prices}
    coupons = _coupons(slugs, keys)
    return Catalog(
        [t.to_core() for t in tiers],
        [
            p.to_core(slugs.get(p.tier_id) if p.tier_id else None, tiers=set(slugs.values()))
            for p in prices
        ],
        coupons,
        items=items,
        usage=usage_rates(),  # usage-based add-ons (docs/usage.md)
    )


def _coupons(slugs: dict[Any, str], keys: dict[Any, str]) -> list[CoreCoupon]:
    """Every coupon the catalog can hold. A row the admin's validation would refuse (made
    in a shell or by a migration: a code clashing with another in any case, bad terms) is
    left out and logged, so one bad coupon never stops every page that loads the catalog."""
    coupons: dict[str, CoreCoupon] = {}
    for row in Coupon.objects.prefetch_related("tiers", "prices").order_by("pk"):
        try:
            coupon = row.to_core(
                [slugs[t.pk] for t in row.tiers.all() if t.pk in slugs],
                [keys[p.pk] for p in row.prices.all() if p.pk in keys],
            )
        except CatalogError as exc:
            logger.error("coupon %r left out of the catalog: %s", row.code, exc)
            continue
        folded = coupon.code.strip().casefold()
        if folded in coupons:
            logger.error(
                "coupon %r left out of the catalog: its code is %r in another case",
                row.code,
                coupons[folded].code,
            )
            continue
        coupons[folded] = coupon
    return list(coupons.values())


def _current_catalog() -> tuple[str, Catalog]:
    store = cache()
    gen = store.get(CATALOG_GEN_KEY)
    if gen is None:
        gen = uuid.uuid4().hex
        store.add(CATALOG_GEN_KEY, gen, None)
        gen = store.get(CATALOG_GEN_KEY, gen)
    catalog = store.get(CATALOG_KEY.format(gen=gen))
    if not isinstance(catalog, Catalog):
        catalog = load_catalog()
        store.set(CATALOG_KEY.format(gen=gen), catalog, None)
    return gen, catalog


def _unconfigured_built_ins() -> list[str]:
    """Built-in providers the site did not configure: not even loaded (the program also
    registers only configured providers, installed third-party ones included)."""
    configured = conf.providers()
    return [name for name, _module in DEFAULT_PLUGINS if name not in configured]


def _with_stores(config: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The providers' settings, the ``manual`` provider's given the database as its
    ``store`` (unless the site set one), so its invoices outlive the process."""
    if "manual" in config and "store" not in config["manual"]:
        config["manual"] = {**config["manual"], "store": DjangoManualBilling()}
    return config


#: The adapter's own plugins, registered on every site's program besides
#: ``PAYWALL["PLUGINS"]``: the app's ``ready()`` adds the lifecycle emails
#: (:mod:`wagtail_paywall.billing.emails`). Block one by its module path in
#: ``MEMBERSHIP_SDK_DISABLED_PLUGINS``.
adapter_plugins: list[Any] = []


def _load_plugin(path: str) -> Any:
    """The module, or the object in a module, that the dotted ``path`` names."""
    try:
        return importlib.import_module(path)
    except ModuleNotFoundError as exc:
        if exc.name != path:
            raise  # the module exists but imports something missing: say so
        return import_string(path)


def _plugins() -> list[Any]:
    own = list(adapter_plugins)
    extra = [_load_plugin(path) for path in conf.get("PLUGINS")]
    return [CacheInvalidation(), *own, *(p for p in extra if p not in own)]


def plugin_manager() -> Any:
    """The site's plugin manager: the core's built-ins the site configured, installed
    providers, the adapter's own plugins and ``PAYWALL["PLUGINS"]``."""
    return get_plugin_manager(plugins=_plugins(), blocked=_unconfigured_built_ins())


def get_program() -> MembershipProgram:
    """The process's program; its catalog is refreshed when tiers or prices changed."""
    return get_program_reading()[0]


def get_program_reading(*keys: str) -> tuple[MembershipProgram, dict[str, Any]]:
    """:func:`get_program`, also reading ``keys`` from the cache in the same round trip.

    The catalog check and a member's cache generation then cost one ``get_many`` (one
    round trip to Redis) instead of two.
    """
    cell = _request_cell.get()
    if cell is not None and cell[0] is not None:
        return cell[0], (cache().get_many(keys) if keys else {})
    program, values = _checked_program(keys)
    if cell is not None:
        cell[0] = program
    return program, values


@contextmanager
def request_scope() -> Iterator[None]:
    """Check the catalog at most once while the block runs (one request).

    Every :func:`get_program` call reads the catalog generation from the cache, which is
    a round trip to Redis in production; a request asks several times (the gate, the
    template tags, the views), and one answer per request is enough.
    :class:`~wagtail_paywall.middleware.PaywallMiddleware` opens this scope.
    """
    token = _request_cell.set([None])
    try:
        yield
    finally:
        _request_cell.reset(token)


def _checked_program(keys: tuple[str, ...] = ()) -> tuple[MembershipProgram, dict[str, Any]]:
    global _program, _catalog_gen
    values: dict[str, Any] = cache().get_many([CATALOG_GEN_KEY, *keys])
    gen = values.pop(CATALOG_GEN_KEY, None)
    program = _program
    if program is not None and gen is not None and gen == _catalog_gen:
        return program, values
    with _lock:
        gen, catalog = _current_catalog()
        experiments.reload(gen)  # the A/B tests' set-up changes with the catalog's token
        if _program is None:
            _program = MembershipProgram(
                catalog,
                DjangoStore(),
                pm=plugin_manager(),
                provider_config=_with_stores(conf.providers()),
                # Public development secrets only in explicit development mode, and only
                # the providers the site configured (an installed one it did not
                # configure has no webhook endpoint and sells nothing).
                development=conf.development_mode(),
                configured_only=True,
                grace=timedelta(days=conf.get("GRACE_DAYS")),
                on_refund=conf.get("ON_REFUND"),
                on_dispute_lost=conf.get("ON_DISPUTE_LOST"),
                pause_access=conf.get("PAUSE_ACCESS"),
                redemptions=DjangoRedemptions(),
            )
        else:
            _program.catalog = catalog
        _catalog_gen = gen
        return _program, values


def catalog_changed() -> None:
    """Tell every process to rebuild its catalog (called when a tier or price changes)."""
    cache().set(CATALOG_GEN_KEY, uuid.uuid4().hex, None)
    _forget_for_this_request()


def _forget_for_this_request() -> None:
    cell = _request_cell.get()
    if cell is not None:
        cell[0] = None


def reset_program() -> None:
    """Forget the process's program (tests call this after changing settings)."""
    global _program, _catalog_gen
    _forget_for_this_request()
    with _lock:
        _program = None
        _catalog_gen = None
