"""Headers: gated responses stay out of shared caches, public pages stay cacheable, and no
page of the paywall can be framed by another site (clickjacking).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import caches
from django.test import Client, RequestFactory, override_settings
from django.utils.cache import get_cache_key

from tests.wagtail.gating_helpers import PREMIUM

pytest_plugins = ["tests.wagtail.gating_fixtures", "tests.wagtail.journey_fixtures"]
pytestmark = pytest.mark.django_db

PERSONAS = ["anonymous", "reader", "lapsed", "supporter", "metered_out", "premium"]
CACHE_MIDDLEWARE = [
    "django.middleware.cache.UpdateCacheMiddleware",
    "django.middleware.cache.FetchFromCacheMiddleware",
]


def get_as(user: Any, url: str) -> Any:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client.get(url)


def cache_control(response: Any) -> set[str]:
    return {part.strip() for part in response.get("Cache-Control", "").split(",") if part}


def varies_on_cookie(response: Any) -> bool:
    return "cookie" in response.get("Vary", "").lower()


@pytest.mark.parametrize("persona", PERSONAS, indirect=True)
def test_a_gated_page_is_private_and_varies_on_the_session(
    persona: Any, make_article: Callable[..., Any], catalog: Any
) -> None:
    page = make_article("tier", paywall_min_tier=catalog["premium"])

    response = get_as(persona, page.url)

    assert "private" in cache_control(response)
    assert "public" not in cache_control(response)
    assert varies_on_cookie(response)


def test_a_public_page_stays_cacheable(make_article: Callable[..., Any]) -> None:
    page = make_article("public")

    response = get_as(None, page.url)

    assert response.status_code == 200
    assert not cache_control(response) & {"private", "no-store", "no-cache"}


def test_django_cache_middleware_stores_a_public_page_but_never_a_gated_one(
    settings: Any, make_article: Callable[..., Any], catalog: Any, premium: Any
) -> None:
    public = make_article("public")
    gated = make_article("tier", paywall_min_tier=catalog["premium"])
    middleware = [CACHE_MIDDLEWARE[0], *settings.MIDDLEWARE, CACHE_MIDDLEWARE[1]]

    with override_settings(MIDDLEWARE=middleware, CACHE_MIDDLEWARE_SECONDS=600):
        get_as(None, public.url)
        served = get_as(premium, gated.url)

    assert PREMIUM in served.content.decode()
    assert get_cache_key(RequestFactory().get(public.url), cache=caches["default"]) is not None
    assert get_cache_key(RequestFactory().get(gated.url), cache=caches["default"]) is None


def test_a_refused_download_is_never_stored(tmp_path: Any, catalog: Any, reader: Any) -> None:
    from django.core.files.base import ContentFile
    from django.urls import reverse

    from tests.wagtail.testapp.models import PaywalledDocument

    with override_settings(
        WAGTAILDOCS_DOCUMENT_MODEL="testapp.PaywalledDocument", MEDIA_ROOT=str(tmp_path)
    ):
        document = PaywalledDocument(
            title="Report", paywall_rule="tier", paywall_min_tier_id="premium"
        )
        document.file.save("report.pdf", ContentFile(b"%PDF"), save=False)
        document.save()
        response = get_as(
            reader, reverse("wagtaildocs_serve", args=(document.pk, document.filename))
        )

    assert response.status_code == 403
    assert "no-store" in cache_control(response)


@pytest.mark.parametrize(
    "url", ["/paywall/account/", "/paywall/checkout/success/"], ids=["account", "success"]
)
def test_member_pages_are_never_stored(url: str, reader: Any, catalog: Any) -> None:
    response = get_as(reader, url)

    assert response.status_code == 200
    assert "no-store" in cache_control(response)


@pytest.mark.parametrize(
    "url",
    [
        "/paywall/pricing/",
        "/paywall/account/",
        "/paywall/checkout/success/",
        "/paywall/search/?q=x",
    ],
)
def test_paywall_pages_refuse_to_be_framed(url: str, reader: Any, catalog: Any) -> None:
    response = get_as(reader, url)

    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"


def test_a_gated_page_refuses_to_be_framed(make_article: Callable[..., Any], catalog: Any) -> None:
    page = make_article("tier", paywall_min_tier=catalog["premium"])

    assert get_as(None, page.url)["X-Frame-Options"] == "DENY"


def test_the_fake_payment_page_refuses_to_be_framed(reader: Any, program: Any) -> None:
    session = program.start_checkout(
        str(reader.pk),
        "premium-yearly",
        provider="fake",
        success_url="http://testserver/paywall/checkout/success/",
        cancel_url="http://testserver/paywall/checkout/cancel/",
    )

    response = get_as(reader, f"/paywall/fake/checkout/{session.id}/")

    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
