"""Simulated providers list their subscriptions page by page (for reconciling)."""

from __future__ import annotations

import pytest
from sdk_builders import fake_of, paid_without_webhook

from membership_sdk import MembershipProgram, ProviderError, Status
from membership_sdk.providers import SubscriptionListing
from membership_sdk.providers.fake import FakeProvider
from membership_sdk.testing import sample_catalog, sample_program


@pytest.fixture
def program() -> MembershipProgram:
    catalog = sample_catalog("fake", monthly="fake_gold_m", yearly="fake_gold_y")
    return sample_program(catalog, config={"fake": {"secret": "whsec_test"}})


@pytest.fixture
def fake(program: MembershipProgram) -> FakeProvider:
    return fake_of(program)


def test_the_fake_provider_can_list_subscriptions(fake: FakeProvider) -> None:
    assert isinstance(fake, SubscriptionListing)


def test_listing_walks_every_subscription_in_pages_with_its_member_and_total(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    subs = {paid_without_webhook(program, fake, m): m for m in ("ann", "bob", "cy")}

    first = fake.list_subscriptions(limit=2)
    last = fake.list_subscriptions(after=first.next_cursor, limit=2)

    listed = [*first.subscriptions, *last.subscriptions]
    assert {s.snapshot.id: s.member_id for s in listed} == subs
    assert first.total == last.total == 3
    assert last.next_cursor is None
    assert all(s.snapshot.status is Status.ACTIVE for s in listed)


def test_listing_includes_ended_subscriptions(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    sub = paid_without_webhook(program, fake, "ann")
    fake.expire(sub)

    [listed] = fake.list_subscriptions().subscriptions

    assert listed.snapshot.status is Status.EXPIRED


def test_listing_during_an_outage_is_a_retryable_provider_error(fake: FakeProvider) -> None:
    fake.simulate_outage()
    with pytest.raises(ProviderError) as caught:
        fake.list_subscriptions()
    assert caught.value.retryable is True
