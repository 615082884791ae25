"""``manage.py paywall_lifecycle``: pauses that end by themselves, and cancellations to
retry.

Run it hourly (at least daily). It resumes every pause whose ``paused_until`` has come
at the providers that leave that to the site (the ``fake`` provider; Stripe resumes by
itself, and ``paywall_bank_transfers`` resumes the ``manual`` provider's). Each resume
goes through the webhook inbox; a second run resumes nothing more. The logic is
:func:`wagtail_paywall.billing.pauses.resume_due_pauses`.

It then tries again every cancellation declaration (§312k BGB) a provider failed to
carry out, until it is applied
(:func:`wagtail_paywall.billing.cancellation.retry_failed`; ``docs/cancellation.md``).

See ``docs/lifecycle.md`` (Pauses).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ...billing.cancellation import retry_failed
from ...billing.pauses import resume_due_pauses
from ...tasks import deliver
from ..options import add_now


class Command(BaseCommand):
    help = (
        "Resume the pauses that are due and retry failed cancellations "
        "(run hourly, at least daily)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_now(parser)

    def handle(
        self, *args: Any, now: datetime | None = None, verbosity: int = 1, **options: Any
    ) -> None:
        sent = resume_due_pauses(now)
        for provider, webhook in sent:
            row = deliver(provider, webhook.headers, webhook.body)
            if verbosity >= 2:
                self.stdout.write(f"  {provider} {row.event_id}: {row.event_type} ({row.status})")
        self.stdout.write(f"Pauses: {len(sent)} resumed.")
        completed = retry_failed(now)
        self.stdout.write(f"Cancellations: {len(completed)} failed ones completed.")
