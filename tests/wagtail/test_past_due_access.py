"""A past-due member keeps access until the last *paid* period ends plus ``GRACE_DAYS``
(3 in the test settings), read from the stored ``paid_through``, never through the new,
unpaid period the provider already started."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from membership_sdk import BillingEvent, EventType, MinTier, Resource, Status, SubscriptionSnapshot
from membership_sdk import Membership as CoreMembership
from wagtail_paywall.access import check_access
from wagtail_paywall.models import Membership
from wagtail_paywall.store import DjangoStore

pytestmark = pytest.mark.django_db

PREMIUM = Resource("page:1", MinTier("premium"))


def past_due(member: Any, *, paid_days_ago: float | None) -> None:
    now = timezone.now()
    Membership.objects.create(
        member_id=str(member.pk),
        tier="premium",
        status="past_due",
        provider="stripe",
        provider_subscription_id="sub_past_due",
        # The provider started the next period two days ago, and its charge failed.
        current_period_end=now + timedelta(days=28),
        paid_through=None if paid_days_ago is None else now - timedelta(days=paid_days_ago),
    )


def test_within_the_grace_days_after_the_paid_period_a_past_due_member_reads(
    request_for: Any, reader: Any, catalog: Any, program: Any
) -> None:
    past_due(reader, paid_days_ago=2)
    assert check_access(request_for(reader), PREMIUM).allowed


def test_past_the_grace_days_the_unpaid_period_gives_no_access(
    request_for: Any, reader: Any, catalog: Any, program: Any
) -> None:
    past_due(reader, paid_days_ago=4)
    assert not check_access(request_for(reader), PREMIUM).allowed


def test_the_store_keeps_what_was_paid_for(reader: Any) -> None:
    store = DjangoStore()
    paid = timezone.now().replace(microsecond=0)
    membership = CoreMembership(
        id=store.memberships.new_id(),
        member_id=str(reader.pk),
        tier="premium",
        status=Status.PAST_DUE,
        provider="stripe",
        provider_subscription_id="sub_kept",
        current_period_end=paid + timedelta(days=30),
        paid_through=paid,
    )
    store.memberships.save(membership)
    stored = store.memberships.get(membership.id)
    assert stored is not None
    assert stored.paid_through == paid


def roll(member: Any, event_id: str, version: int, status: Status, **snapshot: Any) -> BillingEvent:
    return BillingEvent(
        provider="fake",
        id=event_id,
        type=EventType.SUBSCRIPTION_UPDATED,
        occurred_at=timezone.now(),
        member_id=str(member.pk),
        subscription=SubscriptionSnapshot(
            id="sub_left_past_due",
            customer_id="cus_left_past_due",
            price="fake_price_premium_monthly",
            status=status,
            version=version,
            **snapshot,
        ),
    )


def test_a_subscription_left_past_due_gets_no_new_grace_when_its_period_rolls_on(
    request_for: Any, reader: Any, catalog: Any, program: Any
) -> None:
    # Paid until 32 days ago; the next period (32 days ago to yesterday) went unpaid, and
    # the one after it began yesterday, still unpaid: Stripe's "leave the subscription
    # past-due". Today is within the grace days of that roll, not of the paid period.
    now = timezone.now().replace(microsecond=0)
    paid, unpaid, rolled = now - timedelta(days=32), now - timedelta(days=1), now
    program.apply(
        roll(reader, "evt_paid", 1, Status.ACTIVE, current_period_end=paid, paid_through=paid)
    )
    program.apply(
        roll(reader, "evt_due", 2, Status.PAST_DUE, current_period_end=unpaid, unpaid_since=paid)
    )
    program.apply(
        roll(
            reader,
            "evt_rolled",
            3,
            Status.PAST_DUE,
            current_period_end=rolled + timedelta(days=30),
            unpaid_since=unpaid,
        )
    )
    assert Membership.objects.get(provider_subscription_id="sub_left_past_due").paid_through == paid
    assert not check_access(request_for(reader), PREMIUM).allowed
