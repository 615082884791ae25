"""What a payment provider reads from its settings, declared by the provider itself.

Every provider carries a :class:`SettingsSpec` as its ``settings_spec`` class attribute,
naming each key it reads from ``provider_config[name]``: which keys are credentials,
which verify webhook signatures, which public value it falls back to in development,
and which values move real money::

    settings_spec = SettingsSpec(
        (
            Setting("api_key", "the secret API key", secret=True, required=True,
                    live_prefixes=("live_",)),
            Setting("webhook_secret", "signs webhooks", secret=True, verifies_webhooks=True),
            Setting("redirect_url", "where the payment page sends readers back"),
        ),
        receives_webhooks=True,
    )

Hosts read the declaration instead of knowing providers by name. The registry
(:class:`~membership_sdk.plugins.Providers`) withholds a provider whose settings hold a
key it does not declare (:meth:`SettingsSpec.check_keys`), and a webhook-receiving
provider without a secret of the site's own (:meth:`SettingsSpec.webhook_secret_problem`):
one that would verify with its public development default is taken only in
*development mode*, which the host turns on explicitly. The Wagtail adapter's system
checks report the same problems before a site starts.

The contract suite (:mod:`membership_sdk.testing`) checks that a provider behaves as it
declares: every webhook-secret key is really read and replaces the public default, a
public development default verifies only in development mode, every required key is
really required, and live prefixes tell live values from test ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import PluginError, UnknownSetting

__all__ = ["GENERIC_KEYS", "Setting", "SettingsSpec"]

#: Keys any provider's settings may carry without declaring them (see
#: :meth:`SettingsSpec.is_live`).
GENERIC_KEYS = frozenset({"livemode"})


@dataclass(frozen=True, slots=True)
class Setting:
    """One key of a provider's settings (``provider_config[name][key]``).

    :param key: the key, as a site writes it in its settings.
    :param help: one line for documentation and check hints.
    :param secret: a credential, for hosts to keep out of anything they show (the
        Wagtail adapter never prints a provider's settings). It does not make the
        setting required: ``required`` does, and hosts' checks require webhook secrets.
    :param many: the value is a list (for example several secrets while one is rotated).
    :param verifies_webhooks: a webhook signing secret. Implies ``secret``.
    :param required: the provider cannot be built without it.
    :param dev_default: the *public* value the provider falls back to when the key is
        unset; for development only, since anyone can read it.
    :param live_prefixes: a value beginning with one of these moves real money (Stripe:
        ``("sk_live_", "rk_live_")``).
    :raises PluginError: the key is empty, or a webhook secret is not marked ``secret``.
    """

    key: str
    help: str = ""
    secret: bool = False
    many: bool = False
    verifies_webhooks: bool = False
    required: bool = False
    dev_default: str | None = None
    live_prefixes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key:
            raise PluginError(f"a setting needs a non-empty key; got {self.key!r}")
        if self.verifies_webhooks and not self.secret:
            raise PluginError(
                f"setting {self.key!r} verifies webhooks but is not marked secret=True; "
                "a signing secret is a credential and must never be shown"
            )
        if isinstance(self.live_prefixes, str):
            raise PluginError(
                f"setting {self.key!r}: live_prefixes must be a tuple of prefixes, "
                f"got the string {self.live_prefixes!r}"
            )

    def values(self, config: Mapping[str, Any]) -> list[Any]:
        """The non-empty value(s) ``config`` holds under this key, a list flattened."""
        value = config.get(self.key)
        if value is None or value == "":
            return []
        if self.many and not isinstance(value, str | bytes):
            try:
                items = list(value)
            except TypeError:
                items = [value]
        else:
            items = [value]
        return [item for item in items if item is not None and item != ""]


@dataclass(frozen=True, slots=True)
class SettingsSpec:
    """What a provider reads from its settings.

    :param settings: every key the provider reads, in the order a site would document them.
    :param receives_webhooks: whether the provider takes webhooks at all; it then MUST
        declare the setting(s) holding their signing secret (``verifies_webhooks``).
    :param development_only: the provider grants access without taking money (a
        simulator such as ``fake``, whose payment page anyone may complete). Hosts refuse
        it in production: the Wagtail adapter's ``check --deploy`` stops on it while
        ``DEBUG`` is off, whatever secret it has.
    :raises PluginError: two settings share a key, or the provider receives webhooks but
        declares no setting that verifies them.
    """

    settings: tuple[Setting, ...] = ()
    receives_webhooks: bool = False
    development_only: bool = False

    def __post_init__(self) -> None:
        # A list is forgiven (it is what one types), but the spec stays immutable.
        object.__setattr__(self, "settings", tuple(self.settings))
        seen: set[str] = set()
        for setting in self.settings:
            if not isinstance(setting, Setting):
                raise PluginError(
                    f"a SettingsSpec holds Setting objects; got {type(setting).__name__} "
                    f"{setting!r}"
                )
            if setting.key in seen:
                raise PluginError(f"setting {setting.key!r} is declared twice")
            seen.add(setting.key)
        if self.receives_webhooks and not self.webhook_secret_settings():
            raise PluginError(
                "a provider receiving webhooks must declare the setting holding their signing "
                "secret: Setting(key, secret=True, verifies_webhooks=True); declared: "
                + (", ".join(self.declared_keys()) or "none")
            )

    def declared_keys(self) -> tuple[str, ...]:
        """Every declared key, in declaration order."""
        return tuple(s.key for s in self.settings)

    def setting(self, key: str) -> Setting:
        """The setting declared under ``key``.

        :raises UnknownSetting: no setting has that key; the message lists the known keys.
        """
        for setting in self.settings:
            if setting.key == key:
                return setting
        raise UnknownSetting(
            f"no setting {key!r} is declared; known: {', '.join(self.declared_keys()) or 'none'}"
        )

    def undeclared_keys(self, config: Mapping[str, Any]) -> list[str]:
        """Keys of ``config`` the provider does not read (a misspelt setting, say), sorted;
        :data:`GENERIC_KEYS` are read by every provider."""
        declared = set(self.declared_keys()) | GENERIC_KEYS
        return sorted(str(k) for k in config if k not in declared)

    def check_keys(self, config: Mapping[str, Any], provider: str) -> None:
        """Refuse settings the provider would silently ignore.

        :raises UnknownSetting: ``config`` holds a key that is not declared; the message
            names the provider, the key(s) and every key it reads.
        """
        unknown = self.undeclared_keys(config)
        if unknown:
            raise UnknownSetting(
                f"payment provider {provider!r} does not read the setting(s) "
                f"{', '.join(repr(k) for k in unknown)}; it reads: "
                f"{', '.join(self.declared_keys()) or 'none'}"
            )

    # -- webhooks ----------------------------------------------------------------------------
    def webhook_secret_settings(self) -> tuple[Setting, ...]:
        """The settings holding webhook signing secrets."""
        return tuple(s for s in self.settings if s.verifies_webhooks)

    def webhook_secrets(self, config: Mapping[str, Any]) -> list[str]:
        """The webhook secrets ``config`` holds, in declaration order (the first signs),
        lists flattened, empty values and repeats dropped.

        :raises PluginError: a secret is not a string; the message names the key and the
            type, never the value.
        """
        found: list[str] = []
        for setting in self.webhook_secret_settings():
            for value in setting.values(config):
                if not isinstance(value, str):
                    raise PluginError(
                        f"setting {setting.key!r} must hold "
                        + ("strings" if setting.many else "a string")
                        + f"; got a {type(value).__name__}"
                    )
                if value not in found:
                    found.append(value)
        return found

    def public_defaults(self) -> frozenset[str]:
        """Every declared ``dev_default``: public values that must never verify anything
        outside development."""
        return frozenset(s.dev_default for s in self.settings if s.dev_default is not None)

    def has_dev_default(self) -> bool:
        """Whether the provider falls back to a public webhook secret when none is set."""
        return any(s.dev_default is not None for s in self.webhook_secret_settings())

    def lacks_webhook_secret(self, config: Mapping[str, Any]) -> bool:
        """Whether the provider receives webhooks but ``config`` sets no secret for them
        (it then refuses every webhook, or verifies with a public dev default)."""
        return self.receives_webhooks and not self.webhook_secrets(config)

    def verifies_with_public_secret(self, config: Mapping[str, Any]) -> bool:
        """Whether webhooks would verify under a public secret: none is set and the
        provider falls back to its dev default, or a set one *is* a public default."""
        if not self.receives_webhooks:
            return False
        configured = self.webhook_secrets(config)
        if not configured:
            return self.has_dev_default()
        return not self.public_defaults().isdisjoint(configured)

    def secret_keys(self) -> str:
        """The webhook-secret keys, for messages: ``'secret' or 'secrets' (a list)``."""
        return " or ".join(
            repr(s.key) + (" (a list)" if s.many else "") for s in self.webhook_secret_settings()
        )

    def webhook_secret_problem(
        self, config: Mapping[str, Any], *, development: bool = False
    ) -> str | None:
        """Why the provider must not receive webhooks with ``config``, or ``None``.

        A provider receiving webhooks needs a secret of the site's own under one of its
        webhook-secret keys. Without one, it verifies nothing (no ``dev_default``) or
        verifies with its public development default, which anyone can read: allowed
        only with ``development`` on. A secret set to a public default counts as none.

        :raises PluginError: a secret is not a string (see :meth:`webhook_secrets`).
        """
        if not self.receives_webhooks:
            return None
        configured = self.webhook_secrets(config)
        if not configured and not self.has_dev_default():
            return f"no webhook secret is set; set {self.secret_keys()}"
        if development or not self.verifies_with_public_secret(config):
            return None
        if configured:
            return (
                "a webhook secret it is given is its public development default, which "
                f"anyone can read; set {self.secret_keys()} to a secret of your own"
            )
        return (
            "no webhook secret is set, so it would verify webhooks with its public "
            f"development default; set {self.secret_keys()} to a secret of your own "
            "(the development default is only used in development mode)"
        )

    # -- other checks ------------------------------------------------------------------------
    def missing_required(self, config: Mapping[str, Any]) -> list[str]:
        """Keys of required settings that ``config`` leaves unset or empty."""
        return [s.key for s in self.settings if s.required and not s.values(config)]

    def is_live(self, config: Mapping[str, Any]) -> bool:
        """Whether ``config`` moves real money: a setting with ``live_prefixes`` holds a
        value beginning with one, or ``config["livemode"]`` is ``True`` (a flag any
        provider's settings may carry)."""
        if config.get("livemode") is True:
            return True
        return any(
            isinstance(value, str) and value.startswith(s.live_prefixes)
            for s in self.settings
            if s.live_prefixes
            for value in s.values(config)
        )
