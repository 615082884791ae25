"""System checks E009 and E010: the stock API and search channels the paywall cannot
protect by itself stop the site, naming each one and the fix.

E009 names each routed pages endpoint of Wagtail's API that would serve premium content
(a site's own ``PagesAPIViewSet`` subclass, a decorated stock view, or the stock view when
the middleware cannot serve it through the paywall). E010 names a search backend that
matches pages on their own database columns, premium text included.
"""

from __future__ import annotations

import types
from importlib import import_module
from typing import Any

import pytest
from django.core import checks
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.test import override_settings
from django.urls import include, path
from django.utils.module_loading import import_string
from django.views.decorators.cache import cache_page
from wagtail.api.v2.router import WagtailAPIRouter
from wagtail.api.v2.views import PagesAPIViewSet

from wagtail_paywall import checks as paywall_checks
from wagtail_paywall.channels.api import PaywalledPagesAPIViewSet

E009 = "wagtail_paywall.E009"
E010 = "wagtail_paywall.E010"
PAYWALL_MIDDLEWARE = "wagtail_paywall.middleware.PaywallMiddleware"


class SiteAPIViewSet(PagesAPIViewSet):
    """A site's own pages endpoint, as many sites write one."""


class SitePaywalledViewSet(PaywalledPagesAPIViewSet):
    """A site's own endpoint built on the paywall's."""


def urlconf(*endpoints: tuple[str, type], decorate: Any = None) -> types.ModuleType:
    """A URLconf routing each ``(prefix, viewset)`` with a ``WagtailAPIRouter``, plus the
    admin (whose own API serves editors only)."""
    from wagtail.admin import urls as wagtailadmin_urls

    module = types.ModuleType("paywall_check_urls")
    patterns: list[Any] = [path("admin/", include(wagtailadmin_urls))]
    for prefix, viewset in endpoints:
        router = WagtailAPIRouter(f"api-{prefix.strip('/').replace('/', '-')}")
        router.register_endpoint("pages", viewset)
        patterns.append(path(prefix, router.urls))
    if decorate is not None:
        view = decorate(PagesAPIViewSet.as_view({"get": "listing_view"}))
        patterns.append(path("cached-api/pages/", view))
    module.urlpatterns = patterns  # type: ignore[attr-defined]
    return module


def e009(**settings: Any) -> list[checks.CheckMessage]:
    with override_settings(**settings):
        return [m for m in paywall_checks.check_pages_api() if m.id == E009]


def test_the_stock_endpoint_routed_as_wagtail_routes_it_passes() -> None:
    assert e009(ROOT_URLCONF=urlconf(("api/v2/", PagesAPIViewSet))) == []


def test_the_paywalls_endpoint_and_its_subclasses_pass() -> None:
    conf = urlconf(("api/v2/", PaywalledPagesAPIViewSet), ("api/v3/", SitePaywalledViewSet))
    assert e009(ROOT_URLCONF=conf) == []


def test_a_sites_own_pages_endpoint_is_an_error_naming_its_path_and_class() -> None:
    (message,) = e009(ROOT_URLCONF=urlconf(("api/v2/", SiteAPIViewSet)))
    assert message.level == checks.ERROR
    assert "/api/v2/pages/" in message.msg
    assert "SiteAPIViewSet" in message.msg
    assert "PaywalledPagesAPIViewSet" in message.hint


def test_each_unprotected_endpoint_is_named() -> None:
    conf = urlconf(("api/v2/", SiteAPIViewSet), ("public/api/", SiteAPIViewSet))
    paths = sorted(m.msg.split(" at ")[1].split(" ")[0] for m in e009(ROOT_URLCONF=conf))
    assert paths == ["/api/v2/pages/", "/public/api/pages/"]


def test_a_decorated_stock_endpoint_is_an_error() -> None:
    (message,) = e009(ROOT_URLCONF=urlconf(decorate=cache_page(60)))
    assert "/cached-api/pages/" in message.msg
    assert "decorator" in message.msg
    assert "PaywalledPagesAPIViewSet" in message.hint


def test_the_stock_endpoint_without_the_paywall_middleware_is_an_error(
    settings: Any,
) -> None:
    middleware = [m for m in settings.MIDDLEWARE if m != PAYWALL_MIDDLEWARE]
    conf = urlconf(("api/v2/", PagesAPIViewSet))
    (message,) = e009(ROOT_URLCONF=conf, MIDDLEWARE=middleware)
    assert "/api/v2/pages/" in message.msg
    assert PAYWALL_MIDDLEWARE in message.hint


def test_a_middleware_after_the_paywalls_that_could_refuse_the_request_is_an_error(
    settings: Any,
) -> None:
    # Serving the paywalled endpoint from process_view would skip its login check.
    login_required = "django.contrib.auth.middleware.LoginRequiredMiddleware"
    middleware = [*settings.MIDDLEWARE, login_required]
    conf = urlconf(("api/v2/", PagesAPIViewSet))
    (message,) = e009(ROOT_URLCONF=conf, MIDDLEWARE=middleware)
    assert login_required in message.msg
    assert f"Move {PAYWALL_MIDDLEWARE} after {login_required}" in message.hint


def test_the_csrf_middleware_after_the_paywalls_is_fine(settings: Any) -> None:
    csrf = "django.middleware.csrf.CsrfViewMiddleware"
    middleware = [*(m for m in settings.MIDDLEWARE if m != csrf), csrf]
    assert e009(ROOT_URLCONF=urlconf(("api/v2/", PagesAPIViewSet)), MIDDLEWARE=middleware) == []


def test_the_test_site_with_both_endpoints_passes() -> None:
    assert e009() == []


# -- E010 -------------------------------------------------------------------------------------
FALLBACK = {"default": {"BACKEND": "wagtail.search.backends.database.fallback"}}


def test_the_database_fallback_backend_is_an_error_naming_the_premium_fields() -> None:
    with override_settings(WAGTAILSEARCH_BACKENDS=FALLBACK):
        (message,) = paywall_checks.check_search_backend()
    assert message.id == E010
    assert message.level == checks.ERROR
    assert "'default'" in message.msg
    assert "testapp.ArticlePage: body, premium_note" in message.msg
    assert "Elasticsearch" in message.hint


@pytest.mark.parametrize(
    "backend",
    [
        "wagtail.search.backends.database",
        "wagtail.search.backends.elasticsearch8",
    ],
)
def test_backends_with_an_index_the_paywall_fills_pass(backend: str) -> None:
    with override_settings(WAGTAILSEARCH_BACKENDS={"default": {"BACKEND": backend}}):
        assert paywall_checks.check_search_backend() == []


def test_the_test_settings_search_backend_passes() -> None:
    assert paywall_checks.check_search_backend() == []


# Wagtail's database backend on SQLite silently falls back to matching the columns when
# SQLite lacks FTS5 or the FTS table is missing; the check asks the same questions.
on_sqlite = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's FTS5")
DATABASE_BACKEND = {"default": {"BACKEND": "wagtail.search.backends.database"}}


def _backend_module() -> Any:
    return import_module(import_string("wagtail.search.backends.database.SearchBackend").__module__)


def _sqlite_utils(module: Any) -> Any:
    return import_module(f"{module.__name__}.sqlite.utils")


@pytest.fixture
def undecided(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Wagtail has not yet picked its SQLite backend in this process."""
    module = _backend_module()
    monkeypatch.setattr(module, "USE_SQLITE_FTS", None)
    return module


@on_sqlite
def test_sqlite_without_fts5_is_an_error_as_wagtail_falls_back_to_the_columns(
    undecided: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wagtail.search.backends import get_search_backend

    monkeypatch.setattr(_sqlite_utils(undecided), "fts5_available", lambda: False)
    with override_settings(WAGTAILSEARCH_BACKENDS=DATABASE_BACKEND):
        (message,) = paywall_checks.check_search_backend()
        # What Wagtail itself then searches with: the fallback the check names.
        assert type(get_search_backend("default")).__module__.endswith("database.fallback")

    assert message.id == E010
    assert "testapp.ArticlePage: body, premium_note" in message.msg
    assert "FTS5" in message.hint


@on_sqlite
def test_sqlite_once_wagtail_has_fallen_back_is_an_error(undecided: Any) -> None:
    undecided.USE_SQLITE_FTS = False

    with override_settings(WAGTAILSEARCH_BACKENDS=DATABASE_BACKEND):
        (message,) = paywall_checks.check_search_backend()

    assert message.id == E010


@on_sqlite
@pytest.mark.django_db
def test_sqlite_migrated_without_its_fts_table_is_an_error(
    undecided: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_sqlite_utils(undecided), "fts_table_exists", lambda: False)

    with override_settings(WAGTAILSEARCH_BACKENDS=DATABASE_BACKEND):
        (message,) = paywall_checks.check_search_backend(databases=["default"])

    assert message.id == E010


@on_sqlite
@pytest.mark.django_db
def test_sqlite_with_fts5_and_its_table_passes_and_the_check_caches_nothing(
    undecided: Any,
) -> None:
    with override_settings(WAGTAILSEARCH_BACKENDS=DATABASE_BACKEND):
        assert paywall_checks.check_search_backend(databases=["default"]) == []

    assert undecided.USE_SQLITE_FTS is None  # Wagtail still decides for itself


@on_sqlite
@pytest.mark.django_db
def test_sqlite_before_migrate_passes_as_migrate_creates_the_fts_table(
    undecided: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `migrate` runs the checks first: a new site must not be stopped before its tables exist.
    monkeypatch.setattr(_sqlite_utils(undecided), "fts_table_exists", lambda: False)
    monkeypatch.setattr(MigrationRecorder, "applied_migrations", lambda self: {})

    with override_settings(WAGTAILSEARCH_BACKENDS=DATABASE_BACKEND):
        assert paywall_checks.check_search_backend(databases=["default"]) == []


@on_sqlite
def test_a_plain_check_does_not_query_the_database_for_the_fts_table(
    undecided: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `manage.py check` and `runserver` pass no databases: Django's checks then stay off it.
    def queried() -> bool:
        raise AssertionError("the check queried the database")

    monkeypatch.setattr(_sqlite_utils(undecided), "fts_table_exists", queried)

    with override_settings(WAGTAILSEARCH_BACKENDS=DATABASE_BACKEND):
        assert paywall_checks.check_search_backend() == []
