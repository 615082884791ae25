"""Real signed webhooks from localstripe, delivered over HTTP to the site's webhook view.

localstripe (a stateful Stripe-compatible server on 127.0.0.1) creates customers and
subscriptions, charges and declines cards, signs each event with the endpoint's secret
and POSTs it to ``/paywall/webhooks/stripe/`` of a live test server on 127.0.0.1. The
view verifies and stores it, the task applies it, and the provider fetches the
subscription back from localstripe before the membership changes.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model

from wagtail_paywall.models import Membership, WebhookEvent

from .conftest import LocalStripe, wait_for

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def endpoint(live_server: Any, localstripe: LocalStripe, stripe_site: None, gold: Any) -> str:
    url = f"{live_server.url}/paywall/webhooks/stripe/"
    localstripe.send_webhooks_to(url)
    return url


@pytest.fixture
def member() -> str:
    user = get_user_model().objects.create_user("reader", "reader@example.com", "pw")
    return str(user.pk)


def membership_of(member: str, status: str | None = None) -> Membership | None:
    rows = Membership.objects.filter(member_id=member)
    if status is not None:
        rows = rows.filter(status=status)
    return rows.first()


def processed_event_about(subscription_id: str) -> WebhookEvent | None:
    """The stored webhook about the subscription, once it was applied."""
    for row in WebhookEvent.objects.filter(provider="stripe", status="processed"):
        if row.events and row.events[0]["subscription"]["id"] == subscription_id:
            return row
    return None


def test_a_paid_subscription_webhook_from_localstripe_activates_the_membership(
    endpoint: str, localstripe: LocalStripe, member: str
) -> None:
    sub = localstripe.subscribe(member)

    assert wait_for(lambda: processed_event_about(sub["id"]))
    membership = membership_of(member)
    assert membership is not None
    assert membership.status == "active"
    assert membership.provider_subscription_id == sub["id"]
    assert membership.tier == "gold"
    assert membership.current_period_end.timestamp() == sub["current_period_end"]


def test_a_declined_card_leaves_the_membership_incomplete(
    endpoint: str, localstripe: LocalStripe, member: str
) -> None:
    localstripe.subscribe(member, card="pm_card_chargeCustomerFail")

    membership = wait_for(lambda: membership_of(member))

    assert membership.status == "incomplete"


def test_canceling_at_stripe_ends_the_membership_through_its_webhook(
    endpoint: str, localstripe: LocalStripe, member: str
) -> None:
    sub = localstripe.subscribe(member)
    wait_for(lambda: membership_of(member, "active"))

    localstripe.cancel_now(sub["id"])

    assert wait_for(lambda: membership_of(member, "canceled"))
