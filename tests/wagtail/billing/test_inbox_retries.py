"""A webhook that fails to apply is retried after its backoff by what docs/journey.md sets
up, with nobody pressing "Retry": the ``db_worker`` of the database task backend, or, with
no worker at all (the ``ImmediateBackend``), the next webhook's task. The task run that
failed is recorded as failed by the backend."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone

from membership_sdk import hookimpl
from wagtail_paywall.billing import inbox
from wagtail_paywall.models import Membership, WebhookEvent
from wagtail_paywall.tasks import WebhookNotApplied, process_webhook_event

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.wagtail.journey_fixtures"]

URL = "/paywall/webhooks/fake/"
#: What docs/journey.md tells a site to configure for a worker.
DB_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
IMMEDIATE_TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
DUMMY_TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}


def paywall(**extra: Any) -> Any:
    from django.conf import settings

    return override_settings(PAYWALL={**settings.PAYWALL, **extra})


class BrokenCrm:
    """A lifecycle plugin failing while its service is down."""

    @hookimpl
    def membership_activated(self, membership: Any, event: Any) -> None:
        raise ConnectionError("CRM down")


def checkout_webhook(program: Any, member: Any) -> Any:
    session = program.start_checkout(
        str(member.pk),
        "premium-yearly",
        provider="fake",
        success_url="http://testserver/ok",
        cancel_url="http://testserver/no",
    )
    return program.providers["fake"].complete_checkout(session.id)


def post(client: Client, webhook: Any) -> Any:
    headers = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in webhook.headers.items()}
    response = client.post(URL, data=webhook.body, content_type="application/json", **headers)
    assert response.status_code == 200
    return response


def _db_worker_runs_our_tasks() -> None:
    """Skip unless django-tasks-db drives the django-tasks backport, as the paywall's task
    (and Wagtail's) is one of the backport's: from 0.13 on Django 6 it drives Django's own
    ``django.tasks`` instead and refuses the backport's tasks (docs/journey.md)."""
    pytest.importorskip("django_tasks_db")
    from django_tasks_db import compat

    if getattr(compat, "TASKS_LOGGER", "django_tasks") == "django.tasks":
        pytest.skip("django-tasks-db drives Django's own django.tasks here, not the backport")


def db_worker() -> None:
    """``manage.py db_worker --batch``: run every task that is due, then stop."""
    from unittest import mock

    # The worker closes "old" connections between tasks; inside the test's transaction
    # that would close the test's own (SQLite in memory ignores it, PostgreSQL does not).
    with mock.patch(
        "django_tasks_db.management.commands.db_worker.close_old_connections", return_value=None
    ):
        call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)


# -- the database backend and its worker ---------------------------------------------------------
def test_the_db_worker_retries_a_failed_webhook_after_its_backoff(
    client: Client, program: Any, reader: Any
) -> None:
    _db_worker_runs_our_tasks()
    from django_tasks_db.models import DBTaskResult

    crm = BrokenCrm()
    program.pm.register(crm)
    with override_settings(TASKS=DB_TASKS), paywall(INBOX_RETRY_BASE=60.0):
        post(client, checkout_webhook(program, reader))
        db_worker()
        row = WebhookEvent.objects.get()
        first, retry = DBTaskResult.objects.order_by("enqueued_at")

        assert (row.status, row.attempts) == ("failed", 1)
        assert first.status == "FAILED"  # the run failed, and the backend says so
        assert "WebhookNotApplied" in first.exception_class_path
        assert retry.status == "READY"
        assert retry.run_after == row.next_attempt_at
        assert row.next_attempt_at > timezone.now() + timedelta(seconds=50)

        program.pm.unregister(crm)
        db_worker()  # the backoff has not passed: nothing runs
        assert WebhookEvent.objects.get().status == "failed"

        # A minute later, the worker runs the retry.
        DBTaskResult.objects.filter(pk=retry.pk).update(run_after=timezone.now())
        db_worker()

    row = WebhookEvent.objects.get()
    assert (row.status, row.attempts) == ("processed", 2)
    assert Membership.objects.get(member_id=str(reader.pk)).status == "active"
    assert DBTaskResult.objects.get(pk=retry.pk).status == "SUCCESSFUL"


def test_the_db_worker_stops_retrying_a_dead_webhook(
    client: Client, program: Any, reader: Any
) -> None:
    _db_worker_runs_our_tasks()
    from django_tasks_db.models import DBTaskResult

    program.pm.register(BrokenCrm())
    with override_settings(TASKS=DB_TASKS), paywall(INBOX_RETRY_BASE=0.0, INBOX_MAX_ATTEMPTS=3):
        post(client, checkout_webhook(program, reader))
        for _ in range(5):
            db_worker()

    row = WebhookEvent.objects.get()
    assert (row.status, row.attempts) == ("dead", 3)
    assert not DBTaskResult.objects.filter(status="READY").exists()


# -- no worker: the ImmediateBackend ---------------------------------------------------------
def test_without_a_worker_the_next_webhook_retries_a_failed_one_after_its_backoff(
    client: Client, program: Any, reader: Any, make_user: Any
) -> None:
    crm = BrokenCrm()
    program.pm.register(crm)
    with override_settings(TASKS=IMMEDIATE_TASKS), paywall(INBOX_RETRY_BASE=0.0):
        post(client, checkout_webhook(program, reader))
        assert WebhookEvent.objects.get().status == "failed"
        program.pm.unregister(crm)

        post(client, checkout_webhook(program, make_user("another")))

    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"processed"}
    assert Membership.objects.get(member_id=str(reader.pk)).status == "active"


def test_without_a_worker_a_failed_webhook_waits_for_its_backoff(
    client: Client, program: Any, reader: Any, make_user: Any
) -> None:
    crm = BrokenCrm()
    program.pm.register(crm)
    with override_settings(TASKS=IMMEDIATE_TASKS), paywall(INBOX_RETRY_BASE=60.0):
        post(client, checkout_webhook(program, reader))
        program.pm.unregister(crm)
        post(client, checkout_webhook(program, make_user("another")))

    assert WebhookEvent.objects.get(status="failed").attempts == 1
    assert not Membership.objects.filter(member_id=str(reader.pk)).exists()


def test_the_immediate_backend_records_a_failed_run_as_failed(
    client: Client, program: Any, reader: Any
) -> None:
    program.pm.register(BrokenCrm())
    with override_settings(TASKS=DUMMY_TASKS):
        post(client, checkout_webhook(program, reader))
    row = WebhookEvent.objects.get()

    with override_settings(TASKS=IMMEDIATE_TASKS):
        result = process_webhook_event.enqueue(row.pk)

    assert result.status == "FAILED"
    assert result.errors[0].exception_class_path.endswith("WebhookNotApplied")
    with pytest.raises(WebhookNotApplied, match="CRM down"):
        process_webhook_event.call(row.pk)


# -- rows no task will come back for ----------------------------------------------------------
def test_a_webhook_whose_task_was_never_enqueued_is_swept_after_a_minute(
    client: Client, program: Any, reader: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    class QueueDown:
        def enqueue(self, *args: Any) -> None:
            raise ConnectionError("task queue unreachable")

    monkeypatch.setattr("wagtail_paywall.tasks.process_webhook_event", QueueDown())
    post(client, checkout_webhook(program, reader))
    now = timezone.now()

    assert inbox.sweep(now=now + timedelta(seconds=30)) == 0  # its task may still come
    assert inbox.sweep(now=now + inbox.ORPHAN_AFTER + timedelta(seconds=1)) == 1
    assert WebhookEvent.objects.get().status == "processed"
    assert Membership.objects.get(member_id=str(reader.pk)).status == "active"


def test_a_dead_or_conflicting_row_is_never_swept(program: Any) -> None:
    WebhookEvent.objects.create(provider="fake", event_id="evt_dead", status="dead", events=[])
    WebhookEvent.objects.create(
        provider="fake", event_id="conflict:x:evt_1", status="conflict", events=[]
    )

    assert inbox.sweep(now=timezone.now() + timedelta(days=1)) == 0
