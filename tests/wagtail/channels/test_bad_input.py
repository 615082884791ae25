"""Bad input to search and to the API answers 400 naming the parameter, never 500, on
SQLite and PostgreSQL alike: an unbalanced quote (SQLite's full-text search cannot parse
it), an unknown ``search_operator``, a filter value its field cannot hold, a null
character (PostgreSQL refuses it), and a filter or an order on a withheld field (it would
tell the field's value).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.urls import reverse

pytest_plugins = ["tests.wagtail.gating_fixtures"]
pytestmark = pytest.mark.django_db

APIS = ["/api/v2/pages/", "/stock-api/v2/pages/"]

#: what is wrong -> (query, the parameter the 400 names).
BAD_API_QUERIES: dict[str, tuple[dict[str, str], str]] = {
    "an unbalanced quote": ({"search": 'churn "'}, "search"),
    "a quote alone": ({"search": '"'}, "search"),
    "an unknown operator": ({"search": "churn", "search_operator": "xor"}, "search_operator"),
    "a date that is no date": ({"first_published_at": "x"}, "first_published_at"),
    "a date of a specific type": (
        {"type": "testapp.ArticlePage", "last_published_at": "yesterday"},
        "last_published_at",
    ),
    "a null character": ({"search": "churn\x00"}, "search"),
    "300 words": ({"search": " ".join(["churn"] * 300)}, "search"),
    "a filter on a premium field": (
        {"type": "testapp.ArticlePage", "premium_note": "Premium note."},
        "premium_note",
    ),
    "an order by a premium field": (
        {"type": "testapp.ArticlePage", "order": "-premium_note"},
        "premium_note",
    ),
    "a filter on the body": ({"type": "testapp.ArticlePage", "body": "[]"}, "body"),
}


@pytest.fixture
def gated(make_article: Any, catalog: Any) -> Any:
    return make_article("tier", tiers=[catalog["premium"]], premium_note="Premium note.")


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("wrong", BAD_API_QUERIES)
def test_bad_input_to_the_api_is_a_400_naming_the_parameter(
    client: Any, gated: Any, api: str, wrong: str
) -> None:
    query, parameter = BAD_API_QUERIES[wrong]
    client.raise_request_exception = False
    response = client.get(api, query)
    assert response.status_code == 400, response.content
    assert parameter in json.loads(response.content)["message"]


@pytest.mark.parametrize("api", APIS)
def test_a_null_character_in_find_is_a_400(client: Any, gated: Any, api: str) -> None:
    client.raise_request_exception = False
    response = client.get(f"{api}find/", {"html_path": "/x\x00/"})
    assert response.status_code == 400
    assert "html_path" in json.loads(response.content)["message"]


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("operator", ["and", "or", "OR"])
def test_a_known_operator_and_quotes_in_pairs_are_fine(
    client: Any, gated: Any, api: str, operator: str
) -> None:
    query = {"search": '"teaser paragraph"', "search_operator": operator}
    response = client.get(api, query)
    assert response.status_code == 200
    assert [item["id"] for item in json.loads(response.content)["items"]] == [gated.pk]


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ('churn "', "unbalanced double quote"),
        ('"', "unbalanced double quote"),
        ('say "hello', "unbalanced double quote"),
        (" ".join(["churn"] * 300), "more than 64 words"),
    ],
    ids=["trailing quote", "a quote alone", "an open phrase", "300 words"],
)
def test_bad_input_to_site_search_is_a_400_page_saying_what_is_wrong(
    client: Any, gated: Any, query: str, problem: str
) -> None:
    response = client.get(reverse("paywall:search"), {"q": query})
    assert response.status_code == 400
    html = response.content.decode()
    assert problem in html
    assert 'name="q"' in html  # the form, to search again


def test_punctuation_alone_in_site_search_finds_nothing(client: Any, gated: Any) -> None:
    response = client.get(reverse("paywall:search"), {"q": "( * : -"})
    assert response.status_code == 200
    assert gated.title not in response.content.decode()
