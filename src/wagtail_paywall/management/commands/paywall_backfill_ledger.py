"""``manage.py paywall_backfill_ledger``: write the membership ledger's history of the
memberships stored before it existed, so the membership report covers them.

The work is :func:`wagtail_paywall.reports.ledger.backfill`; this module adds the command
line and its progress. Running it again writes nothing more. See ``docs/metrics.md``.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from ...reports.ledger import backfill


class Command(BaseCommand):
    help = "Write the membership ledger for memberships that have no ledger entry yet."

    def handle(self, *args: Any, **options: Any) -> None:
        quiet = options["verbosity"] == 0

        def progress(done: int, total: int) -> None:
            if not quiet:
                self.stdout.write(f"{done}/{total} memberships")

        written = backfill(progress)
        self.stdout.write(self.style.SUCCESS(f"Wrote {written} ledger entries."))
