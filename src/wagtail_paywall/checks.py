"""Django system checks for settings that would let content or money slip through.

=====================  ====================================================================
``wagtail_paywall.E001``  a configured provider has no webhook secret: forged webhooks
                          could grant access.
``wagtail_paywall.E002``  ``WAGTAILDOCS_SERVE_METHOD`` is not ``"serve_view"``: documents
                          would be served without passing ``before_serve_document``.
``wagtail_paywall.E003``  ``PaywallMiddleware`` is missing: gated pages could be cached
                          publicly and anonymous meters never counted.
``wagtail_paywall.E004``  ``DEFAULT_PROVIDER`` is not among ``PROVIDERS``.
``wagtail_paywall.E005``  ``DEBUG`` is on while a provider holds live (real money) keys:
                          error pages would show them and members' data to anyone.
``wagtail_paywall.W001``  the cache is per process or a dummy: invalidations do not reach
                          other processes, so revoked access may linger until it expires.
``wagtail_paywall.W002``  the URLconf serves ``MEDIA_URL`` with Django's static view: gated
                          documents are downloadable from their raw media URL.
=====================  ====================================================================
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.utils.translation import gettext as _

from . import conf

#: Providers that receive no webhooks, so need no secret.
NO_WEBHOOKS = frozenset({"manual"})
#: Providers for development, which fall back to a public secret; checked only without DEBUG.
DEV_ONLY = frozenset({"fake"})
#: Settings keys a provider may keep its webhook signing secret(s) under.
SECRET_KEYS = ("webhook_secret", "secret", "secrets")
MIDDLEWARE = "wagtail_paywall.middleware.PaywallMiddleware"
#: How live (real money) credentials begin: Stripe's secret and restricted keys.
LIVE_KEY_PREFIXES = ("sk_live_", "rk_live_")


@checks.register(checks.Tags.security)
def check_webhook_secrets(**kwargs: Any) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    for name, config in conf.providers().items():
        if name in NO_WEBHOOKS or any(config.get(k) for k in SECRET_KEYS):
            continue
        if name in DEV_ONLY and settings.DEBUG:
            continue  # its public development secret is fine on a developer's machine
        errors.append(
            checks.Error(
                _("Payment provider %(name)r has no webhook secret.") % {"name": name},
                hint=_(
                    'Set PAYWALL["PROVIDERS"][%(name)r]["webhook_secret"]; without it '
                    "webhooks cannot be verified and forged ones could grant access."
                )
                % {"name": name},
                id="wagtail_paywall.E001",
            )
        )
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


def _live(config: dict[str, Any]) -> bool:
    """Whether a provider's settings hold live keys (or say ``"livemode": True``)."""
    if config.get("livemode") is True:
        return True
    return any(isinstance(v, str) and v.startswith(LIVE_KEY_PREFIXES) for v in config.values())


@checks.register(checks.Tags.security)
def check_debug_with_live_keys(**kwargs: Any) -> list[checks.CheckMessage]:
    if not settings.DEBUG:
        return []
    live = sorted(name for name, config in conf.providers().items() if _live(config))
    if not live:
        return []
    return [
        checks.Error(
            _("DEBUG is on while payment provider(s) %(names)s hold live keys.")
            % {"names": ", ".join(repr(n) for n in live)},
            hint=_(
                "Set DEBUG = False wherever real money moves: debug error pages show "
                "settings, requests and members' data. Develop with test keys."
            ),
            id="wagtail_paywall.E005",
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
    from django.urls import Resolver404, resolve
    from django.views.static import serve

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
