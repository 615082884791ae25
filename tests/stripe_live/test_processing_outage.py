"""Stripe unreachable while a stored webhook is applied: the event waits, retried with a
growing backoff and never marked processed, and is applied once Stripe answers again.

The Stripe provider fetches the subscription before applying any event about it, so an
outage at that moment fails the event (a retryable ``ProviderError``); the inbox keeps
it ``failed`` with ``next_attempt_at`` pushed back, and a worker takes it again then.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings

from tests.stripe.replay import sign
from wagtail_paywall import program as program_module
from wagtail_paywall.billing import inbox
from wagtail_paywall.models import Membership, WebhookEvent

from .conftest import WEBHOOK_SECRET, LocalStripe, closed_port, stripe_settings

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db]

URL = "/paywall/webhooks/stripe/"


@pytest.fixture
def subscribed(gold: Any, no_webhooks: None, localstripe: LocalStripe) -> tuple[str, bytes]:
    """A member subscribed at Stripe; returns their id and Stripe's event, as delivered."""
    member = str(get_user_model().objects.create_user("reader").pk)
    sub = localstripe.subscribe(member)
    found = localstripe.call("get", "/v1/events", type="customer.subscription.created", limit=100)
    [event] = [e for e in found["data"] if e["data"]["object"]["id"] == sub["id"]]
    return member, json.dumps(event).encode()


def stripe_at(url: str) -> override_settings:
    program_module.reset_program()
    return override_settings(PAYWALL=stripe_settings(url))


def deliver(client: Client, body: bytes) -> Any:
    headers = sign(body.decode(), WEBHOOK_SECRET)
    return client.post(URL, data=body, content_type="application/json", headers=headers)


def test_an_event_arriving_while_stripe_is_down_is_kept_failed_with_a_retry_time(
    client: Client, subscribed: tuple[str, bytes]
) -> None:
    member, body = subscribed
    with stripe_at(f"http://127.0.0.1:{closed_port()}"):
        response = deliver(client, body)

    row = WebhookEvent.objects.get()
    assert response.status_code == 200  # stored: Stripe must not resend it
    assert row.status == "failed"
    assert "Stripe is unreachable" in row.last_error
    assert row.next_attempt_at is not None
    assert row.processed_at is None
    assert not Membership.objects.filter(member_id=member).exists()


def test_retries_while_stripe_stays_down_back_off_further_and_never_mark_it_processed(
    client: Client, subscribed: tuple[str, bytes]
) -> None:
    _, body = subscribed
    with stripe_at(f"http://127.0.0.1:{closed_port()}"):
        deliver(client, body)
        waits = []
        for _ in range(3):
            row = WebhookEvent.objects.get()
            tried_at = row.next_attempt_at
            assert inbox.process_due(now=tried_at + timedelta(seconds=1)) == 1
            row.refresh_from_db()
            waits.append((row.next_attempt_at - tried_at).total_seconds())

    assert row.status == "failed"
    assert row.attempts == 4
    assert row.processed_at is None
    assert waits[0] < waits[1] < waits[2]


def test_the_event_is_applied_when_stripe_answers_again(
    client: Client, subscribed: tuple[str, bytes], localstripe: LocalStripe
) -> None:
    member, body = subscribed
    with stripe_at(f"http://127.0.0.1:{closed_port()}"):
        deliver(client, body)
    due_at = WebhookEvent.objects.get().next_attempt_at

    with stripe_at(localstripe.url):
        assert inbox.process_due(now=due_at + timedelta(seconds=1)) == 1
        program_module.reset_program()

    row = WebhookEvent.objects.get()
    assert row.status == "processed"
    assert row.last_error == ""
    assert Membership.objects.get(member_id=member).status == "active"


def test_a_failed_event_is_not_retried_before_its_backoff_ends(
    client: Client, subscribed: tuple[str, bytes], localstripe: LocalStripe
) -> None:
    _, body = subscribed
    with stripe_at(f"http://127.0.0.1:{closed_port()}"):
        deliver(client, body)

    with stripe_at(localstripe.url):
        assert inbox.process_due() == 0

    assert WebhookEvent.objects.get().status == "failed"
