"""The built-in ``stripe`` payment provider, registered exactly like a third-party plugin.

It registers a :class:`StripeProvider` when the provider config has a ``"stripe"`` entry::

    MembershipProgram(catalog, store, provider_config={
        "stripe": {"api_key": "sk_test_...", "webhook_secret": "whsec_..."},
    })

This module imports without the ``stripe`` package; configuring Stripe without it raises
a :class:`~membership_sdk.errors.PluginError` naming the ``stripe`` extra. See
``docs/stripe.md`` for keys, webhook secrets and the events to send.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from typing import Any

from ...errors import PluginError
from ...hookspecs import hookimpl
from ..base import Provider
from .provider import (
    LIVE_KEY_PREFIXES,
    WEBHOOK_EVENTS,
    StripeProvider,
    livemode_of,
)
from .translate import STATUS_MAP, map_status

__all__ = [
    "LIVE_KEY_PREFIXES",
    "STATUS_MAP",
    "WEBHOOK_EVENTS",
    "StripeProvider",
    "livemode_of",
    "map_status",
    "membership_register_providers",
]


@hookimpl
def membership_register_providers(
    register: Callable[[Provider], None], config: Mapping[str, Mapping[str, Any]]
) -> None:
    """Register a :class:`StripeProvider` when ``config["stripe"]`` has settings."""
    settings = config.get("stripe")
    if not settings:
        return
    if importlib.util.find_spec("stripe") is None:
        raise PluginError(
            "Stripe is configured but the 'stripe' package is not installed; "
            "install the extra: pip install 'membership-sdk[stripe]'"
        )
    register(StripeProvider.from_config(settings))
