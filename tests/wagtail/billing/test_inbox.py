"""The webhook inbox: verified webhooks are stored first and applied after, never lost."""

from __future__ import annotations

from typing import Any

import pytest

from membership_sdk import BillingEvent, SignatureError, hookimpl
from wagtail_paywall.billing import inbox
from wagtail_paywall.models import Membership, WebhookEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid_webhook(program: Any, reader: Any) -> Any:
    """The webhook the fake provider sends when ``reader`` pays for Premium yearly."""
    session = program.start_checkout(
        str(reader.pk),
        "premium-yearly",
        provider="fake",
        success_url="https://example.com/ok",
        cancel_url="https://example.com/no",
    )
    return program.providers["fake"].complete_checkout(session.id)


class Failing:
    """A plugin whose welcome mail fails: applying the event must roll back."""

    @hookimpl
    def membership_activated(self, membership: Any, event: Any) -> None:
        raise ConnectionError("mail server down")


def test_a_verified_webhook_is_stored_as_received(paid_webhook: Any) -> None:
    row = inbox.receive("fake", paid_webhook.headers, paid_webhook.body)
    assert row.status == "received"
    assert row.provider == "fake"
    assert bytes(row.body) == paid_webhook.body
    assert row.events
    assert not Membership.objects.exists()


def test_a_forged_webhook_is_rejected_and_nothing_is_stored(paid_webhook: Any) -> None:
    with pytest.raises(SignatureError):
        inbox.receive("fake", paid_webhook.headers, paid_webhook.body + b" ")
    assert not WebhookEvent.objects.exists()


def test_a_webhook_delivered_twice_is_stored_once(paid_webhook: Any) -> None:
    first = inbox.receive("fake", paid_webhook.headers, paid_webhook.body)
    second = inbox.receive("fake", paid_webhook.headers, paid_webhook.body)
    assert first.pk == second.pk
    assert WebhookEvent.objects.count() == 1


def test_processing_applies_the_event(paid_webhook: Any, reader: Any) -> None:
    row = inbox.process(inbox.receive("fake", paid_webhook.headers, paid_webhook.body))
    assert row.status == "processed"
    assert row.attempts == 1
    assert row.processed_at is not None
    membership = Membership.objects.get(member_id=str(reader.pk))
    assert (membership.tier, membership.status) == ("premium", "active")


def test_a_failing_handler_marks_the_event_failed_and_keeps_nothing(
    program: Any, paid_webhook: Any
) -> None:
    program.pm.register(Failing(), name="failing-mail")
    row = inbox.process(inbox.receive("fake", paid_webhook.headers, paid_webhook.body))
    assert row.status == "failed"
    assert row.attempts == 1
    assert "mail server down" in row.last_error
    assert row.processed_at is None
    assert not Membership.objects.exists()


def test_a_failed_event_succeeds_when_retried(program: Any, paid_webhook: Any) -> None:
    failing = Failing()
    program.pm.register(failing, name="failing-mail")
    row = inbox.process(inbox.receive("fake", paid_webhook.headers, paid_webhook.body))
    program.pm.unregister(failing)
    row = inbox.process(row)
    assert (row.status, row.attempts, row.last_error) == ("processed", 2, "")
    assert Membership.objects.count() == 1


def test_a_processed_event_is_not_applied_again(paid_webhook: Any) -> None:
    row = inbox.process(inbox.receive("fake", paid_webhook.headers, paid_webhook.body))
    again = inbox.process(row)
    assert again.attempts == 1
    assert Membership.objects.count() == 1


def test_an_event_for_a_foreign_price_is_ignored_with_why(program: Any, paid_webhook: Any) -> None:
    from wagtail_paywall.models import Price

    Price.objects.filter(key="premium-yearly").update(provider_ids={})
    from wagtail_paywall.program import catalog_changed

    catalog_changed()
    row = inbox.process(inbox.receive("fake", paid_webhook.headers, paid_webhook.body))
    assert row.status == "ignored"
    assert "foreign price" in row.detail
    assert not Membership.objects.exists()


def test_pending_events_are_processed_oldest_first(paid_webhook: Any) -> None:
    inbox.receive("fake", paid_webhook.headers, paid_webhook.body)
    assert inbox.process_pending() == 1
    assert WebhookEvent.objects.get().status == "processed"


def test_an_event_survives_a_round_trip_through_json(program: Any, paid_webhook: Any) -> None:
    (event,) = program.providers["fake"].parse_webhook(paid_webhook.headers, paid_webhook.body)
    restored = BillingEvent.from_dict(event.to_dict())
    assert restored == event
