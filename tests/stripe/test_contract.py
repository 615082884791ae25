"""The SDK's provider contract suite, run for the Stripe provider.

Stripe here is :class:`~tests.stripe.replay.RecordedStripe`: the real ``stripe`` SDK with an
HTTP client that answers from objects recorded in the shape of API version
2026-10-28.endive (``recordings/``), keeping the customers, Checkout Sessions and
subscriptions made through it. It is not a live Stripe: localstripe has no Checkout
Sessions or Billing Portal, which the contract's flows need, and the tests must not reach
the Internet.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from membership_sdk.providers.base import CheckoutSession, Webhook
from membership_sdk.providers.stripe import StripeProvider
from membership_sdk.testing import ProviderContract

from .replay import RecordedStripe, sign

pytestmark = pytest.mark.stripe_replay


class TestStripeProvider(ProviderContract):
    provider_name = "stripe"
    price_id = "price_RecGoldMonthly"

    @pytest.fixture(autouse=True)
    def _fresh_stripe(self) -> None:
        # One Stripe per test, shared by every provider the test builds from the config.
        self.stripe = RecordedStripe()
        self.provider_config = {
            "api_key": "sk_test_contract",
            "webhook_secret": "whsec_contract",
            "http_client": self.stripe,
            "max_network_retries": 0,
        }

    def pay(self, provider: StripeProvider, session: CheckoutSession) -> Webhook:
        body = json.dumps(self.stripe.complete_checkout(session.id)).encode()
        return self.sign(provider, body)

    def sign(self, provider: StripeProvider, body: bytes) -> Webhook:
        return Webhook(sign(body.decode(), provider.webhook_secrets[0]), body)

    def break_provider(self, provider: Any) -> None:
        self.stripe.unreachable.add("*")
