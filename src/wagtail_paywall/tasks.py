"""Webhook delivery: verify and store first, apply later in a django-tasks task.

:func:`deliver` is what the webhook endpoint (and the fake provider's payment page) does:
:func:`~wagtail_paywall.billing.inbox.receive` stores the row, then
:data:`process_webhook_event` is enqueued, so the provider's request never waits for the event
to be applied (with django-tasks' ``ImmediateBackend`` the task runs in the request).

The task retries by itself: when its row fails it enqueues itself again to run after the
row's backoff (on a backend that can defer, such as ``django_tasks_db``'s, whose
``db_worker`` then runs it) and raises, so the backend records the run as failed. After its
own row it :func:`~wagtail_paywall.billing.inbox.sweep`\\ s a few rows no task is coming back
for (failed rows past their backoff, rows whose task was lost), so a backend that cannot
defer (the ``ImmediateBackend``) retries on the next webhook. ``manage.py
paywall_process_inbox`` and the admin's "Retry" do the same on demand.

See ``docs/journey.md`` (Webhooks) and ``docs/reliability.md``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta

from django.utils import timezone
from django_tasks import TaskResultStatus, task

from .billing import inbox
from .models import WebhookEvent

logger = logging.getLogger(__name__)

#: Rows the task sweeps after its own (see :func:`~wagtail_paywall.billing.inbox.sweep`).
SWEEP_LIMIT = 5


class WebhookNotApplied(RuntimeError):
    """The task's row failed; it is retried after its backoff (``failed``) or waits for the
    admin's "Retry" (``dead``). Raised so the task backend records the run as failed."""


@task()
def process_webhook_event(event_pk: int) -> str:
    """Apply the stored webhook ``event_pk``; returns its status afterwards.

    Safe to run twice: processed and ignored rows are left alone.

    :raises WebhookNotApplied: the row failed (or is dead); a retry was enqueued for
        ``next_attempt_at`` when the backend can defer tasks.
    """
    row = WebhookEvent.objects.filter(pk=event_pk).first()
    if row is None:
        return "missing"
    try:
        row = inbox.process(row)
    except Exception:
        # Not even the failure could be recorded: retry at the first backoff.
        _retry_later(row, inbox.backoff(row.attempts + 1))
        raise
    _sweep()
    if row.status == WebhookEvent.Status.FAILED:
        scheduled = _retry_later(row)
        raise WebhookNotApplied(
            f"webhook {row.provider}:{row.event_id} failed (attempt {row.attempts}): "
            f"{row.last_error}; "
            + (
                f"retried at {row.next_attempt_at:%Y-%m-%d %H:%M:%S %Z}"
                if scheduled
                else "due again at "
                f"{row.next_attempt_at:%Y-%m-%d %H:%M:%S %Z} for the next sweep or worker"
            )
        )
    if row.status == WebhookEvent.Status.DEAD:
        raise WebhookNotApplied(
            f"webhook {row.provider}:{row.event_id} is dead after {row.attempts} attempts: "
            f"{row.last_error}; it waits for Retry in the admin's webhook inbox"
        )
    return str(row.status)


def _retry_later(row: WebhookEvent, delay: timedelta | None = None) -> bool:
    """Enqueue the task again for ``row``, to run at its ``next_attempt_at`` (or after
    ``delay``); whether the backend took it (one that cannot defer does not)."""
    if not process_webhook_event.get_backend().supports_defer:
        return False
    when = row.next_attempt_at if delay is None else timezone.now() + delay
    if when is None:
        return False
    try:
        process_webhook_event.using(run_after=when).enqueue(row.pk)
    except Exception:
        logger.exception("could not enqueue the retry of webhook %s:%s", row.provider, row.event_id)
        return False
    return True


def _sweep() -> None:
    try:
        inbox.sweep(SWEEP_LIMIT)
    except Exception:
        # The row of this task is done; a sweep failing is for the next one to redo.
        logger.exception("sweeping the webhook inbox failed")


def deliver(provider: str, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
    """Verify and store a webhook, then enqueue its processing; returns the stored row.

    :raises SignatureError: the signature is missing or wrong; nothing is stored.
    :raises MalformedEvent: the provider cannot read the body; nothing is stored.
    :raises UnknownProvider: no provider has that name.
    """
    row = inbox.receive(provider, headers, body)
    if row.status in inbox.TO_PROCESS:
        try:
            result = process_webhook_event.enqueue(row.pk)
        except Exception:
            # Stored is what matters to the provider; the row waits to be processed.
            logger.exception("could not enqueue webhook %s:%s", row.provider, row.event_id)
            return row
        if result.status in (TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED):
            # The task ran already (ImmediateBackend): answer with the row's status now.
            try:
                row.refresh_from_db(fields=["status", "attempts", "last_error", "next_attempt_at"])
            except Exception:
                logger.exception("could not re-read webhook %s:%s", row.provider, row.event_id)
    return row


@task()
def mark_members_at_risk() -> dict[str, int]:
    """The daily at-risk job (``manage.py paywall_at_risk`` does the same), for a
    django-tasks scheduler; returns the new marks per reason and the outcomes recorded.

    See :func:`wagtail_paywall.billing.at_risk.find_members_at_risk`.
    """
    from .billing.at_risk import find_members_at_risk

    run = find_members_at_risk()
    return {**run.marked, "saved": run.saved, "churned": run.churned, "notified": run.notified}


@task()
def give_loyalty_rewards() -> int:
    """The daily loyalty job (``manage.py paywall_loyalty`` does the same), for a
    django-tasks scheduler; returns how many rewards it gave.

    See :func:`wagtail_paywall.billing.loyalty.give_due_rewards`.
    """
    from .billing.loyalty import give_due_rewards

    return len(give_due_rewards())
