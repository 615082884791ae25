"""Webhook delivery: verify and store first, apply later in a django-tasks task.

:func:`deliver` is what the webhook endpoint (and the fake provider's payment page) does:
:func:`~wagtail_paywall.billing.inbox.receive` stores the row, then
:data:`process_webhook_event` is enqueued, so the provider's request never waits for the event
to be applied (with django-tasks' ``ImmediateBackend`` the task runs in the request). If the
task cannot be enqueued, the row stays ``received`` for the inbox workers
(``manage.py paywall_process_inbox``) or the admin's "Retry".

See ``docs/journey.md`` (Webhooks).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from django_tasks import task

from .billing import inbox
from .models import WebhookEvent

logger = logging.getLogger(__name__)


@task()
def process_webhook_event(event_pk: int) -> str:
    """Apply the stored webhook ``event_pk``; returns its status afterwards.

    Safe to run twice: processed and ignored rows are left alone.
    """
    row = WebhookEvent.objects.filter(pk=event_pk).first()
    if row is None:
        return "missing"
    return str(inbox.process(row).status)


def deliver(provider: str, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
    """Verify and store a webhook, then enqueue its processing; returns the stored row.

    :raises SignatureError: the signature is missing or wrong; nothing is stored.
    :raises MalformedEvent: the provider cannot read the body; nothing is stored.
    :raises UnknownProvider: no provider has that name.
    """
    row = inbox.receive(provider, headers, body)
    if row.status in inbox.TO_PROCESS:
        try:
            process_webhook_event.enqueue(row.pk)
        except Exception:
            # Stored is what matters to the provider; the row waits to be processed.
            logger.exception("could not enqueue webhook %s:%s", row.provider, row.event_id)
        row.refresh_from_db()
    return row
