"""Django system checks for settings that would let content or money slip through.

Ids ``wagtail_paywall.E001`` to ``E016``, ``E020`` to ``E024`` (lawful cancellation,
``docs/cancellation.md``), ``E025`` to ``E028`` (the visitor's currency), ``E030`` to
``E032`` (member prices, ``docs/member-prices.md``), ``E033`` and ``E034`` (loyalty),
``E036`` to ``E039`` (referrals), ``E040`` and ``E041`` (deliveries), ``E043`` (services),
``E046`` to ``E049`` (usage), ``W001`` and ``W002``, each described in the docs page below
or the feature's own page.
Provider checks read what each provider declares about its own settings
(:class:`membership_sdk.providers.SettingsSpec`), so a third-party provider is checked exactly
like a built-in one.

See ``docs/wagtail.md`` (System checks).
"""

from __future__ import annotations

from typing import Any

from django.apps import apps as django_apps
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connections
from django.urls import Resolver404, URLPattern, URLResolver, get_resolver, resolve
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.views.static import serve

from membership_sdk import MembershipError, Providers
from membership_sdk.dunning import InvalidSchedule, RetrySchedule
from membership_sdk.lifecycle import PauseAccess
from membership_sdk.plugins import DEFAULT_PLUGINS
from membership_sdk.program import TAKE_BACK_POLICIES
from membership_sdk.providers import SettingsSpec
from membership_sdk.retention import RetentionConfigError

from . import conf, currency
from .models.retention import configured_offers
from .program import plugin_manager

MIDDLEWARE = "wagtail_paywall.middleware.PaywallMiddleware"


#: What building the site's providers may raise besides a core error: a plugin in
#: ``PAYWALL["PLUGINS"]`` that does not import, or a setting of the wrong type.
_BUILD_ERRORS = (MembershipError, ImportError, ValueError, TypeError)
#: The core's own providers: installed with the package, registered once configured.
BUILT_IN = frozenset(name for name, _module in DEFAULT_PLUGINS)


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
        # As the site's program builds them; a withheld provider still declares itself.
        providers = Providers(
            pm, configured, development=conf.development_mode(), configured_only=True
        )
    except _BUILD_ERRORS as exc:
        culprit = next((n for n, c in configured.items() if _fails_alone(pm, n, c)), None)
        return [], [_unbuildable(exc, culprit)]
    found, errors = [], []
    for name, config in configured.items():
        spec = providers.specs.get(name)
        if spec is None:
            errors.append(
                checks.Error(
                    _("Payment provider %(name)r is configured but not installed.")
                    % {"name": name},
                    hint=_(
                        "Install the package that provides it, or remove it from "
                        'PAYWALL["PROVIDERS"]. Installed: %(installed)s.'
                    )
                    % {"installed": ", ".join(sorted({*providers.specs, *BUILT_IN})) or "-"},
                    id="wagtail_paywall.E007",
                )
            )
            continue
        found.append((name, config, spec))
    return found, errors


def _where_secrets_go(name: str, spec: SettingsSpec) -> str:
    """``PAYWALL["PROVIDERS"]["x"]["secret"]`` (or ``["secrets"]``, a list), as declared."""
    keys = [
        f'PAYWALL["PROVIDERS"]["{name}"]["{s.key}"]' + (" (a list)" if s.many else "")
        for s in spec.webhook_secret_settings()
    ]
    return " or ".join(keys)


def _secret_error(name: str, config: dict[str, Any], spec: SettingsSpec) -> checks.CheckMessage:
    """E001 for a provider the core withholds for want of a secret of the site's own."""
    where = _where_secrets_go(name, spec)
    if not spec.webhook_secrets(config) and not spec.has_dev_default():
        problem = _("has no webhook secret")
        hint = _(
            "Set %(where)s to the webhook signing secret; without it webhooks cannot be "
            "verified, and forged ones could grant access."
        ) % {"where": where}
    else:
        problem = _("would verify them with its public development secret")
        hint = _(
            "Set %(where)s to a secret of your own: the public development secret is "
            "published, so anyone could sign a webhook with it. While developing, "
            'DEBUG = True with PAYWALL["DEVELOPMENT_MODE"] = True allows it.'
        ) % {"where": where}
    return checks.Error(
        _(
            "Payment provider %(name)r receives webhooks but %(problem)s, so it is switched "
            "off: its webhook endpoint answers 404 and it sells nothing."
        )
        % {"name": name, "problem": problem},
        hint=hint,
        id="wagtail_paywall.E001",
    )


def _provider_errors(
    name: str, config: dict[str, Any], spec: SettingsSpec
) -> list[checks.CheckMessage]:
    errors = []
    # The rules the core's registry applies (membership_sdk.plugins.Providers).
    unknown = spec.undeclared_keys(config)
    if unknown:
        errors.append(
            checks.Error(
                _(
                    "Payment provider %(name)r does not read the setting(s) %(keys)s, so it "
                    "is switched off."
                )
                % {"name": name, "keys": ", ".join(repr(k) for k in unknown)},
                hint=_(
                    "Correct or remove them: a misspelt key would leave the provider on its "
                    "default (a public development secret, say). It reads: %(known)s."
                )
                % {"known": ", ".join(spec.declared_keys())},
                id="wagtail_paywall.E011",
            )
        )
    if spec.webhook_secret_problem(config, development=conf.development_mode()) is not None:
        errors.append(_secret_error(name, config, spec))
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
    """E001 and E005 to E008, E011, from each provider's own declaration."""
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


@checks.register(checks.Tags.security, deploy=True)
def check_development_only_providers(**kwargs: Any) -> list[checks.CheckMessage]:
    """E013 (``check --deploy``): a provider that takes no money, configured while
    ``DEBUG`` is off. Deployment checks only: a site's test suite, which runs with
    ``DEBUG`` off, may keep using the fake provider."""
    if settings.DEBUG:
        return []
    declared, _errors = _declared()
    return [
        checks.Error(
            _(
                "Payment provider %(name)r takes no money: its payment page gives any "
                "visitor the membership they choose. It is configured while DEBUG is off."
            )
            % {"name": name},
            hint=_(
                'Remove %(name)r from PAYWALL["PROVIDERS"] in your production settings and '
                "sell through a real provider (stripe, manual, or a plugin); keep %(name)r "
                "for development and your test settings."
            )
            % {"name": name},
            id="wagtail_paywall.E013",
        )
        for name, _config, spec in declared
        if spec.development_only
    ]


@checks.register()
def check_take_back_policies(**kwargs: Any) -> list[checks.CheckMessage]:
    """``ON_REFUND`` and ``ON_DISPUTE_LOST`` name a policy the core knows."""
    errors: list[checks.CheckMessage] = []
    for name in ("ON_REFUND", "ON_DISPUTE_LOST"):
        value = conf.get(name)
        if value not in TAKE_BACK_POLICIES:
            errors.append(
                checks.Error(
                    _("PAYWALL[%(name)r] is %(value)r, which is not a policy.")
                    % {"name": name, "value": value},
                    hint=_("Use one of: %(known)s.")
                    % {"known": ", ".join(repr(p) for p in TAKE_BACK_POLICIES)},
                    id="wagtail_paywall.E012",
                )
            )
    return errors


@checks.register()
def check_retention_offers(**kwargs: Any) -> list[checks.CheckMessage]:
    """E014: ``RETENTION_OFFERS`` describes offers the cancel flow can make."""
    try:
        configured_offers()
    except RetentionConfigError as exc:
        return [
            checks.Error(
                _("PAYWALL['RETENTION_OFFERS'] is wrong: %(error)s") % {"error": exc},
                hint=_(
                    "Each offer is {'kind': 'discount' | 'pause' | 'cheaper_plan', "
                    "'reasons': [...], ...}; see “Retention offers” in docs/journey.md."
                ),
                id="wagtail_paywall.E014",
            )
        ]
    return []


@checks.register()
def check_dunning_schedule(**kwargs: Any) -> list[checks.CheckMessage]:
    """E015: ``DUNNING_RETRY_DAYS`` is a rising list of whole days."""
    try:
        RetrySchedule(conf.get("DUNNING_RETRY_DAYS"))
    except InvalidSchedule as exc:
        return [
            checks.Error(
                _("PAYWALL['DUNNING_RETRY_DAYS'] is wrong: %(error)s") % {"error": exc},
                hint=_(
                    "Give rising whole days after the failure, e.g. [1, 3, 5]; see docs/dunning.md."
                ),
                id="wagtail_paywall.E015",
            )
        ]
    return []


@checks.register()
def check_pause_access(**kwargs: Any) -> list[checks.CheckMessage]:
    """E016: ``PAUSE_ACCESS`` says what a paused membership gives."""
    value = conf.get("PAUSE_ACCESS")
    if value in {a.value for a in PauseAccess}:
        return []
    return [
        checks.Error(
            _("PAYWALL['PAUSE_ACCESS'] is %(value)r, which says nothing a pause can give.")
            % {"value": value},
            hint=_("Use one of: %(known)s; see docs/lifecycle.md.")
            % {"known": ", ".join(repr(a.value) for a in PauseAccess)},
            id="wagtail_paywall.E016",
        )
    ]


@checks.register()
def check_delivery_settings(**kwargs: Any) -> list[checks.CheckMessage]:
    """E040 and E041: the deliveries' settings (docs/deliveries.md)."""
    from membership_sdk.deliveries import COUNTRY_CODES

    found = []
    countries = conf.get("DELIVERY_COUNTRIES")
    codes = list(countries) if isinstance(countries, list | tuple | set | frozenset) else None
    wrong = None if codes is None else [c for c in codes if c not in COUNTRY_CODES]
    if codes is None or wrong:
        found.append(
            checks.Error(
                _("PAYWALL['DELIVERY_COUNTRIES'] must list ISO 3166 country codes; got %(value)r.")
                % {"value": wrong if wrong else countries},
                hint=_("Give upper-case codes such as ['DE', 'NL'], or () for any country."),
                id="wagtail_paywall.E040",
            )
        )
    days = conf.get("DELIVERY_CUTOFF_DAYS")
    if not isinstance(days, int) or isinstance(days, bool) or days < 1:
        found.append(
            checks.Error(
                _("PAYWALL['DELIVERY_CUTOFF_DAYS'] is %(value)r; expected whole days, 1 or more.")
                % {"value": days},
                hint=_("An issue's cut-off must come before its ship day, e.g. 7."),
                id="wagtail_paywall.E041",
            )
        )
    return found


@checks.register()
def check_service_names(**kwargs: Any) -> list[checks.CheckMessage]:
    """E043: ``SERVICES`` names services by their entitlement keys (docs/services.md)."""
    from django.utils.functional import Promise

    from membership_sdk.entitlements import Entitlement
    from membership_sdk.services import is_service

    names = conf.get("SERVICES")
    if not isinstance(names, dict):
        wrong = [f"{type(names).__name__}, not a dict"]
    else:
        wrong = []
        for key, name in names.items():
            try:
                ok = is_service(Entitlement(key).key)
            except MembershipError:
                ok = False
            if not ok:
                wrong.append(f"{key!r} is no service key")
            elif not name or not isinstance(name, str | Promise):
                wrong.append(f"{key!r} has no name ({name!r})")
    if not wrong:
        return []
    return [
        checks.Error(
            _("PAYWALL['SERVICES'] is wrong: %(error)s.") % {"error": "; ".join(wrong)},
            hint=_(
                "Map each service's entitlement key to the name members read, e.g. "
                "{'service.consultation': _('Consultations')}; see docs/services.md."
            ),
            id="wagtail_paywall.E043",
        )
    ]


@checks.register()
def check_currency_choice(**kwargs: Any) -> list[checks.CheckMessage]:
    """E025 to E028: the currency a visitor is offered (``currency.check_settings``)."""
    return currency.check_settings()


@checks.register(checks.Tags.database)
def check_usage_rates(databases: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E046 to E049: usage-based add-ons every provider can bill (docs/usage.md)."""
    from .usage import check_settings

    return check_settings(databases)


# -- E020 to E024: lawful cancellation (docs/cancellation.md) --------------------------------
#: The on/off settings of lawful cancellation.
LAWFUL_SWITCHES = (
    "CANCELLATION_BUTTON",
    "WITHDRAWAL_BUTTON",
    "WET_VAN_DAM",
    "YEARLY_RENEWS_MONTHLY",
)


@checks.register()
def check_lawful_switches(**kwargs: Any) -> list[checks.CheckMessage]:
    """E020: each lawful-cancellation switch is ``True`` or ``False``."""
    return [
        checks.Error(
            _("PAYWALL[%(key)r] is %(value)r; expected True or False.")
            % {"key": key, "value": conf.get(key)},
            hint=_("See docs/cancellation.md."),
            id="wagtail_paywall.E020",
        )
        for key in LAWFUL_SWITCHES
        if not isinstance(conf.get(key), bool)
    ]


@checks.register()
def check_cancellation_rate_limit(**kwargs: Any) -> list[checks.CheckMessage]:
    """E021: ``CANCELLATION_RATE_LIMIT`` is (count, seconds), both positive whole numbers."""
    value = conf.get("CANCELLATION_RATE_LIMIT")
    ok = (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    )
    if ok:
        return []
    return [
        checks.Error(
            _("PAYWALL['CANCELLATION_RATE_LIMIT'] is %(value)r; expected (count, seconds).")
            % {"value": value},
            hint=_("For example (5, 3600): five declarations per address an hour."),
            id="wagtail_paywall.E021",
        )
    ]


def _lawful_providers() -> list[tuple[str, Any]]:
    try:
        providers = Providers(
            plugin_manager(),
            conf.providers(),
            development=conf.development_mode(),
            configured_only=True,
        )
    except _BUILD_ERRORS:
        return []  # check_providers reports it
    return sorted(providers.items())


@checks.register()
def check_lawful_providers(**kwargs: Any) -> list[checks.CheckMessage]:
    """E022 and E023: every configured provider can do what the switches on ask of it."""
    from membership_sdk.providers import RenewalPrices, ScheduledCancellation

    needs = []
    if conf.get("WET_VAN_DAM") is True:
        needs.append(("WET_VAN_DAM", ScheduledCancellation, "E022"))
    if conf.get("YEARLY_RENEWS_MONTHLY") is True:
        needs.append(("YEARLY_RENEWS_MONTHLY", RenewalPrices, "E023"))
    if not needs:
        return []
    errors = []
    for name, provider in _lawful_providers():
        for key, capability, code in needs:
            if not isinstance(provider, capability):
                errors.append(
                    checks.Error(
                        _(
                            "Provider %(name)r cannot do what PAYWALL[%(key)r] asks: it "
                            "lacks %(cap)s."
                        )
                        % {"name": name, "key": key, "cap": capability.__name__},
                        hint=_("See the provider table in docs/cancellation.md."),
                        id=f"wagtail_paywall.{code}",
                    )
                )
    return errors


@checks.register(checks.Tags.security)
def check_cancellation_sender(**kwargs: Any) -> list[checks.CheckMessage]:
    """E024: the cancellation button's confirmation needs a real sender address."""
    if conf.get("CANCELLATION_BUTTON") is not True or settings.DEBUG:
        return []
    sender = getattr(settings, "DEFAULT_FROM_EMAIL", "")
    if sender and sender != "webmaster@localhost":
        return []
    return [
        checks.Error(
            _("PAYWALL['CANCELLATION_BUTTON'] is on but DEFAULT_FROM_EMAIL is %(sender)r.")
            % {"sender": sender},
            hint=_(
                "Every cancellation is confirmed by email at once; set DEFAULT_FROM_EMAIL "
                "to an address of yours that readers can answer."
            ),
            id="wagtail_paywall.E024",
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
    # While DEBUG is on, serving media is what every new project's urls.py does (through
    # django.conf.urls.static.static(), which serves nothing once DEBUG is off).
    if settings.DEBUG or "wagtail.documents" not in settings.INSTALLED_APPS:
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


# -- E009, E010: Wagtail's stock API and search ----------------------------------------------
#: The API's views are CSRF-exempt, so skipping this one's ``process_view`` changes nothing.
_HARMLESS_LATER_MIDDLEWARE = frozenset({"django.middleware.csrf.CsrfViewMiddleware"})


def _route_text(pattern: Any) -> str:
    """A URL pattern as a path a developer recognises (``api/v2/pages/<int:pk>/``)."""
    text = str(pattern.pattern)
    return text.replace("^", "").replace("$", "").replace("\\A", "").replace("\\Z", "")


def _routes(patterns: Any, prefix: str = "") -> Any:
    """``(prefix, path, view)`` of every routed view under ``patterns``: the path of the
    ``include()`` it is in (one API endpoint's routes share it), its own, and the view."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, prefix + _route_text(pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix, prefix + _route_text(pattern), pattern.callback


def _stock_swap_blocked() -> tuple[str, str] | None:
    """Why ``PaywallMiddleware`` cannot serve Wagtail's stock pages endpoint through the
    paywall (the problem and its fix), or ``None`` when it can."""
    middleware = list(getattr(settings, "MIDDLEWARE", ()))
    if MIDDLEWARE not in middleware:
        return (
            _("%(middleware)s, which serves it through the paywall, is not in MIDDLEWARE")
            % {"middleware": MIDDLEWARE},
            _("Add %(middleware)s to MIDDLEWARE after AuthenticationMiddleware.")
            % {"middleware": MIDDLEWARE},
        )
    later = []
    for path in middleware[middleware.index(MIDDLEWARE) + 1 :]:
        if path in _HARMLESS_LATER_MIDDLEWARE:
            continue
        try:
            if hasattr(import_string(path), "process_view"):
                later.append(path)
        except ImportError:
            continue  # Django reports a middleware that does not import
    if not later:
        return None
    return (
        _(
            "serving it through the paywall would skip the process_view of %(later)s, "
            "listed after %(middleware)s"
        )
        % {"later": ", ".join(later), "middleware": MIDDLEWARE},
        _("Move %(middleware)s after %(later)s in MIDDLEWARE.")
        % {"middleware": MIDDLEWARE, "later": ", ".join(later)},
    )


@checks.register(checks.Tags.security, checks.Tags.urls)
def check_pages_api(**kwargs: Any) -> list[checks.CheckMessage]:
    """E009: a routed pages endpoint of Wagtail's API that would serve premium content.

    Wagtail's own ``PagesAPIViewSet``, routed as Wagtail routes it, is served through
    ``PaywalledPagesAPIViewSet`` by the middleware; a site's own subclass, or a decorated
    view, cannot be swapped safely and is reported. The admin's API serves editors only.
    """
    try:
        from wagtail.admin.api.views import PagesAdminAPIViewSet
        from wagtail.api.v2.views import PagesAPIViewSet

        from .channels.api import PaywalledPagesAPIViewSet, is_stock_pages_view
    except ImportError:  # no REST framework: Wagtail's API cannot be routed
        return []
    try:
        patterns = get_resolver().url_patterns
    except (ImportError, ImproperlyConfigured):
        return []  # Django's own checks report a URLconf that does not load
    blocked = _stock_swap_blocked()
    found: dict[tuple[type, str], tuple[str, str, str]] = {}
    for prefix, route, view in _routes(patterns):
        cls = getattr(view, "cls", None)
        if not isinstance(cls, type) or not issubclass(cls, PagesAPIViewSet):
            continue
        if issubclass(cls, (PaywalledPagesAPIViewSet, PagesAdminAPIViewSet)):
            continue
        if is_stock_pages_view(view):
            if blocked is None:
                continue
            problem, fix = blocked
        elif cls is PagesAPIViewSet:
            problem = _("it is wrapped in a decorator, so the paywall cannot serve it")
            fix = _(
                "Register wagtail_paywall.channels.api.PaywalledPagesAPIViewSet in place "
                "of PagesAPIViewSet, and decorate that."
            )
        else:
            problem = _(
                "%(cls)s is a PagesAPIViewSet, not a PaywalledPagesAPIViewSet, so the "
                "paywall cannot serve it"
            ) % {"cls": f"{cls.__module__}.{cls.__qualname__}"}
            fix = _(
                "Make %(cls)s a subclass of "
                "wagtail_paywall.channels.api.PaywalledPagesAPIViewSet (docs/channels.md)."
            ) % {"cls": cls.__qualname__}
        key = (cls, prefix)
        if key not in found or len(route) < len(found[key][0]) - 1:
            found[key] = (f"/{route}", problem, fix)  # the endpoint's shortest: its listing
    return [
        checks.Error(
            _(
                "Wagtail's pages API at %(path)s serves every page whole, premium content "
                "included, to anyone: %(problem)s."
            )
            % {"path": path, "problem": problem},
            hint=fix,
            id="wagtail_paywall.E009",
        )
        for path, problem, fix in found.values()
    ]


def _search_backends() -> dict[str, str]:
    """Each configured search backend's alias and dotted path."""
    configured = getattr(settings, "WAGTAILSEARCH_BACKENDS", None) or {}
    backends = {alias: str(conf.get("BACKEND", "")) for alias, conf in configured.items()}
    backends.setdefault("default", "wagtail.search.backends.database")
    return backends


def _searches_columns(path: str, databases: Any = None) -> bool:
    """Whether the backend at ``path`` matches queries against the models' own database
    columns (the database fallback) instead of an index the paywall fills."""
    if ".fallback" in path:
        return True
    if path.endswith("backends.database"):
        vendor = connections[DEFAULT_DB_ALIAS].vendor
        if vendor == "sqlite":
            return not _sqlite_fts_in_use(path, DEFAULT_DB_ALIAS in (databases or ()))
        return vendor not in ("postgresql", "mysql")
    return False


def _sqlite_fts_in_use(path: str, query_database: bool) -> bool:
    """Whether Wagtail's database backend at ``path`` searches SQLite's FTS5 index, not
    its fallback (which matches the pages' columns). Wagtail picks the fallback, silently,
    when SQLite lacks FTS5 or the FTS table is missing; this repeats its test without
    caching an answer before ``migrate`` has created the table. The table is looked for
    only when the checks may query the database (``migrate``, the test runner,
    ``check --database default``), as Django's checks do."""
    from importlib import import_module

    try:
        module = import_module(import_string(f"{path}.SearchBackend").__module__)
        utils = import_module(f"{module.__name__}.sqlite.utils")
        utils.fts5_available, utils.fts_table_exists  # noqa: B018
    except (ImportError, AttributeError):
        return True  # a Wagtail laid out otherwise: trust its FTS5 backend, as before
    decided = getattr(module, "USE_SQLITE_FTS", None)  # Wagtail's answer, once it has one
    if decided is not None:
        return bool(decided)
    if not utils.fts5_available():
        return False
    if not query_database or utils.fts_table_exists():
        return True
    # FTS5 works but its table is missing: before `migrate` the search migration creates
    # it; once that migration has run without it (an SQLite without FTS5 then), never.
    from django.db.migrations.recorder import MigrationRecorder

    app_config = getattr(utils, "get_app_config", None)
    label = app_config().label if app_config is not None else "wagtailsearch"
    recorder = MigrationRecorder(connections[DEFAULT_DB_ALIAS])
    applied = recorder.has_table() and any(
        app == label for app, _name in recorder.applied_migrations()
    )
    return not applied


def _withheld_search_fields() -> dict[str, list[str]]:
    """Paywalled page models whose search fields include a withheld field, with them."""
    from .pages import PaywallPageMixin

    found = {}
    for model in django_apps.get_models():
        if not issubclass(model, PaywallPageMixin):
            continue
        withheld = {*model.paywall_body_fields, *model.paywall_premium_fields}
        names = sorted({f.field_name for f in model.get_search_fields()} & withheld)
        if names:
            found[model._meta.label] = names
    return found


@checks.register(checks.Tags.security)
def check_search_backend(**kwargs: Any) -> list[checks.CheckMessage]:
    """E010: a search backend that would match pages on their premium text."""
    withheld = _withheld_search_fields()
    if not withheld:
        return []
    fields = "; ".join(f"{label}: {', '.join(names)}" for label, names in withheld.items())
    return [
        checks.Error(
            _(
                "Search backend %(alias)r (%(path)s) searches the pages' own database "
                "columns, so premium text finds gated pages (%(fields)s)."
            )
            % {"alias": alias, "path": path, "fields": fields},
            hint=_(
                "Use Wagtail's database backend on PostgreSQL, MySQL or SQLite with FTS5, "
                "or Elasticsearch or OpenSearch: the paywall keeps premium text out of "
                "their index. Or take those fields out of search_fields. On SQLite, "
                "Wagtail's database backend silently falls back to the columns when SQLite "
                "lacks FTS5 or its FTS table was not created: use an SQLite built with "
                "FTS5, then run migrate (a database migrated without FTS5 needs the "
                "search tables created again)."
            ),
            id="wagtail_paywall.E010",
        )
        for alias, path in _search_backends().items()
        if _searches_columns(path, kwargs.get("databases"))
    ]


# -- E030 to E032: member prices the catalog leaves out (docs/member-prices.md) ---------------
@checks.register(checks.Tags.database)
def check_member_prices(databases: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E030 to E032: member prices saved outside the admin (a shell, a migration, a tier
    renamed or deleted since) that the catalog leaves out; run with ``check --database
    default`` and by ``migrate``."""
    if not databases or DEFAULT_DB_ALIAS not in databases:
        return []
    from django.db import DatabaseError

    from .models import Price, Tier

    try:
        tiers = set(Tier.objects.values_list("slug", flat=True))
        rows = [p for p in Price.objects.order_by("key") if p.member_amounts]
    except DatabaseError:
        return []  # not migrated yet
    errors: list[checks.CheckMessage] = []
    hint = _("Correct the price's member prices in the admin (Paywall > Prices).")
    for row in rows:
        amounts = row.member_amounts
        if not row.item or row.tier_id is not None:
            errors.append(
                checks.Error(
                    _("Price %(price)r has member prices, but it is no one-off item price.")
                    % {"price": row.key},
                    hint=hint,
                    obj=row,
                    id="wagtail_paywall.E032",
                )
            )
            continue
        if not isinstance(amounts, dict):
            amounts = {"?": amounts}
        unknown = sorted(str(slug) for slug in amounts if slug not in tiers)
        if unknown:
            errors.append(
                checks.Error(
                    _("Price %(price)r has member prices for unknown tiers: %(tiers)s.")
                    % {"price": row.key, "tiers": ", ".join(unknown)},
                    hint=hint,
                    obj=row,
                    id="wagtail_paywall.E030",
                )
            )
        wrong = sorted(
            str(slug)
            for slug, amount in amounts.items()
            if not isinstance(amount, int)
            or isinstance(amount, bool)
            or not 0 < amount < row.amount
        )
        if wrong:
            errors.append(
                checks.Error(
                    _(
                        "Price %(price)r has member prices that are not a whole amount "
                        "above 0 and below its amount %(amount)s: %(tiers)s."
                    )
                    % {"price": row.key, "amount": row.amount, "tiers": ", ".join(wrong)},
                    hint=hint,
                    obj=row,
                    id="wagtail_paywall.E031",
                )
            )
    return errors


@checks.register()
def check_referrals(**kwargs: Any) -> list[checks.CheckMessage]:
    """E036: ``REFERRALS`` is a dict of known keys; E037: its values are in range; E038:
    with the withdrawal button on, ``QUALIFY_DAYS`` is not shorter than the withdrawal
    period; E039: every configured provider can give the reward (a discount on a running
    subscription). See docs/referrals.md."""
    from membership_sdk.cancellation import WITHDRAWAL_DAYS
    from membership_sdk.providers import SubscriptionDiscounts

    from .billing import referrals

    hint = _("See docs/referrals.md.")
    given = conf.get("REFERRALS")
    try:
        rules = referrals.policy()
    except ImproperlyConfigured as exc:
        shape = not isinstance(given, dict) or bool(set(given) - set(referrals.KEYS) - {"ENABLED"})
        return [
            checks.Error(
                str(exc), hint=hint, id="wagtail_paywall.E036" if shape else "wagtail_paywall.E037"
            )
        ]
    if rules is None:
        return []
    errors: list[checks.CheckMessage] = []
    if conf.get("WITHDRAWAL_BUTTON") is True and rules.qualify_days < WITHDRAWAL_DAYS:
        errors.append(
            checks.Error(
                _(
                    "PAYWALL['REFERRALS']['QUALIFY_DAYS'] is %(days)s, shorter than the "
                    "%(withdrawal)s-day withdrawal period: referrers would be rewarded for "
                    "friends who may still withdraw and be refunded."
                )
                % {"days": rules.qualify_days, "withdrawal": WITHDRAWAL_DAYS},
                hint=_("Set QUALIFY_DAYS to %(days)s or more.") % {"days": WITHDRAWAL_DAYS},
                id="wagtail_paywall.E038",
            )
        )
    for name, provider in _lawful_providers():
        if not isinstance(provider, SubscriptionDiscounts):
            errors.append(
                checks.Error(
                    _(
                        "Payment provider %(provider)r cannot discount a running "
                        "subscription, so referrers paying through it can never get their "
                        "referral reward."
                    )
                    % {"provider": name},
                    hint=_(
                        "Use a provider with the SubscriptionDiscounts capability, or turn "
                        "referrals off (PAYWALL['REFERRALS'] = {})."
                    ),
                    id="wagtail_paywall.E039",
                )
            )
    return errors


# -- E033 and E034: loyalty rewards that cannot be given or used (docs/loyalty.md) -------------
@checks.register(checks.Tags.database)
def check_loyalty_rewards(databases: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E033: an active loyalty reward the core refuses (saved outside the admin: a
    shell, a fixture); the job would stop at it. E034: a coupon reward taking an amount
    off in a currency no recurring price is sold in, so no member could use its code.
    Run with ``check --database default`` and by ``migrate``."""
    if not databases or DEFAULT_DB_ALIAS not in databases:
        return []
    from django.db import DatabaseError

    from .models import LoyaltyReward, Price

    try:
        rows = list(LoyaltyReward.objects.filter(active=True).order_by("key"))
        currencies = set(
            Price.objects.filter(archived=False)
            .exclude(interval=Price.Interval.ONE_OFF)
            .values_list("currency", flat=True)
        )
    except DatabaseError:
        return []  # not migrated yet
    hint = _("Correct the reward in the admin (Paywall > Loyalty rewards), or make it inactive.")
    errors: list[checks.CheckMessage] = []
    for row in rows:
        try:
            reward = row.to_core()
        except MembershipError as exc:
            errors.append(
                checks.Error(
                    _("Loyalty reward %(reward)r is not valid: %(error)s")
                    % {"reward": row.key, "error": exc},
                    hint=hint,
                    obj=row,
                    id="wagtail_paywall.E033",
                )
            )
            continue
        coupon = reward.coupon
        if coupon is not None and coupon.currency and coupon.currency not in currencies:
            errors.append(
                checks.Error(
                    _(
                        "Loyalty reward %(reward)r takes %(currency)s off, but no recurring "
                        "price is sold in %(currency)s: no member could use its codes."
                    )
                    % {"reward": row.key, "currency": coupon.currency},
                    hint=hint,
                    obj=row,
                    id="wagtail_paywall.E034",
                )
            )
    return errors
