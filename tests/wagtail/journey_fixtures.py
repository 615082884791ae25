"""Fixtures of the member-journey tests: signed-in clients, the fake provider, and a
member who subscribed through it the way a browser would.

Test modules load them with ``pytest_plugins = ["tests.wagtail.journey_fixtures"]``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from membership_sdk.providers.fake import FakeProvider
from wagtail_paywall.models import Membership
from wagtail_paywall.tasks import deliver

PRICING = "/paywall/pricing/"


@pytest.fixture
def fake(program: Any) -> FakeProvider:
    """The site's fake payment service."""
    provider = program.providers["fake"]
    assert isinstance(provider, FakeProvider)
    return provider


@pytest.fixture
def login(client: Client) -> Callable[[Any], Client]:
    """Sign ``user`` in on the test client and return the client."""

    def sign_in(user: Any) -> Client:
        client.force_login(user)
        return client

    return sign_in


@pytest.fixture
def subscribe(program: Any, fake: FakeProvider) -> Callable[..., Membership]:
    """Complete a fake checkout of ``price`` for ``user`` and deliver the provider's
    webhook to the site; returns the stored membership (or raises if none)."""

    def run(user: Any, price: str = "premium-yearly") -> Membership:
        session = program.start_checkout(
            str(user.pk),
            price,
            provider="fake",
            success_url="http://testserver/paywall/checkout/success/",
            cancel_url="http://testserver/paywall/checkout/cancel/",
        )
        webhook = fake.complete_checkout(session.id)
        deliver("fake", webhook.headers, webhook.body)
        return Membership.objects.get(member_id=str(user.pk))

    return run


@pytest.fixture
def buy(program: Any, fake: FakeProvider) -> Callable[..., None]:
    """Complete a fake checkout of a one-off ``price`` for ``user``."""

    def run(user: Any, price: str = "report-2026") -> None:
        session = program.start_checkout(
            str(user.pk),
            price,
            provider="fake",
            success_url="http://testserver/paywall/checkout/success/",
            cancel_url="http://testserver/paywall/checkout/cancel/",
        )
        webhook = fake.complete_checkout(session.id)
        deliver("fake", webhook.headers, webhook.body)

    return run


@pytest.fixture
def strict_client(db: Any) -> Client:
    """A client that, like a browser, is held to Django's CSRF checks."""
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def csrf_token() -> Callable[[Client], str]:
    """The CSRF token the pricing page hands ``client`` (as its forms would post it)."""

    def token(client: Client) -> str:
        client.get(PRICING)
        return str(client.cookies["csrftoken"].value)

    return token
