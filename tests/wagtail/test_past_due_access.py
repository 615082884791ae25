"""A past-due member keeps access until the last *paid* period ends plus ``GRACE_DAYS``
(3 in the test settings), read from the stored ``paid_through``, never through the new,
unpaid period the provider already started."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from membership_sdk import Membership as CoreMembership
from membership_sdk import MinTier, Resource, Status
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
