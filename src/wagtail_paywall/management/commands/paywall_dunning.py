"""``manage.py paywall_dunning``: the retry schedule of failed payments.

Run it once a day. For each failed-payment episode whose next attempt is due on
``PAYWALL["DUNNING_RETRY_DAYS"]``, the ``fake`` provider charges the card again (after
the last failed retry the subscription ends) and a bank-transfer (``manual``) member is
reminded of the open invoice. Providers that retry by themselves (Stripe) are left to
do so. Each event goes through the webhook inbox, as a provider's would; a second run
the same day attempts nothing more. The logic is
:func:`wagtail_paywall.billing.dunning.run_dunning`.

See ``docs/dunning.md``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...billing.dunning import run_dunning
from ...tasks import deliver
from ..options import add_now


class Command(BaseCommand):
    help = "Retry failed card payments and remind bank-transfer members on the schedule (daily)."

    def add_arguments(self, parser: CommandParser) -> None:
        add_now(parser)

    def handle(
        self, *args: Any, now: datetime | None = None, verbosity: int = 1, **options: Any
    ) -> None:
        attempts = run_dunning(now)
        for attempt in attempts:
            for row in attempt.rows:
                row = deliver(row.provider, row.headers, bytes(row.body))
            if attempt.error:
                self.stderr.write(f"  {attempt.episode.membership_id}: {attempt.error}")
            elif verbosity >= 2:
                episode = attempt.episode
                self.stdout.write(
                    f"  {episode.membership_id} ({episode.provider}): {attempt.action}, "
                    f"attempt {episode.attempts}"
                )
        counts = dict.fromkeys(("retried", "reminded", "ended", "settled", "failed"), 0)
        for attempt in attempts:
            counts[attempt.action] += 1
        self.stdout.write(
            "Dunning: {retried} retried, {ended} ended after the last retry, "
            "{reminded} reminded, {settled} settled, {failed} failed.".format(**counts)
        )
        if counts["failed"]:
            raise CommandError(
                f"{counts['failed']} attempt(s) failed; they are made on the next run"
            )
