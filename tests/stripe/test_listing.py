"""Listing every subscription page by page (for reconciling), against localstripe."""

from __future__ import annotations

import uuid

import pytest

from membership_sdk import ProviderError, Status
from membership_sdk.providers import SubscriptionListing
from membership_sdk.providers.stripe import StripeProvider

from .test_localstripe import Stripe

pytestmark = pytest.mark.localstripe


@pytest.fixture
def server(localstripe_url: str) -> Stripe:
    return Stripe(localstripe_url)


def test_the_stripe_provider_can_list_subscriptions(localstripe: StripeProvider) -> None:
    assert isinstance(localstripe, SubscriptionListing)


def test_listing_walks_every_subscription_page_by_page_with_its_member(
    localstripe: StripeProvider, server: Stripe
) -> None:
    made = {}
    for _ in range(3):
        who = f"member-{uuid.uuid4().hex[:8]}"
        made[server.subscribe(server.customer(who), who)["id"]] = who
    seen: dict[str, str | None] = {}
    cursor: str | None = None
    pages = 0
    while True:
        page = localstripe.list_subscriptions(after=cursor, limit=2)
        pages += 1
        assert len(page.subscriptions) <= 2
        seen.update((s.snapshot.id, s.member_id) for s in page.subscriptions)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages >= 2
    assert {sub: seen[sub] for sub in made} == made
    snapshot = localstripe.fetch_subscription(next(iter(made)))
    assert snapshot is not None
    assert snapshot.status is Status.ACTIVE


def test_listing_while_stripe_is_unreachable_is_a_retryable_provider_error() -> None:
    provider = StripeProvider("sk_test_x", api_base="http://127.0.0.1:9", max_network_retries=0)
    with pytest.raises(ProviderError) as caught:
        provider.list_subscriptions()
    assert caught.value.retryable is True
