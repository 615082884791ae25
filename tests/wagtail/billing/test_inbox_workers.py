"""Inbox workers: failed events come back after a backoff, give up as ``dead`` after
``INBOX_MAX_ATTEMPTS``, and ``paywall_process_inbox`` drains what is due."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from membership_sdk import ProviderError, hookimpl
from wagtail_paywall.billing import inbox
from wagtail_paywall.models import Membership, WebhookEvent

pytestmark = pytest.mark.django_db


def paywall(**extra: Any) -> Any:
    from django.conf import settings

    return override_settings(PAYWALL={**settings.PAYWALL, **extra})


@pytest.fixture
def paid_row(program: Any, reader: Any) -> WebhookEvent:
    """A received (not yet processed) webhook: ``reader`` paid for Premium yearly."""
    session = program.start_checkout(
        str(reader.pk),
        "premium-yearly",
        provider="fake",
        success_url="https://example.com/ok",
        cancel_url="https://example.com/no",
    )
    hook = program.providers["fake"].complete_checkout(session.id)
    return inbox.receive("fake", hook.headers, hook.body)


class Unreachable:
    """The payment service is down while the event is applied."""

    @hookimpl
    def membership_activated(self, membership: Any, event: Any) -> None:
        raise ProviderError("fake: unreachable", code="unreachable", retryable=True)


def test_a_failed_event_waits_for_its_backoff(program: Any, paid_row: WebhookEvent) -> None:
    program.pm.register(Unreachable(), name="down")
    before = timezone.now()
    with paywall(INBOX_RETRY_BASE=60.0):
        row = inbox.process(paid_row)

    assert (row.status, row.attempts) == ("failed", 1)
    assert before + timedelta(seconds=53) < row.next_attempt_at <= before + timedelta(seconds=61)
    assert "unreachable" in row.last_error
    assert not inbox.due().exists()
    assert inbox.due(now=row.next_attempt_at).get() == row
    assert not Membership.objects.exists()


def test_the_backoff_doubles_per_attempt_up_to_its_cap() -> None:
    with paywall(INBOX_RETRY_BASE=10.0, INBOX_RETRY_MAX=50.0):
        delays = [inbox.backoff(n).total_seconds() for n in (1, 2, 3, 4, 9)]
    for delay, full in zip(delays, (10, 20, 40, 50, 50), strict=True):
        assert 0.9 * full <= delay <= full


def test_an_event_failing_max_attempts_times_is_dead(program: Any, paid_row: WebhookEvent) -> None:
    program.pm.register(Unreachable(), name="down")
    with paywall(INBOX_MAX_ATTEMPTS=3, INBOX_RETRY_BASE=0.0):
        for _ in range(5):
            inbox.process_due(10)
    row = WebhookEvent.objects.get()
    assert (row.status, row.attempts, row.next_attempt_at) == ("dead", 3, None)
    assert not inbox.due().exists()


def test_a_dead_event_can_still_be_retried_by_hand(program: Any, paid_row: WebhookEvent) -> None:
    down = Unreachable()
    program.pm.register(down, name="down")
    with paywall(INBOX_MAX_ATTEMPTS=1):
        row = inbox.process(paid_row)
    assert row.status == "dead"
    program.pm.unregister(down)
    assert inbox.process(row).status == "processed"
    assert Membership.objects.count() == 1


def test_a_recovered_event_is_processed_and_no_longer_due(
    program: Any, paid_row: WebhookEvent
) -> None:
    down = Unreachable()
    program.pm.register(down, name="down")
    with paywall(INBOX_RETRY_BASE=0.0):
        inbox.process(paid_row)
        program.pm.unregister(down)
        assert inbox.process_due(10) == 1
    row = WebhookEvent.objects.get()
    assert (row.status, row.attempts, row.next_attempt_at) == ("processed", 2, None)


def test_a_stale_copy_of_a_processed_row_is_not_applied_again(paid_row: WebhookEvent) -> None:
    stale = WebhookEvent.objects.get(pk=paid_row.pk)
    inbox.process(paid_row)
    assert inbox.process(stale).attempts == 1
    assert WebhookEvent.objects.get().attempts == 1


def test_due_rows_come_oldest_first(paid_row: WebhookEvent) -> None:
    later = WebhookEvent.objects.create(provider="fake", event_id="evt_later", events=[])
    WebhookEvent.objects.create(provider="fake", event_id="evt_done", status="processed")

    assert list(inbox.due()) == [paid_row, later]


def test_the_command_drains_the_inbox_and_stops(paid_row: WebhookEvent, capsys: Any) -> None:
    call_command("paywall_process_inbox")
    assert WebhookEvent.objects.get().status == "processed"
    assert "processed 1 webhook event(s)" in capsys.readouterr().out


def test_the_command_once_takes_one_batch(paid_row: WebhookEvent) -> None:
    call_command("paywall_process_inbox", "--once", "--batch", "1", verbosity=0)
    assert WebhookEvent.objects.get().status == "processed"


@pytest.mark.parametrize(
    ("args", "message"), [(["--batch", "0"], "--batch"), (["--sleep", "61"], "--sleep")]
)
def test_the_command_rejects_bad_options(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("paywall_process_inbox", *args)


def test_dead_events_are_listed_in_the_admin_with_a_retry_button(
    admin_client: Any, program: Any
) -> None:
    from django.urls import reverse

    row = WebhookEvent.objects.create(
        provider="fake", event_id="evt_dead_1", status="dead", attempts=10, last_error="boom"
    )
    WebhookEvent.objects.create(provider="fake", event_id="evt_done_1", status="processed")
    listing = admin_client.get(reverse("paywall_webhooks:index"), {"status": "dead"})
    assert b"evt_dead_1" in listing.content
    assert b"evt_done_1" not in listing.content
    inspect = admin_client.get(reverse("paywall_webhooks:inspect", args=[row.pk]))
    assert "Retry this event" in inspect.content.decode()
