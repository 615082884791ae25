"""``manage.py paywall_at_risk``: mark the members at risk, and record who was saved.

Run it once a day (after the day's reading has been recorded: early in the morning). Each
reason is one SQL statement over the memberships, so a million members take seconds, not
a loop; a second run the same day adds nothing. New marks call the ``membership_at_risk``
hook. The logic is :func:`wagtail_paywall.billing.at_risk.find_members_at_risk`.

See ``docs/at-risk.md``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...billing.at_risk import find_members_at_risk
from ..options import add_now


class Command(BaseCommand):
    help = "Mark the members at risk of churning and record the outcome of earlier marks (daily)."

    def add_arguments(self, parser: CommandParser) -> None:
        add_now(parser)

    def handle(
        self, *args: Any, now: datetime | None = None, verbosity: int = 1, **options: Any
    ) -> None:
        def progress(reason: str, marked: int, saved: int, churned: int) -> None:
            if verbosity >= 1:
                self.stdout.write(
                    f"  {reason}: {marked} new, {saved} saved, {churned} churned", ending="\n"
                )
                self.stdout.flush()

        try:
            run = find_members_at_risk(now, progress=progress)
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"At risk: {sum(run.marked.values())} new marks, {run.saved} saved, "
            f"{run.churned} churned, {run.notified} notified."
        )
        if run.failed:
            raise CommandError(
                f"the membership_at_risk hook failed for {run.failed} mark(s); "
                "they are notified again on the next run"
            )
