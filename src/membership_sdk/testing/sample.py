"""A small catalog and program to try a provider against."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pluggy

from ..catalog import Catalog, Interval, Price, Tier
from ..entitlements import Entitlement
from ..errors import PluginError
from ..memory import MemoryStore
from ..plugins import get_plugin_manager
from ..program import MembershipProgram

#: The tier a sample catalog's paid prices sell, and the entitlement it carries.
SAMPLE_TIER = "gold"
SAMPLE_ENTITLEMENT = "content.premium"


def sample_catalog(
    provider: str,
    *,
    monthly: str | None = None,
    yearly: str | None = None,
    one_off: str | None = None,
    trial_days: int = 0,
) -> Catalog:
    """A catalog with a free tier and a ``gold`` tier, whose prices are sold through
    ``provider`` under the given provider price ids.

    Our price ids are ``gold-monthly`` (EUR 9.99), ``gold-yearly`` (EUR 99.00) and
    ``report`` (EUR 4.50, one-off purchase of the item ``report``); only those given a
    provider id are included.
    """
    prices = []
    if monthly is not None:
        prices.append(
            Price("gold-monthly", 999, "EUR", Interval.MONTH, tier=SAMPLE_TIER,
                  trial_days=trial_days, provider_ids={provider: monthly})
        )  # fmt: skip
    if yearly is not None:
        prices.append(
            Price("gold-yearly", 9900, "EUR", Interval.YEAR, tier=SAMPLE_TIER,
                  provider_ids={provider: yearly})
        )  # fmt: skip
    if one_off is not None:
        prices.append(
            Price("report", 450, "EUR", Interval.ONE_OFF, item="report",
                  provider_ids={provider: one_off})
        )  # fmt: skip
    tiers = [
        Tier("free", "Free", 0),
        Tier(SAMPLE_TIER, "Gold", 10, entitlements=(Entitlement.parse(SAMPLE_ENTITLEMENT),)),
    ]
    return Catalog(tiers, prices, items={"report": "The annual report"})


def sample_program(
    catalog: Catalog,
    *,
    config: Mapping[str, Mapping[str, Any]] | None = None,
    plugins: Iterable[object] = (),
    store: MemoryStore | None = None,
    development: bool = True,
) -> MembershipProgram:
    """A program over ``catalog`` with an in-memory store, the built-in and installed
    plugins, and ``plugins`` (a :class:`~membership_sdk.testing.recorder.HookRecorder`,
    or a provider plugin not installed yet; one already installed is not added twice).

    It runs in development mode unless ``development`` is false: providers may verify
    webhooks with their public development secrets, as a test of a provider needs."""
    pm = get_plugin_manager()
    for plugin in plugins:
        if not pm.is_registered(plugin):
            pm.register(plugin)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"a plugin implements an unknown hook: {exc}") from exc
    return MembershipProgram(
        catalog, store or MemoryStore(), pm=pm, provider_config=config, development=development
    )
