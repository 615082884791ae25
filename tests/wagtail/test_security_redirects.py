"""Open redirects: a ``next`` that leaves the site is never followed.

Every place the journey sends a visitor back to (the checkout's success and cancel
URLs, the cancel page's redirect, the success page's "continue" link, the pricing page's
forms) falls back to a page of this site when ``next`` points anywhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from membership_sdk.providers.fake import FakeProvider

pytest_plugins = ["tests.wagtail.journey_fixtures"]

FOREIGN = [
    "//evil.example/phish",
    "https://evil.example/phish",
    "http://evil.example/phish",
    "\\\\evil.example/phish",
    "/\\evil.example/phish",
    "\\/evil.example/phish",
    "https:evil.example/phish",
    "///evil.example/phish",
    "http://testserver@evil.example/phish",
    " //evil.example/phish",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
]


def safe(url: str) -> bool:
    """Whether ``url`` stays on this site."""
    lowered = url.lower()
    return "evil.example" not in lowered and "javascript:" not in lowered and "data:" not in lowered


@pytest.fixture
def member(
    client: Client, catalog: dict[str, Any], reader: Any, login: Callable[..., Client]
) -> Client:
    return login(reader)


@pytest.mark.parametrize("target", FOREIGN)
def test_the_checkout_never_sends_the_provider_a_foreign_return_url(
    member: Client, fake: FakeProvider, target: str
) -> None:
    response = member.post("/paywall/checkout/", {"price": "premium-monthly", "next": target})

    session = fake.checkout(response["Location"].rstrip("/").rsplit("/", 1)[-1])
    for url in (session.success_url, session.cancel_url):
        assert urlsplit(url).netloc == "testserver"
        assert parse_qs(urlsplit(url).query)["next"] == ["/paywall/pricing/"]


@pytest.mark.parametrize("target", FOREIGN)
def test_the_cancel_page_never_redirects_off_the_site(client: Client, target: str) -> None:
    response = client.get("/paywall/checkout/cancel/", {"next": target})

    assert response.status_code == 302
    assert response["Location"] == "/paywall/pricing/"


@pytest.mark.parametrize("target", FOREIGN)
def test_the_success_page_never_links_off_the_site(member: Client, target: str) -> None:
    html = member.get("/paywall/checkout/success/", {"next": target}).content.decode()

    assert safe(html)


@pytest.mark.parametrize("target", FOREIGN)
def test_the_pricing_page_never_carries_a_foreign_next_into_its_forms(
    member: Client, target: str
) -> None:
    html = member.get("/paywall/pricing/", {"next": target}).content.decode()

    assert safe(html)


def test_a_local_next_is_kept(client: Client) -> None:
    response = client.get("/paywall/checkout/cancel/", {"next": "/premium-article/?x=1"})

    assert response["Location"] == "/premium-article/?x=1"
