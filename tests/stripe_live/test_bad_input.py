"""Bad input at the Stripe webhook view changes nothing; an unknown event type is kept and
ignored. Stripe itself is not reachable here: none of this may need it."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.test import Client

from tests.stripe.replay import event, load_objects, sign
from wagtail_paywall.models import CustomerLink, Membership, WebhookEvent

from .conftest import WEBHOOK_SECRET

pytestmark = pytest.mark.django_db

URL = "/paywall/webhooks/stripe/"


def subscription_created() -> str:
    """A ``customer.subscription.created`` event of the current API, created just now."""
    sub = load_objects()["subscription"]
    return json.dumps(
        event("customer.subscription.created", sub, id="evt_Live1", created=int(time.time()))
    )


def post(client: Client, body: str, headers: dict[str, str]) -> Any:
    return client.post(URL, data=body, content_type="application/json", headers=headers)


def nothing_stored() -> bool:
    return not (
        WebhookEvent.objects.exists()
        or Membership.objects.exists()
        or CustomerLink.objects.exists()
    )


def test_a_webhook_without_a_signature_is_refused_with_400_and_nothing_is_stored(
    client: Client, stripe_down: Any
) -> None:
    response = post(client, subscription_created(), {})

    assert response.status_code == 400
    assert response.json()["error"] == "bad signature"
    assert nothing_stored()


def test_a_webhook_signed_with_another_secret_is_refused_with_400_and_nothing_is_stored(
    client: Client, stripe_down: Any
) -> None:
    body = subscription_created()

    response = post(client, body, sign(body, "whsec_someone_else"))

    assert response.status_code == 400
    assert "matches none" in response.json()["detail"]
    assert nothing_stored()


def test_a_tampered_body_is_refused_with_400_and_nothing_is_stored(
    client: Client, stripe_down: Any
) -> None:
    body = subscription_created()
    headers = sign(body, WEBHOOK_SECRET)

    response = post(client, body.replace("active", "trialing"), headers)

    assert response.status_code == 400
    assert nothing_stored()


def test_a_replayed_webhook_older_than_the_tolerance_is_refused_with_400(
    client: Client, stripe_down: Any
) -> None:
    body = subscription_created()

    response = post(client, body, sign(body, WEBHOOK_SECRET, int(time.time()) - 3600))

    assert response.status_code == 400
    assert "older than" in response.json()["detail"]
    assert nothing_stored()


def test_an_event_type_the_site_does_not_use_is_answered_200_and_ignored(
    client: Client, stripe_down: Any
) -> None:
    customer = {"id": "cus_New", "object": "customer", "metadata": {}}
    body = json.dumps(event("customer.created", customer, id="evt_Other", created=1))

    response = post(client, body, sign(body, WEBHOOK_SECRET, int(time.time())))

    assert response.status_code == 200
    assert response.json()["status"] == "ignored"
    assert WebhookEvent.objects.get().status == "ignored"
    assert not Membership.objects.exists()
    assert not CustomerLink.objects.exists()
