"""Site search (``paywall:search``, :func:`wagtail_paywall.channels.search.search_pages`).

Results and snippets show only what the visitor may read: a query matching only a
gated page's premium text finds nothing, since the index holds only what anyone may read
of a gated page (an entitled member finds it by its title, public fields and teaser).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from tests.wagtail.gating_helpers import PREMIUM, TEASER
from wagtail_paywall.channels.search import search_pages

pytest_plugins = ["tests.wagtail.gating_fixtures"]
pytestmark = pytest.mark.django_db

PREMIUM_ONLY = "members may read"


def search(client: Any, query: str, user: Any = None) -> Any:
    if user is not None:
        client.force_login(user)
    response = client.get(reverse("paywall:search"), {"q": query})
    assert response.status_code == 200
    return response


def premium_article(make_article: Any, catalog: Any, **fields: Any) -> Any:
    return make_article("tier", tiers=[catalog["premium"]], **fields)


def test_a_query_matching_only_premium_text_finds_nothing_for_an_anonymous_visitor(
    client: Any, make_article: Any, catalog: Any
) -> None:
    page = premium_article(make_article, catalog, title="Quarterly outlook")
    html = search(client, PREMIUM_ONLY).content.decode()
    assert page.title not in html
    assert "No pages found" in html


def test_a_query_matching_only_premium_text_finds_nothing_even_for_an_entitled_member(
    client: Any, make_article: Any, catalog: Any, premium: Any
) -> None:
    # The index holds what anyone may read of a gated page (the documented trade-off).
    page = premium_article(make_article, catalog, title="Quarterly outlook")
    html = search(client, PREMIUM_ONLY, premium).content.decode()
    assert page.title not in html


def test_an_entitled_member_finds_a_gated_page_by_its_teaser_with_a_snippet_of_it(
    client: Any, make_article: Any, catalog: Any, premium: Any
) -> None:
    page = premium_article(make_article, catalog, title="Quarterly outlook")
    html = search(client, "teaser paragraph", premium).content.decode()
    assert page.title in html
    assert TEASER in html


def test_a_query_matching_the_teaser_finds_the_page_with_a_snippet_of_the_teaser_only(
    client: Any, make_article: Any, catalog: Any, reader: Any
) -> None:
    page = premium_article(make_article, catalog, title="Quarterly outlook")
    html = search(client, "teaser paragraph", reader).content.decode()
    assert page.title in html
    assert TEASER in html
    assert PREMIUM not in html


def test_a_query_matching_a_plain_premium_field_finds_nothing_for_a_visitor_without_access(
    client: Any, make_article: Any, catalog: Any, supporter: Any
) -> None:
    premium_article(make_article, catalog, premium_note="Confidential forecast figures.")
    html = search(client, "confidential forecast", supporter).content.decode()
    assert "No pages found" in html


def test_a_public_page_is_found_by_any_of_its_text(
    client: Any, make_article: Any, request_for: Any
) -> None:
    page = make_article("public")
    hits = search_pages(request_for(), PREMIUM_ONLY)
    assert [hit.page.pk for hit in hits] == [page.pk]


def test_search_results_are_private_and_vary_on_the_cookie(
    client: Any, make_article: Any, catalog: Any
) -> None:
    premium_article(make_article, catalog)
    response = search(client, "teaser")
    assert "private" in response["Cache-Control"]
    assert "Cookie" in response["Vary"]
