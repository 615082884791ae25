"""``DjangoStore`` keeps what the core stores, with the port's guarantees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection

from membership_sdk import (
    ApplyResult,
    BillingEvent,
    Entitlement,
    EventType,
    Grant,
    GrantKind,
    Membership,
    Outcome,
    Status,
    SubscriptionSnapshot,
)
from wagtail_paywall.models import MeterUsage, WebhookEvent
from wagtail_paywall.store import DjangoStore

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def store() -> DjangoStore:
    return DjangoStore()


def _membership(store: DjangoStore, **changes: Any) -> Membership:
    fields: dict[str, Any] = {
        "id": store.memberships.new_id(),
        "member_id": "7",
        "tier": "premium",
        "status": Status.ACTIVE,
        "provider": "fake",
        "provider_subscription_id": "sub_1",
        "started_at": NOW,
        "current_period_end": NOW + timedelta(days=30),
        "version": (3, "evt_3"),
    }
    fields.update(changes)
    return Membership(**fields)


def test_a_membership_reads_back_as_it_was_saved(store: DjangoStore) -> None:
    membership = _membership(store, cancel_at_period_end=True, price_id="premium-monthly")
    store.memberships.save(membership)
    assert store.memberships.get(membership.id) == membership


def test_a_membership_is_found_by_its_provider_subscription(store: DjangoStore) -> None:
    membership = _membership(store)
    store.memberships.save(membership)
    assert store.memberships.by_provider_id("fake", "sub_1") == membership
    assert store.memberships.by_provider_id("stripe", "sub_1") is None


def test_saving_a_membership_again_replaces_it(store: DjangoStore) -> None:
    membership = _membership(store)
    store.memberships.save(membership)
    store.memberships.save(membership.replace(status=Status.PAST_DUE, version=(4, "evt_4")))
    (only,) = store.memberships.for_member("7")
    assert (only.status, only.version) == (Status.PAST_DUE, (4, "evt_4"))


def test_an_unknown_provider_status_reads_back_as_unknown(store: DjangoStore) -> None:
    membership = _membership(store, status=Status.UNKNOWN)
    store.memberships.save(membership)
    assert store.memberships.get(membership.id).status is Status.UNKNOWN  # type: ignore[union-attr]


def test_a_grant_reads_back_with_its_entitlements_and_quota(store: DjangoStore) -> None:
    grant = Grant(
        id=store.grants.new_id(),
        member_id="7",
        kind=GrantKind.GIFT,
        starts_at=NOW,
        ends_at=NOW + timedelta(days=10),
        entitlements=(
            Entitlement.parse("downloads: 5 per month"),
            Entitlement.parse("course.python-101"),
        ),
        source="fake:pi_1",
        note="from Ada",
    )
    store.grants.save(grant)
    assert store.grants.get(grant.id) == grant
    assert store.grants.by_source("fake:pi_1") == grant
    assert store.grants.for_member("7") == [grant]


def test_customers_link_both_ways(store: DjangoStore) -> None:
    store.customers.link("fake", "cus_1", "7")
    assert store.customers.member_for("fake", "cus_1") == "7"
    assert store.customers.customer_for("fake", "7") == "cus_1"
    assert store.customers.member_for("stripe", "cus_1") is None


def _event(event_id: str = "evt_1") -> BillingEvent:
    return BillingEvent(
        provider="fake",
        id=event_id,
        type=EventType.SUBSCRIPTION_CREATED,
        occurred_at=NOW,
        subscription=SubscriptionSnapshot(
            id="sub_1", customer_id="cus_1", price="p", status=Status.ACTIVE, version=1
        ),
    )


def test_an_event_is_seen_once_recorded(store: DjangoStore) -> None:
    assert not store.inbox.seen("fake", "evt_1")
    store.inbox.record(ApplyResult(Outcome.APPLIED, _event()))
    assert store.inbox.seen("fake", "evt_1")
    assert WebhookEvent.objects.get(event_id="evt_1").status == "processed"


def test_a_received_but_unprocessed_event_is_not_seen(store: DjangoStore) -> None:
    WebhookEvent.objects.create(provider="fake", event_id="evt_1", status="received")
    assert not store.inbox.seen("fake", "evt_1")


def test_an_ignored_event_is_recorded_with_why(store: DjangoStore) -> None:
    store.inbox.record(ApplyResult(Outcome.IGNORED, _event(), detail="foreign price 'p'"))
    row = WebhookEvent.objects.get(event_id="evt_1")
    assert (row.status, row.detail) == ("ignored", "foreign price 'p'")


def test_a_resource_counts_once_however_often_it_is_recorded(store: DjangoStore) -> None:
    for minutes in (0, 5, 60):
        store.meters.record("7", "articles", "page:1", NOW + timedelta(minutes=minutes))
    assert MeterUsage.objects.count() == 1
    assert store.meters.usage("7", NOW - timedelta(days=1)) == {"articles": {"page:1": NOW}}


def test_usage_reports_the_latest_charge_of_each_resource(store: DjangoStore) -> None:
    last_month = NOW - timedelta(days=31)
    store.meters.record("7", "articles", "page:1", last_month)
    store.meters.record("7", "articles", "page:1", NOW)
    usage = store.meters.usage("7", NOW - timedelta(days=366))
    assert usage["articles"]["page:1"] == NOW


def test_usage_before_since_is_left_out(store: DjangoStore) -> None:
    store.meters.record("7", "articles", "page:1", NOW - timedelta(days=40))
    assert store.meters.usage("7", NOW - timedelta(days=30)) == {}


def test_a_failing_transaction_keeps_nothing(store: DjangoStore) -> None:
    membership = _membership(store)

    def apply() -> None:
        with store.atomic("fake:sub_1"):
            store.memberships.save(membership)
            raise RuntimeError("handler failed")

    with pytest.raises(RuntimeError):
        apply()
    assert store.memberships.get(membership.id) is None


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
def test_a_transaction_holds_an_advisory_lock_on_postgresql(store: DjangoStore) -> None:
    def advisory_locks() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_locks"
                " WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
            )
            return int(cursor.fetchone()[0])

    with store.atomic("fake:sub_1"):
        assert advisory_locks() == 1
