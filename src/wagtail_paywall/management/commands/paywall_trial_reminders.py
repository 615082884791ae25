"""``manage.py paywall_trial_reminders``: tell members whose trial ends soon.

Run it once a day. It fires the ``membership_trial_ending`` hook once per trial ending within
``--days`` (the email is :mod:`wagtail_paywall.billing.emails`);
:mod:`wagtail_paywall.billing.trials` records who was told, so a second run reminds nobody
twice. It is the one place trial reminders start, whatever the provider.

See ``docs/journey.md`` (Trial reminders).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ...billing.trials import remind_trials


class Command(BaseCommand):
    help = "Tell members whose trial ends within --days days (run daily)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days", type=int, default=3, help="notice period in days (default: 3)"
        )

    def handle(self, *args: Any, days: int, verbosity: int = 1, **options: Any) -> None:
        if days < 1:
            self.stderr.write(f"--days must be at least 1, got {days}")
            raise SystemExit(2)
        reminded = remind_trials(days)
        if verbosity >= 2:
            for row in reminded:
                self.stdout.write(f"  {row.pk}: trial ends {row.trial_end:%Y-%m-%d %H:%M}")
        self.stdout.write(f"Reminded {len(reminded)} trial(s) ending within {days} day(s).")
