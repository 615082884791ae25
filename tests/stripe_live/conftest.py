"""Fixtures for the Wagtail adapter running with the Stripe provider against localstripe.

The test site (``tests.wagtail.settings``) is configured with the ``stripe`` provider
pointed at a localstripe server on 127.0.0.1, started from scratch for the session by
:func:`tests.stripe.conftest.localstripe_url`. localstripe signs its webhooks with the
site's webhook secret and POSTs them to the site's webhook view, served by pytest-django's
``live_server`` on 127.0.0.1.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("wagtail")
pytest.importorskip("stripe")

import stripe
from django.core.cache import caches
from django.test import override_settings

from tests.stripe.conftest import WEBHOOK_SECRET, localstripe_url  # noqa: F401 (a fixture)
from wagtail_paywall import program as program_module
from wagtail_paywall.models import Price, Tier

#: The Stripe events the site's endpoint subscribes to at localstripe, as docs/stripe.md
#: tells publishers (localstripe sends no others of these).
LIVE_EVENTS = ("customer.subscription.created", "customer.subscription.deleted")


def stripe_settings(api_base: str) -> dict[str, Any]:
    """``settings.PAYWALL`` of a site selling through Stripe at ``api_base``."""
    return {
        "PROVIDERS": {
            "stripe": {
                "api_key": "sk_test_localstripe",
                "webhook_secret": WEBHOOK_SECRET,
                "api_base": api_base,
                "max_network_retries": 0,
            }
        },
        "DEFAULT_PROVIDER": "stripe",
    }


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def django_db_modify_db_settings(
    django_db_modify_db_settings_parallel_suffix: None, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """On SQLite, a test database in a file rather than in memory.

    An in-memory database is one connection, shared by the test and every thread of the
    live server: localstripe's webhooks, applied in the server's threads, then interleave
    their transactions with the test's own polling on that one connection, and SQLite
    answers with broken savepoints now and then. In a file, each thread has its own.
    """
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        folder = tmp_path_factory.mktemp("stripe_live_db")
        database.setdefault("TEST", {})["NAME"] = str(folder / "test.sqlite3")


@pytest.fixture(autouse=True)
def _fresh_program() -> Iterator[None]:
    for cache in caches.all():
        cache.clear()
    program_module.reset_program()
    yield
    program_module.reset_program()


class LocalStripe:
    """Stripe's own side (Checkout, the Dashboard, its webhook sender) on localstripe."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = stripe.StripeClient(
            "sk_test_localstripe", base_addresses={"api": url}, max_network_retries=0
        )
        self.plan = f"gold-{uuid.uuid4().hex[:8]}"
        self.call(
            "post",
            "/v1/plans",
            id=self.plan,
            amount=900,
            currency="eur",
            interval="month",
            product={"name": "Gold"},
        )

    def call(self, method: str, path: str, **params: Any) -> dict[str, Any]:
        return self.client.raw_request(method, path, **params).data  # type: ignore[no-any-return]

    def send_webhooks_to(self, url: str, events: tuple[str, ...] = LIVE_EVENTS) -> None:
        """Register (or replace) the one webhook endpoint localstripe signs and POSTs to."""
        config = json.dumps({"url": url, "secret": WEBHOOK_SECRET, "events": list(events)})
        request = urllib.request.Request(
            f"{self.url}/_config/webhooks/paywall-live",
            data=config.encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        urllib.request.urlopen(request, timeout=5).close()

    def customer(self, member_id: str, card: str = "pm_card_visa") -> str:
        found = self.call(
            "post",
            "/v1/customers",
            email=f"{member_id}@example.com",
            metadata={"member_id": member_id},
            payment_method=card,
            invoice_settings={"default_payment_method": card},
        )
        return str(found["id"])

    def subscribe(self, member_id: str, card: str = "pm_card_visa") -> dict[str, Any]:
        """What Checkout does when ``member_id`` pays for Gold with ``card``."""
        return self.call(
            "post",
            "/v1/subscriptions",
            customer=self.customer(member_id, card),
            items=[{"plan": self.plan}],
            metadata={"member_id": member_id},
        )

    def cancel_now(self, subscription_id: str) -> None:
        self.call("delete", f"/v1/subscriptions/{subscription_id}")


@pytest.fixture
def localstripe(localstripe_url: str) -> LocalStripe:  # noqa: F811
    return LocalStripe(localstripe_url)


def sell_gold(stripe_price: str) -> Price:
    """A Gold tier sold monthly through ``stripe_price``."""
    tier = Tier.objects.create(slug="gold", name="Gold", rank=1, entitlements="content.premium")
    return Price.objects.create(
        key="gold-monthly",
        tier=tier,
        amount=900,
        currency="EUR",
        interval=Price.Interval.MONTH,
        provider_ids={"stripe": stripe_price},
    )


@pytest.fixture
def gold(db: Any, localstripe: LocalStripe) -> Price:
    """A Gold tier sold monthly through the localstripe plan."""
    return sell_gold(localstripe.plan)


@pytest.fixture
def stripe_site(localstripe_url: str) -> Iterator[None]:  # noqa: F811
    """The test site sells through the session's localstripe server."""
    with override_settings(PAYWALL=stripe_settings(localstripe_url)):
        program_module.reset_program()
        yield
    program_module.reset_program()


@pytest.fixture
def no_webhooks(localstripe: LocalStripe) -> None:
    """localstripe's webhooks go nowhere: the site hears of nothing by itself."""
    localstripe.send_webhooks_to(f"http://127.0.0.1:{closed_port()}/")


@pytest.fixture
def stripe_down(db: Any) -> Iterator[Price]:
    """The site sells Gold through Stripe, and Stripe does not answer (a closed port)."""
    with override_settings(PAYWALL=stripe_settings(f"http://127.0.0.1:{closed_port()}")):
        program_module.reset_program()
        yield sell_gold("price_GoldMonthly")
    program_module.reset_program()


def wait_for(found: Callable[[], Any], seconds: float = 15.0) -> Any:
    """Poll until ``found()`` returns something truthy; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        value = found()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"nothing arrived within {seconds} s")
        time.sleep(0.05)
