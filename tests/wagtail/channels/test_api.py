"""Wagtail API v2 through ``PaywalledPagesAPIViewSet`` (``/api/v2/pages/``).

A visitor without access gets the teaser blocks of a gated page's body and an empty
premium field, in listings (``fields=*``), detail and search; ``meta.paywall`` says why
and what would unlock it. An entitled member gets the whole page.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.wagtail.gating_helpers import PREMIUM, TEASER

pytest_plugins = ["tests.wagtail.gating_fixtures"]
pytestmark = pytest.mark.django_db

ARTICLES = "/api/v2/pages/?type=testapp.ArticlePage&fields=*"


def api(client: Any, url: str, user: Any = None) -> Any:
    if user is not None:
        client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200, response.content
    return response


def text(response: Any) -> str:
    return response.content.decode()


def premium_article(make_article: Any, catalog: Any) -> Any:
    return make_article("tier", tiers=[catalog["premium"]], premium_note="Premium note.")


def test_a_listing_with_all_fields_gives_an_anonymous_visitor_the_teaser_only(
    client: Any, make_article: Any, catalog: Any
) -> None:
    premium_article(make_article, catalog)
    body = text(api(client, ARTICLES))
    assert TEASER in body
    assert PREMIUM not in body
    assert "Premium note." not in body


def test_a_listing_with_all_fields_gives_an_entitled_member_the_whole_body(
    client: Any, make_article: Any, catalog: Any, premium: Any
) -> None:
    premium_article(make_article, catalog)
    body = text(api(client, ARTICLES, premium))
    assert PREMIUM in body
    assert "Premium note." in body


def test_the_detail_view_gives_a_member_of_a_lower_tier_the_teaser_only(
    client: Any, make_article: Any, catalog: Any, supporter: Any
) -> None:
    page = premium_article(make_article, catalog)
    body = text(api(client, f"/api/v2/pages/{page.pk}/", supporter))
    assert TEASER in body
    assert PREMIUM not in body


def test_the_detail_view_gives_an_entitled_member_the_whole_body(
    client: Any, make_article: Any, catalog: Any, premium: Any
) -> None:
    page = premium_article(make_article, catalog)
    assert PREMIUM in text(api(client, f"/api/v2/pages/{page.pk}/", premium))


def test_meta_paywall_names_the_reason_and_the_offers_for_a_visitor_without_access(
    client: Any, make_article: Any, catalog: Any, reader: Any
) -> None:
    page = premium_article(make_article, catalog)
    data = json.loads(text(api(client, f"/api/v2/pages/{page.pk}/", reader)))
    paywall = data["meta"]["paywall"]
    assert paywall["allowed"] is False
    assert paywall["reason"] == "tier_required"
    assert [offer["slug"] for offer in paywall["offers"]] == ["premium"]


def test_meta_paywall_says_allowed_for_a_public_page(client: Any, make_article: Any) -> None:
    page = make_article("public")
    data = json.loads(text(api(client, f"/api/v2/pages/{page.pk}/")))
    assert data["meta"]["paywall"] == {
        "allowed": True,
        "reason": "public",
        "teaser": False,
        "offers": [],
    }
    assert PREMIUM in json.dumps(data)


def test_a_search_matching_only_premium_text_finds_nothing_for_a_visitor_without_access(
    client: Any, make_article: Any, catalog: Any
) -> None:
    premium_article(make_article, catalog)
    data = json.loads(text(api(client, "/api/v2/pages/?search=members+may+read&fields=*")))
    assert data["meta"]["total_count"] == 0
    assert data["items"] == []


def test_a_search_matching_the_teaser_finds_the_page_with_its_teaser_only(
    client: Any, make_article: Any, catalog: Any
) -> None:
    page = premium_article(make_article, catalog)
    data = json.loads(text(api(client, "/api/v2/pages/?search=Teaser+paragraph")))
    assert [item["id"] for item in data["items"]] == [page.pk]
    assert PREMIUM not in json.dumps(data)


def test_a_search_matching_only_premium_text_finds_nothing_even_for_an_entitled_member(
    client: Any, make_article: Any, catalog: Any, premium: Any
) -> None:
    # The index holds what anyone may read of a gated page (the documented trade-off).
    premium_article(make_article, catalog)
    data = json.loads(text(api(client, "/api/v2/pages/?search=members+may+read", premium)))
    assert data["items"] == []


def test_a_search_matching_the_teaser_gives_an_entitled_member_the_whole_body(
    client: Any, make_article: Any, catalog: Any, premium: Any
) -> None:
    page = premium_article(make_article, catalog)
    url = "/api/v2/pages/?search=Teaser+paragraph&type=testapp.ArticlePage&fields=body"
    data = json.loads(text(api(client, url, premium)))
    assert [item["id"] for item in data["items"]] == [page.pk]
    assert PREMIUM in json.dumps(data)


def test_a_listing_never_spends_a_metered_read(
    client: Any, make_article: Any, catalog: Any, reader: Any
) -> None:
    make_article("metered", tiers=[catalog["premium"]])
    data = json.loads(text(api(client, ARTICLES, reader)))
    assert PREMIUM not in json.dumps(data)
    assert data["items"][0]["meta"]["paywall"]["reason"] == "metered"


def test_the_detail_view_spends_a_metered_read_like_opening_the_page(
    client: Any, make_article: Any, catalog: Any, reader: Any
) -> None:
    page = make_article("metered", tiers=[catalog["premium"]])
    data = json.loads(text(api(client, f"/api/v2/pages/{page.pk}/", reader)))
    assert data["meta"]["paywall"]["allowed"] is True
    assert PREMIUM in json.dumps(data)


def test_a_listing_with_a_gated_page_is_private_and_varies_on_the_cookie(
    client: Any, make_article: Any, catalog: Any
) -> None:
    premium_article(make_article, catalog)
    response = api(client, ARTICLES)
    assert "private" in response["Cache-Control"]
    assert "Cookie" in response["Vary"]
