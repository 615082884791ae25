"""Stripe unreachable while a visitor starts a checkout: a clear error page, nothing kept."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from wagtail_paywall.models import CustomerLink, Membership, WebhookEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client: Client) -> Client:
    user = get_user_model().objects.create_user("reader", "reader@example.com", "pw")
    client.force_login(user)
    return client


def test_checkout_while_stripe_is_unreachable_shows_a_clear_error_page(
    signed_in: Client, stripe_down: Any
) -> None:
    response = signed_in.post(
        "/paywall/checkout/", {"price": "gold-monthly", "provider": "stripe", "attempt": "a1"}
    )

    assert response.status_code == 502
    page = response.content.decode()
    assert "The payment service is not answering" in page
    assert "Nothing was charged; please try again later." in page
    assert 'href="/paywall/pricing/"' in page


def test_checkout_while_stripe_is_unreachable_leaves_no_partial_state(
    signed_in: Client, stripe_down: Any
) -> None:
    signed_in.post("/paywall/checkout/", {"price": "gold-monthly", "provider": "stripe"})

    assert not Membership.objects.exists()
    assert not CustomerLink.objects.exists()
    assert not WebhookEvent.objects.exists()
