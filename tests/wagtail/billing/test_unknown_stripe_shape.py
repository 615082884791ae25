"""A verified Stripe webhook of a shape this SDK version cannot read is kept in the inbox
and fails closed (no access), naming the fields it lacks; an upgraded SDK applies it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client, override_settings

from wagtail_paywall.billing import inbox
from wagtail_paywall.models import Membership, Price, WebhookEvent
from wagtail_paywall.program import get_program, reset_program

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.wagtail.journey_fixtures"]

STRIPE_SECRET = "whsec_tests_unknown_shape"
PAYLOAD = (
    Path(__file__).parents[2]
    / "stripe/payloads/2025-09-30.clover"
    / "customer.subscription.updated.active_without_any_period_end.json"
)


@pytest.fixture
def stripe_site(catalog: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    pytest.importorskip("stripe")
    Price.objects.filter(key="premium-monthly").update(
        provider_ids={"fake": "fake_price_premium_monthly", "stripe": "price_PayGoldMonthly"}
    )
    paywall = {
        **settings.PAYWALL,
        "PROVIDERS": {
            **settings.PAYWALL["PROVIDERS"],
            "stripe": {"api_key": "sk_test_unknown_shape", "webhook_secret": STRIPE_SECRET},
        },
    }
    with override_settings(PAYWALL=paywall):
        reset_program()
        program = get_program()
        # The event carries the subscription; Stripe is not asked again in this test.
        monkeypatch.setattr(program.providers["stripe"], "fetch_subscription", lambda _id: None)
        yield program
    reset_program()


def deliver_unknown_shape(client: Client, member: str) -> Any:
    from tests.stripe.replay import sign

    event = json.loads(PAYLOAD.read_text())["event"]
    event["data"]["object"]["metadata"]["member_id"] = member
    body = json.dumps(event)
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in sign(body, STRIPE_SECRET).items()}
    return client.post(
        "/paywall/webhooks/stripe/", data=body, content_type="application/json", **extra
    )


def test_an_unknown_shape_is_kept_failed_naming_the_fields_and_grants_nothing(
    client: Client, stripe_site: Any, reader: Any
) -> None:
    response = deliver_unknown_shape(client, str(reader.pk))

    assert response.status_code == 200
    row = WebhookEvent.objects.get(provider="stripe", event_id="evt_Pay23")
    assert row.status == WebhookEvent.Status.FAILED
    assert "items.data[].current_period_end" in row.last_error
    assert row.events == []
    assert not Membership.objects.filter(member_id=str(reader.pk)).exists()


def test_a_redelivery_of_the_kept_webhook_is_the_same_row(
    client: Client, stripe_site: Any, reader: Any
) -> None:
    deliver_unknown_shape(client, str(reader.pk))
    deliver_unknown_shape(client, str(reader.pk))
    assert WebhookEvent.objects.filter(provider="stripe", event_id="evt_Pay23").count() == 1


def test_once_the_sdk_reads_the_shape_the_kept_webhook_applies(
    client: Client, stripe_site: Any, reader: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from membership_sdk.providers.stripe import translate

    deliver_unknown_shape(client, str(reader.pk))
    # An upgrade that knows where this API version keeps the period end.
    period_end = datetime(2026, 3, 1, tzinfo=UTC)
    monkeypatch.setattr(translate, "period_end", lambda _subscription: period_end)

    row = inbox.process(WebhookEvent.objects.get(provider="stripe", event_id="evt_Pay23"))

    assert row.status == WebhookEvent.Status.PROCESSED
    membership = Membership.objects.get(member_id=str(reader.pk), provider="stripe")
    assert (membership.status, membership.current_period_end) == ("active", period_end)
