"""Wagtail's own ``PagesAPIViewSet``, routed as ``wagtail start`` and Wagtail's docs route
it (``/stock-api/v2/pages/`` on the test site), without the site's developer reading
``docs/channels.md``: ``PaywallMiddleware`` serves it through ``PaywalledPagesAPIViewSet``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.views.decorators.cache import cache_page
from wagtail.api.v2.router import WagtailAPIRouter
from wagtail.api.v2.views import PagesAPIViewSet

from tests.wagtail.gating_helpers import PREMIUM, TEASER
from wagtail_paywall.channels.api import is_stock_pages_view

pytest_plugins = ["tests.wagtail.gating_fixtures"]
pytestmark = pytest.mark.django_db

STOCK = "/stock-api/v2/pages/"


def premium_article(make_article: Any, catalog: Any) -> Any:
    return make_article("tier", tiers=[catalog["premium"]], premium_note="Premium note.")


def get(client: Any, url: str, user: Any = None, **query: Any) -> Any:
    if user is not None:
        client.force_login(user)
    response = client.get(url, query)
    assert response.status_code == 200, response.content
    return response


@pytest.mark.parametrize(
    ("url", "query"),
    [
        ("{stock}{pk}/", {}),
        ("{stock}", {"type": "testapp.ArticlePage", "fields": "body"}),
        ("{stock}", {"type": "testapp.ArticlePage", "fields": "*"}),
    ],
    ids=["detail", "fields=body", "fields=*"],
)
def test_the_stock_endpoint_gives_an_anonymous_visitor_the_teaser_only(
    client: Any, make_article: Any, catalog: Any, url: str, query: dict[str, str]
) -> None:
    page = premium_article(make_article, catalog)
    response = get(client, url.format(stock=STOCK, pk=page.pk), **query)
    text = response.content.decode()
    assert TEASER in text
    assert PREMIUM not in text
    assert "Premium note." not in text
    assert '"reason": "tier_required"' in text  # meta.paywall: the paywall's serializer


def test_the_stock_endpoint_gives_an_entitled_member_the_whole_page(
    client: Any, make_article: Any, catalog: Any, premium: Any
) -> None:
    page = premium_article(make_article, catalog)
    text = get(client, f"{STOCK}{page.pk}/", premium).content.decode()
    assert PREMIUM in text
    assert "Premium note." in text


def test_the_stock_endpoints_responses_with_a_gated_page_are_private(
    client: Any, make_article: Any, catalog: Any
) -> None:
    page = premium_article(make_article, catalog)
    response = get(client, f"{STOCK}{page.pk}/")
    assert "private" in response["Cache-Control"]
    assert "Cookie" in response["Vary"]


def test_the_stock_endpoints_find_still_points_at_its_own_detail_url(
    client: Any, make_article: Any, catalog: Any
) -> None:
    page = premium_article(make_article, catalog)
    response = client.get(f"{STOCK}find/", {"html_path": page.url})
    assert response.status_code == 302
    assert response["Location"].split("?")[0].endswith(f"{STOCK}{page.pk}/")


def test_the_stock_endpoints_detail_url_in_a_listing_is_its_own(
    client: Any, make_article: Any, catalog: Any
) -> None:
    page = premium_article(make_article, catalog)
    data = json.loads(get(client, STOCK, type="testapp.ArticlePage").content)
    assert data["items"][0]["meta"]["detail_url"].endswith(f"{STOCK}{page.pk}/")


class SiteAPIViewSet(PagesAPIViewSet):
    """A site's own endpoint: the paywall cannot know what it changed."""


@pytest.mark.parametrize(
    ("view", "swapped"),
    [
        (PagesAPIViewSet.as_view({"get": "listing_view"}), True),
        (WagtailAPIRouter("x").wrap_view(PagesAPIViewSet.as_view({"get": "detail_view"})), True),
        (cache_page(60)(PagesAPIViewSet.as_view({"get": "listing_view"})), False),
        (SiteAPIViewSet.as_view({"get": "listing_view"}), False),
    ],
    ids=["as Wagtail makes it", "routed", "decorated", "a site's own subclass"],
)
def test_only_the_stock_endpoint_as_wagtail_routes_it_is_served_through_the_paywall(
    view: Any, swapped: bool
) -> None:
    # The others cannot be swapped safely: system check E009 stops the site instead.
    assert is_stock_pages_view(view) is swapped
