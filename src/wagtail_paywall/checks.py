"""Django system checks for settings that would let content or money slip through.

Ids ``wagtail_paywall.E001`` to ``E008`` and ``W001`` to ``W003``, each described in the docs
page below. Provider checks read what each provider declares about its own settings
(:class:`membership_sdk.providers.SettingsSpec`), so a third-party provider is checked exactly
like a built-in one.

See ``docs/wagtail.md`` (System checks).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.urls import Resolver404, resolve
from django.utils.translation import gettext as _
from django.views.static import serve

from membership_sdk import MembershipError, Providers
from membership_sdk.plugins import DEFAULT_PLUGINS
from membership_sdk.providers import SettingsSpec

from . import conf
from .program import plugin_manager

MIDDLEWARE = "wagtail_paywall.middleware.PaywallMiddleware"


#: What building the site's providers may raise besides a core error: a plugin in
#: ``PAYWALL["PLUGINS"]`` that does not import, or a setting of the wrong type.
_BUILD_ERRORS = (MembershipError, ImportError, ValueError, TypeError)
#: The core's own providers: installed with the package, registered once configured.
BUILT_IN = frozenset(name for name, _module in DEFAULT_PLUGINS)
#: A flag any provider's settings may carry (see ``SettingsSpec.is_live``).
_GENERIC_KEYS = frozenset({"livemode"})


def _unbuildable(exc: Exception, name: str | None = None) -> checks.CheckMessage:
    if name is None:
        message = _('The payment providers cannot be built from PAYWALL["PROVIDERS"]: %(error)s')
    else:
        message = _("The settings of payment provider %(name)r cannot be read: %(error)s")
    return checks.Error(
        message % {"name": name, "error": exc},
        hint=_("Fix the setting the message names."),
        id="wagtail_paywall.E006",
    )


def _unloadable(exc: Exception) -> checks.CheckMessage:
    return checks.Error(
        _("A paywall plugin cannot be loaded: %(error)s") % {"error": exc},
        hint=_(
            'Check the dotted paths in PAYWALL["PLUGINS"] and the installed provider '
            "packages the message names."
        ),
        id="wagtail_paywall.E006",
    )


def _fails_alone(pm: Any, name: str, config: dict[str, Any]) -> bool:
    """Whether building the providers with only ``name``'s settings fails too: which
    provider an error is about (a plugin's message may not say)."""
    try:
        Providers(pm, {name: config})
    except _BUILD_ERRORS:
        return True
    return False


def _declared() -> tuple[list[tuple[str, dict[str, Any], SettingsSpec]], list[checks.CheckMessage]]:
    """Each configured provider with its settings and its declaration, and the errors
    of those that cannot be built or are not installed."""
    configured = conf.providers()
    try:
        pm = plugin_manager()
    except _BUILD_ERRORS as exc:
        return [], [_unloadable(exc)]
    try:
        providers = Providers(pm, configured)
    except _BUILD_ERRORS as exc:
        culprit = next((n for n, c in configured.items() if _fails_alone(pm, n, c)), None)
        return [], [_unbuildable(exc, culprit)]
    found, errors = [], []
    for name, config in configured.items():
        provider = providers.get(name)
        if provider is None:
            errors.append(
                checks.Error(
                    _("Payment provider %(name)r is configured but not installed.")
                    % {"name": name},
                    hint=_(
                        "Install the package that provides it, or remove it from "
                        'PAYWALL["PROVIDERS"]. Installed: %(installed)s.'
                    )
                    % {"installed": ", ".join(sorted({*providers, *BUILT_IN})) or "-"},
                    id="wagtail_paywall.E007",
                )
            )
            continue
        found.append((name, config, provider.settings_spec))
    return found, errors


def _where_secrets_go(name: str, spec: SettingsSpec) -> str:
    """``PAYWALL["PROVIDERS"]["x"]["secret"]`` (or ``["secrets"]``, a list), as declared."""
    keys = [
        f'PAYWALL["PROVIDERS"]["{name}"]["{s.key}"]' + (" (a list)" if s.many else "")
        for s in spec.webhook_secret_settings()
    ]
    return " or ".join(keys)


def _secret_hint(name: str, spec: SettingsSpec, *, public: bool = False) -> str:
    if public:
        return _(
            "Set %(where)s to a secret of your own: the public development secret is "
            "published, so anyone could sign a webhook with it."
        ) % {"where": _where_secrets_go(name, spec)}
    if not spec.webhook_secret_settings():
        return _(
            "Provider %(name)r declares no setting for a webhook secret, so nothing can "
            "verify its webhooks: ask its author to declare one (docs/plugins.md)."
        ) % {"name": name}
    return _(
        "Set %(where)s to the webhook signing secret; without it webhooks cannot be "
        "verified, and forged ones could grant access."
    ) % {"where": _where_secrets_go(name, spec)}


def _secret_problem(config: dict[str, Any], spec: SettingsSpec) -> tuple[str, bool] | None:
    """Why the provider's webhooks are not safely verified, and whether it is because of
    its public development secret; ``None`` when they are.

    Its public development default is allowed only while ``DEBUG`` is on.
    """
    if not spec.receives_webhooks:
        return None
    if settings.DEBUG:
        lacking = spec.lacks_webhook_secret(config) and not spec.has_dev_default()
        return (_("has no webhook secret"), False) if lacking else None
    if spec.lacks_webhook_secret(config):
        return _("has no webhook secret"), False
    if spec.verifies_with_public_secret(config):
        return _("verifies webhooks with its public development secret"), True
    return None


def _provider_errors(
    name: str, config: dict[str, Any], spec: SettingsSpec
) -> list[checks.CheckMessage]:
    errors = []
    found = _secret_problem(config, spec)
    if found is not None:
        problem, public = found
        errors.append(
            checks.Error(
                _("Payment provider %(name)r receives webhooks but %(problem)s.")
                % {"name": name, "problem": problem},
                hint=_secret_hint(name, spec, public=public),
                id="wagtail_paywall.E001",
            )
        )
    missing = spec.missing_required(config)
    if missing:
        errors.append(
            checks.Error(
                _("Payment provider %(name)r lacks its required setting(s) %(keys)s.")
                % {"name": name, "keys": ", ".join(repr(k) for k in missing)},
                hint=_('Set them in PAYWALL["PROVIDERS"][%(name)r].') % {"name": name},
                id="wagtail_paywall.E008",
            )
        )
    unknown = sorted(set(config) - set(spec.declared_keys()) - _GENERIC_KEYS)
    if unknown:
        errors.append(
            checks.Warning(
                _("Payment provider %(name)r does not read the setting(s) %(keys)s.")
                % {"name": name, "keys": ", ".join(repr(k) for k in unknown)},
                hint=_("A misspelt key is ignored. It reads: %(known)s.")
                % {"known": ", ".join(spec.declared_keys()) or "-"},
                id="wagtail_paywall.W003",
            )
        )
    if settings.DEBUG and spec.is_live(config):
        errors.append(
            checks.Error(
                _("DEBUG is on while payment provider %(name)r holds live keys.") % {"name": name},
                hint=_(
                    "Set DEBUG = False wherever real money moves: debug error pages show "
                    "settings, requests and members' data. Develop with test keys."
                ),
                id="wagtail_paywall.E005",
            )
        )
    return errors


@checks.register(checks.Tags.security)
def check_providers(**kwargs: Any) -> list[checks.CheckMessage]:
    """E001, E005 to E008 and W003, from each provider's own declaration."""
    declared, errors = _declared()
    for name, config, spec in declared:
        try:
            errors.extend(_provider_errors(name, config, spec))
        except _BUILD_ERRORS as exc:  # a setting of the wrong type, say
            errors.append(_unbuildable(exc, name))
    return errors


@checks.register(checks.Tags.security)
def check_document_serving(**kwargs: Any) -> list[checks.CheckMessage]:
    if "wagtail.documents" not in settings.INSTALLED_APPS:
        return []
    method = getattr(settings, "WAGTAILDOCS_SERVE_METHOD", None)
    if method == "serve_view":
        return []
    return [
        checks.Error(
            _("WAGTAILDOCS_SERVE_METHOD is %(method)r; gated downloads could be fetched directly.")
            % {"method": method},
            hint=_(
                'Set WAGTAILDOCS_SERVE_METHOD = "serve_view" so every download passes the '
                "paywall's before_serve_document hook instead of a public media URL."
            ),
            id="wagtail_paywall.E002",
        )
    ]


@checks.register(checks.Tags.security)
def check_middleware(**kwargs: Any) -> list[checks.CheckMessage]:
    if MIDDLEWARE in getattr(settings, "MIDDLEWARE", ()):
        return []
    return [
        checks.Error(
            _("%(middleware)s is not in MIDDLEWARE.") % {"middleware": MIDDLEWARE},
            hint=_(
                "Add it after AuthenticationMiddleware: it marks gated responses private "
                "so shared caches never store them, and writes the anonymous meter cookie."
            ),
            id="wagtail_paywall.E003",
        )
    ]


@checks.register()
def check_default_provider(**kwargs: Any) -> list[checks.CheckMessage]:
    default = conf.get("DEFAULT_PROVIDER")
    known = conf.providers()
    if default in known:
        return []
    return [
        checks.Error(
            _("DEFAULT_PROVIDER %(default)r is not configured in PROVIDERS (%(known)s).")
            % {"default": default, "known": ", ".join(sorted(known)) or "-"},
            hint=_('Add it to PAYWALL["PROVIDERS"] or pick one of those.'),
            id="wagtail_paywall.E004",
        )
    ]


@checks.register(checks.Tags.caches)
def check_shared_cache(**kwargs: Any) -> list[checks.CheckMessage]:
    if settings.DEBUG:
        return []
    alias = conf.get("CACHE_ALIAS")
    backend = settings.CACHES.get(alias, {}).get("BACKEND", "")
    if not backend.endswith(("LocMemCache", "DummyCache")):
        return []
    return [
        checks.Warning(
            _("The paywall cache %(alias)r uses %(backend)s, which processes do not share.")
            % {"alias": alias, "backend": backend.rsplit(".", 1)[-1]},
            hint=_(
                "With several processes, a revoked grant stays cached in the others for up "
                'to PAYWALL["CACHE_TIMEOUT"] seconds; use Redis or Memcached.'
            ),
            id="wagtail_paywall.W001",
        )
    ]


@checks.register(checks.Tags.security, checks.Tags.urls)
def check_media_not_served(**kwargs: Any) -> list[checks.CheckMessage]:
    if "wagtail.documents" not in settings.INSTALLED_APPS:
        return []
    media_url = getattr(settings, "MEDIA_URL", "") or ""
    if not media_url.startswith("/"):
        return []  # another host (a CDN, a bucket) serves it; nothing to see from here
    try:
        match = resolve(f"{media_url.rstrip('/')}/documents/paywall-check.pdf")
    except Resolver404:
        return []
    if match.func is not serve:
        return []
    return [
        checks.Warning(
            _("MEDIA_URL %(url)s is served by django.views.static.serve.") % {"url": media_url},
            hint=_(
                "Gated documents live under MEDIA_ROOT/documents/ and can be fetched from "
                "there without passing the paywall. Serve media only for development, "
                "and never the documents folder."
            ),
            id="wagtail_paywall.W002",
        )
    ]
