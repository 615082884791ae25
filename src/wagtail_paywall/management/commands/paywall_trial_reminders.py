"""``manage.py paywall_trial_reminders``: tell members whose trial ends soon.

Run it once a day (cron, a systemd timer, a scheduled task). For every trialing
membership whose trial ends within ``--days`` (3 by default) it fires the
``membership_trial_ending`` hook once per trial, which sends the "trial ending" email
(:mod:`wagtail_paywall.emails`) and any plugin's own reaction. Running it again, or twice
at once, reminds nobody twice: a :class:`~wagtail_paywall.models.TrialReminder` row per
membership and trial end records who was told.

Providers' own warnings (Stripe's ``customer.subscription.trial_will_end``) arrive as
ordinary subscription updates, so this command is the one place trial reminders start,
whatever the provider.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from ...journey_models import TrialReminder
from ...models import Membership
from ...program import get_program


def remind_trials(days: int, *, now: Any = None) -> list[Membership]:
    """Fire ``membership_trial_ending`` for trials ending within ``days``, once each;
    returns the memberships reminded now."""
    now = now or timezone.now()
    program = get_program()
    ending = Membership.objects.filter(
        status=Membership.Status.TRIALING,
        trial_end__gt=now,
        trial_end__lte=now + timedelta(days=days),
    ).order_by("trial_end")
    reminded = []
    for row in ending:
        with transaction.atomic():
            _, created = TrialReminder.objects.get_or_create(
                membership_id=row.pk, trial_end=row.trial_end
            )
            if created:
                program.pm.hook.membership_trial_ending(membership=row.to_core(), event=None)
                reminded.append(row)
    return reminded


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
