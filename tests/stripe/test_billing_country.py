"""The billing country Stripe Checkout collected (``customer_details.address.country``)
travels on the canonical event, through the inbox's stored dict, to the site's segments."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from membership_sdk import BillingEvent, MalformedEvent
from membership_sdk.providers.stripe import StripeProvider

PAYLOADS = Path(__file__).parent / "payloads"


def checkout_event(version: str, kind: str, address: object = None) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((PAYLOADS / version / kind).read_text())["event"]
    event = copy.deepcopy(event)
    if address is not None:
        # Stripe's documented shape; the trimmed fixtures collected no address.
        event["data"]["object"]["customer_details"] = {"address": address, "email": "a@b.example"}
    return event


@pytest.fixture
def provider() -> StripeProvider:
    return StripeProvider("sk_test_country", webhook_secrets=["whsec_country"])


@pytest.mark.parametrize("version", ["2024-12-18.acacia", "2025-03-31.basil", "2025-09-30.clover"])
@pytest.mark.parametrize(
    "kind",
    [
        "checkout.session.completed.subscription.json",
        "checkout.session.completed.payment_paid.json",
    ],
)
def test_a_completed_checkout_carries_the_collected_country(
    provider: StripeProvider, version: str, kind: str
) -> None:
    event = checkout_event(version, kind, {"country": "de", "postal_code": "10115"})

    [billing] = provider.translate_event(event)

    assert billing.country == "DE"


def test_a_checkout_that_collected_no_address_carries_no_country(
    provider: StripeProvider,
) -> None:
    event = checkout_event("2025-09-30.clover", "checkout.session.completed.subscription.json")

    [billing] = provider.translate_event(event)

    assert billing.country is None


@pytest.mark.parametrize("country", [None, "", "Germany", 49, "D1"])
def test_an_address_without_a_country_code_carries_no_country(
    provider: StripeProvider, country: object
) -> None:
    event = checkout_event(
        "2025-09-30.clover", "checkout.session.completed.subscription.json", {"country": country}
    )

    [billing] = provider.translate_event(event)

    assert billing.country is None


def test_the_country_survives_the_inbox_round_trip(provider: StripeProvider) -> None:
    event = checkout_event(
        "2025-09-30.clover", "checkout.session.completed.subscription.json", {"country": "FR"}
    )
    [billing] = provider.translate_event(event)

    stored = json.loads(json.dumps(billing.to_dict()))

    assert stored["country"] == "FR"
    assert BillingEvent.from_dict(stored).country == "FR"


def test_an_event_without_a_country_stores_no_country_key(provider: StripeProvider) -> None:
    event = checkout_event("2025-09-30.clover", "checkout.session.completed.subscription.json")
    [billing] = provider.translate_event(event)

    assert "country" not in billing.to_dict()
    assert BillingEvent.from_dict(billing.to_dict()).country is None


def test_a_stored_event_with_a_bad_country_is_malformed_naming_it(
    provider: StripeProvider,
) -> None:
    event = checkout_event("2025-09-30.clover", "checkout.session.completed.subscription.json")
    [billing] = provider.translate_event(event)

    with pytest.raises(MalformedEvent, match=r"'country'.*'Deutschland'"):
        BillingEvent.from_dict({**billing.to_dict(), "country": "Deutschland"})
