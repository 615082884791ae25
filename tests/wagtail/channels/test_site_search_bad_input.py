"""A site's own search view, as ``wagtail start`` generates it (``/search/`` in the test
site), hands ``?query=`` straight to the search backend. A query the backend cannot read
(an unbalanced quote for SQLite's full-text search, a null character for PostgreSQL) is
the visitor's bad input: ``PaywallMiddleware`` answers it 400, never 500, on SQLite and
PostgreSQL alike, while a database that is down stays a server error.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import OperationalError, connection
from django.test import RequestFactory

from wagtail_paywall.channels.search import SearchQueryError, clean_query
from wagtail_paywall.middleware import PaywallMiddleware

pytest_plugins = ["tests.wagtail.gating_fixtures"]
pytestmark = pytest.mark.django_db


@pytest.fixture
def gated(make_article: Any, catalog: Any) -> Any:
    return make_article("tier", tiers=[catalog["premium"]])


def search(client: Any, query: str) -> Any:
    client.raise_request_exception = False
    return client.get("/search/", {"query": query})


def test_a_null_character_in_the_sites_own_search_is_a_400_naming_the_parameter(
    client: Any, gated: Any
) -> None:
    response = search(client, "churn\x00")  # PostgreSQL cannot hold it, nor SQLite's FTS5

    assert response.status_code == 400, response.content
    assert b"search query (query) cannot be read" in response.content


@pytest.mark.parametrize("query", ['churn "', '"'])
def test_an_unbalanced_quote_in_the_sites_own_search_is_never_a_500(
    client: Any, gated: Any, query: str
) -> None:
    response = search(client, query)

    # SQLite's FTS5 cannot parse it: 400; PostgreSQL's search reads it as words.
    assert response.status_code == (400 if connection.vendor == "sqlite" else 200)


def test_a_database_that_is_down_during_a_search_stays_a_server_error() -> None:
    request = RequestFactory().get("/search/", {"query": "churn"})
    down = OperationalError("connection to server at 127.0.0.1 failed: Connection refused")

    assert PaywallMiddleware(lambda r: None).process_exception(request, down) is None  # type: ignore[arg-type,return-value]


def test_a_bad_query_error_outside_a_search_is_left_to_the_site() -> None:
    request = RequestFactory().get("/report/")
    error = OperationalError("unterminated string")

    assert PaywallMiddleware(lambda r: None).process_exception(request, error) is None  # type: ignore[arg-type,return-value]


@pytest.mark.parametrize(
    ("query", "problem"),
    [('churn "', "unbalanced double quote"), ("churn\x00", "null character")],
)
def test_clean_query_refuses_what_no_backend_can_read(query: str, problem: str) -> None:
    with pytest.raises(SearchQueryError, match=problem) as refused:
        clean_query(query, "query")

    assert refused.value.parameter == "query"
