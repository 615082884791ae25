"""``manage.py paywall_gifts``: send the gift emails that are due.

Run it once a day (or more often). It emails recipients whose chosen day has come, offers
holders whose gift ends within ``--days`` to subscribe, and sends buyers any code email a
failed send left behind (:func:`wagtail_paywall.billing.gifts.send_due`). Each email goes
once per gift, so running it again, or twice at once, sends nothing twice.

See ``docs/gifts.md``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ...billing.gifts import ENDING_NOTICE_DAYS, send_due


class Command(BaseCommand):
    help = "Send gift codes due today and reminders of gifts ending soon (run daily)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=ENDING_NOTICE_DAYS,
            help=f"days before a gift ends to remind its holder (default: {ENDING_NOTICE_DAYS})",
        )

    def handle(self, *args: Any, days: int, **options: Any) -> None:
        if days < 1:
            self.stderr.write(f"--days must be at least 1, got {days}")
            raise SystemExit(2)
        sent = send_due(notice=timedelta(days=days))
        self.stdout.write(
            f"Sent {sent.buyers} code(s) to buyers, {sent.recipients} to recipients and "
            f"{sent.reminders} reminder(s) of gifts ending within {days} day(s)."
        )
