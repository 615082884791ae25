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


def test_an_sqlite_without_insert_returning_stores_a_webhook_once(
    paid_webhook: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite before 3.35 (Django 5.2 runs on 3.31) has no INSERT ... RETURNING.
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("only SQLite releases lack INSERT ... RETURNING")
    monkeypatch.setattr(connection.features, "can_return_columns_from_insert", False)

    first = inbox.receive("fake", paid_webhook.headers, paid_webhook.body)
    second = inbox.receive("fake", paid_webhook.headers, paid_webhook.body)

    assert first.pk == second.pk
    assert first.status == "received"
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


def _with_other_content(program: Any, webhook: Any) -> Any:
    """``webhook``'s event id, signed by the provider, but carrying other content (the
    period ending a day later)."""
    import json

    body = json.loads(webhook.body)
    body["data"]["current_period_end"] += 86400
    return program.providers["fake"].signer.sign(json.dumps(body).encode())


def test_a_different_body_under_a_stored_event_id_is_kept_apart_and_never_applied(
    program: Any, paid_webhook: Any, caplog: pytest.LogCaptureFixture
) -> None:
    first = inbox.process(inbox.receive("fake", paid_webhook.headers, paid_webhook.body))
    other = _with_other_content(program, paid_webhook)

    with caplog.at_level("WARNING", logger="wagtail_paywall.billing.inbox"):
        conflict = inbox.receive("fake", other.headers, other.body)

    assert conflict.pk != first.pk
    assert conflict.status == "conflict"
    assert first.event_id in conflict.event_id
    assert bytes(conflict.body) == other.body  # kept for inspection
    assert f"row {first.pk}" in conflict.detail
    assert "different body" in caplog.text
    assert conflict not in inbox.due()
    assert WebhookEvent.objects.get(pk=first.pk).events != conflict.events
    assert Membership.objects.count() == 1


def test_the_same_conflicting_body_twice_is_kept_once(program: Any, paid_webhook: Any) -> None:
    inbox.receive("fake", paid_webhook.headers, paid_webhook.body)
    other = _with_other_content(program, paid_webhook)

    one = inbox.receive("fake", other.headers, other.body)
    two = inbox.receive("fake", other.headers, other.body)

    assert one.pk == two.pk
    assert WebhookEvent.objects.filter(status="conflict").count() == 1


def test_a_redelivery_signed_anew_is_a_duplicate_not_a_conflict(
    program: Any, paid_webhook: Any
) -> None:
    import json

    first = inbox.receive("fake", paid_webhook.headers, paid_webhook.body)
    # The same event, serialised again (keys in another order) and signed anew.
    body = json.dumps(json.loads(paid_webhook.body), sort_keys=True, indent=1).encode()
    resent = program.providers["fake"].signer.sign(body)

    assert body != paid_webhook.body
    assert inbox.receive("fake", resent.headers, resent.body).pk == first.pk
    assert not WebhookEvent.objects.filter(status="conflict").exists()


def test_conflicts_are_listed_in_the_admin_inbox_without_a_retry_button(
    admin_client: Any, program: Any, paid_webhook: Any
) -> None:
    from django.urls import reverse

    inbox.receive("fake", paid_webhook.headers, paid_webhook.body)
    other = _with_other_content(program, paid_webhook)
    conflict = inbox.receive("fake", other.headers, other.body)

    listing = admin_client.get(reverse("paywall_webhooks:index"), {"status": "conflict"})
    inspect = admin_client.get(reverse("paywall_webhooks:inspect", args=[conflict.pk]))

    assert conflict.event_id in listing.content.decode()
    assert "Retry this event" not in inspect.content.decode()
    assert "different body" in inspect.content.decode()


def test_retrying_a_conflict_by_hand_applies_nothing(
    admin_client: Any, program: Any, paid_webhook: Any
) -> None:
    from django.urls import reverse

    inbox.receive("fake", paid_webhook.headers, paid_webhook.body)
    other = _with_other_content(program, paid_webhook)
    conflict = inbox.receive("fake", other.headers, other.body)

    response = admin_client.post(reverse("paywall_webhooks:retry", args=[conflict.pk]), follow=True)

    assert "never applied" in response.content.decode()
    assert WebhookEvent.objects.get(pk=conflict.pk).status == "conflict"
    assert not Membership.objects.exists()
