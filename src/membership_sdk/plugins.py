"""Building the plugin manager and the provider registry.

Nothing here runs at import time: call :func:`get_plugin_manager`, then
:class:`Providers` with it.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeVar, overload

import pluggy

from . import hookspecs
from .errors import PluginError, UnknownProvider, UnknownSetting
from .providers.base import Provider
from .providers.settings import SettingsSpec

_T = TypeVar("_T")

#: The pluggy project name and the entry-point group third-party providers use.
PROJECT = "membership_sdk"
ENTRY_POINT_GROUP = "membership_sdk.providers"
#: Environment variable with a comma-separated list of plugin names to block.
DISABLED_ENV = "MEMBERSHIP_SDK_DISABLED_PLUGINS"

#: Built-in plugins, registered exactly as third-party ones are.
DEFAULT_PLUGINS: tuple[tuple[str, str], ...] = (
    ("fake", "membership_sdk.providers.fake"),
    ("manual", "membership_sdk.providers.manual"),
    ("stripe", "membership_sdk.providers.stripe"),
)


def get_plugin_manager(
    *,
    blocked: Iterable[str] = (),
    plugins: Iterable[object] = (),
    load_entrypoints: bool = True,
) -> pluggy.PluginManager:
    """Build a plugin manager with the built-in and installed plugins.

    :param blocked: plugin names never to register (adds to ``MEMBERSHIP_SDK_DISABLED_PLUGINS``).
    :param plugins: extra plugin objects to register (modules or instances).
    :param load_entrypoints: also load the ``membership_sdk.providers`` entry points.
    :raises PluginError: when a plugin implements a hook that does not exist, or asks a
        hook for arguments it does not offer.
    """
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    env = os.environ.get(DISABLED_ENV, "")
    for name in [*blocked, *(n.strip() for n in env.split(",") if n.strip())]:
        pm.set_blocked(name)
    try:
        for name, module in DEFAULT_PLUGINS:
            if not pm.is_blocked(name):
                pm.register(importlib.import_module(module), name)
        if load_entrypoints:
            pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        for plugin in plugins:
            pm.register(plugin)
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        # Name the plugin and what pluggy found wrong (an unknown hook, or a hookimpl
        # asking for arguments its hookspec does not offer).
        raise PluginError(f"plugin {exc.plugin!r} does not fit the SDK's hooks: {exc}") from exc
    return pm


_REQUIRED = (
    "create_checkout",
    "parse_webhook",
    "fetch_subscription",
    "cancel_subscription",
    "resume_subscription",
    "portal_url",
)


class Providers(Mapping[str, Provider]):
    """The providers registered through ``membership_register_providers``, by name.

    Each provider's settings are held to its own declaration (``settings_spec``):

    - a provider whose settings hold a key it does not declare is *withheld* (not
      registered; :attr:`withheld` says why, naming the key and the keys it reads): a
      misspelt secret must never leave the provider on a default;
    - so is a provider receiving webhooks without a secret of the site's own: one that
      would verify nothing, and, unless ``development`` is on, one that would verify
      with its public development default, since anyone can read it and sign a webhook
      granting access.

    Asking for a withheld provider raises :class:`~membership_sdk.errors.UnknownProvider`
    saying why; the rest of the site's providers keep working.

    :param config: each provider's settings by name (``provider_config``).
    :param development: development mode, which the host turns on explicitly (the Wagtail
        adapter: ``DEBUG`` and ``PAYWALL["DEVELOPMENT_MODE"]``): providers may then fall
        back to their public development secrets. Never on where real members pay.
    :param configured_only: register only providers ``config`` names; an installed provider
        the site did not configure is withheld.
    :raises PluginError: a provider is malformed or two share a name, or a webhook
        secret is not a string.
    """

    def __init__(
        self,
        pm: pluggy.PluginManager,
        config: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        development: bool = False,
        configured_only: bool = False,
    ) -> None:
        self._providers: dict[str, Provider] = {}
        self._config: Mapping[str, Mapping[str, Any]] = config or {}
        self.development = development
        self.configured_only = configured_only
        #: Providers that registered but were not taken, by name: why, in a sentence.
        self.withheld: dict[str, str] = {}
        #: The declaration of every provider that registered, taken or withheld, by name
        #: (what a host checks a site's settings against).
        self.specs: dict[str, SettingsSpec] = {}
        pm.hook.membership_register_providers(register=self._register, config=self._config)

    def _register(self, provider: Provider) -> None:
        name = getattr(provider, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginError(f"provider {provider!r} has no name; expected a non-empty str")
        missing = [m for m in _REQUIRED if not callable(getattr(provider, m, None))]
        if missing or not hasattr(provider, "refetch_subscriptions"):
            missing += (
                [] if hasattr(provider, "refetch_subscriptions") else ["refetch_subscriptions"]
            )
            raise PluginError(f"provider {name!r} lacks {', '.join(missing)}")
        spec = getattr(provider, "settings_spec", None)
        if not isinstance(spec, SettingsSpec):
            got = "none" if spec is None else f"a {type(spec).__name__}"
            raise PluginError(
                f"provider {name!r} has {got} as settings_spec; expected a "
                "membership_sdk.providers.SettingsSpec declaring every setting it reads "
                "(its secrets, development defaults and whether it receives webhooks)"
            )
        if name in self._providers or name in self.withheld:
            other = self._providers.get(name, "another provider")
            raise PluginError(f"two providers are named {name!r}: {other!r} and {provider!r}")
        self.specs[name] = spec
        if self.configured_only and name not in self._config:
            self.withheld[name] = "it is installed but not configured"
            return
        settings = self._config.get(name) or {}
        try:
            spec.check_keys(settings, name)
            problem = spec.webhook_secret_problem(settings, development=self.development)
        except UnknownSetting as exc:
            problem = exc.args[0]
        if problem is not None:
            self.withheld[name] = problem
            return
        self._providers[name] = provider

    def __getitem__(self, name: str) -> Provider:
        try:
            return self._providers[name]
        except KeyError:
            why = self.withheld.get(name)
            if why is not None:
                raise UnknownProvider(
                    f"payment provider {name!r} is not available: {why}; "
                    f"registered: {sorted(self._providers)}"
                ) from None
            raise UnknownProvider(
                f"no payment provider named {name!r}; registered: {sorted(self._providers)}"
            ) from None

    # Mapping's own get() and `in` catch KeyError only, and UnknownProvider is not one.
    def __contains__(self, name: object) -> bool:
        return name in self._providers

    @overload
    def get(self, name: str, /) -> Provider | None: ...
    @overload
    def get(self, name: str, /, default: Provider | _T) -> Provider | _T: ...
    def get(self, name: str, /, default: object = None) -> object:
        return self._providers.get(name, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._providers)

    def __len__(self) -> int:
        return len(self._providers)
