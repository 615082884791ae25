"""Django's cache middleware and ``cache_page`` on a paywalled site.

A gated page is ``Cache-Control: private`` and varies on the cookie, so no shared
cache stores what an entitled member was shown; a public page stays cacheable.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import caches
from django.test import override_settings

from tests.wagtail.gating_helpers import PREMIUM
from tests.wagtail.settings import CACHES, MIDDLEWARE

pytest_plugins = ["tests.wagtail.gating_fixtures"]
pytestmark = pytest.mark.django_db

CACHED_SITE = override_settings(
    MIDDLEWARE=[
        "django.middleware.cache.UpdateCacheMiddleware",
        *MIDDLEWARE,
        "django.middleware.cache.FetchFromCacheMiddleware",
    ],
    CACHE_MIDDLEWARE_SECONDS=600,
    # Pages go to a cache of their own (in memory, whatever the default cache is, Redis
    # in CI), so a test can list what the middleware stored.
    CACHES={**CACHES, "pages": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
    CACHE_MIDDLEWARE_ALIAS="pages",
)


def cached_pages() -> list[str]:
    return [key for key in caches["pages"]._cache if "cache_page" in key]  # type: ignore[attr-defined]


@CACHED_SITE
def test_a_page_an_entitled_member_read_is_not_served_from_the_cache_to_a_visitor(
    client: Any, make_article: Any, catalog: Any, premium: Any
) -> None:
    page = make_article("tier", tiers=[catalog["premium"]])
    client.force_login(premium)
    assert PREMIUM in client.get(page.url).content.decode()
    client.logout()
    assert PREMIUM not in client.get(page.url).content.decode()


@CACHED_SITE
def test_a_gated_response_is_private_and_never_stored(
    client: Any, make_article: Any, catalog: Any, premium: Any
) -> None:
    page = make_article("tier", tiers=[catalog["premium"]])
    client.force_login(premium)
    response = client.get(page.url)
    assert "private" in response["Cache-Control"]
    assert "Cookie" in response["Vary"]
    assert cached_pages() == []


@CACHED_SITE
def test_a_public_page_stays_cacheable(client: Any, make_course: Any) -> None:
    page = make_course("public")
    response = client.get(page.url)
    assert "private" not in response.get("Cache-Control", "")
    assert cached_pages() != []


def test_a_gated_page_a_member_reads_is_not_kept_even_by_the_browser(
    client: Any, make_article: Any, catalog: Any, premium: Any
) -> None:
    page = make_article("tier", tiers=[catalog["premium"]])
    client.force_login(premium)
    assert "no-store" in client.get(page.url)["Cache-Control"]


def test_a_teaser_for_an_anonymous_visitor_is_private_but_may_stay_in_the_browser(
    client: Any, make_article: Any, catalog: Any
) -> None:
    page = make_article("tier", tiers=[catalog["premium"]])
    cache_control = client.get(page.url)["Cache-Control"]
    assert "private" in cache_control
    assert "no-store" not in cache_control
