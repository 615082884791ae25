"""``manage.py paywall_usage``: bill usage-based add-ons (``docs/usage.md``).

Run it regularly (hourly, or at least daily). It

1. reports to the provider every record's units beyond the included quota that it has
   not taken yet (a report that failed when the use was recorded: Stripe was down);
   each report carries its record's identifier, so none is billed twice;
2. closes the usage periods that have ended: a provider that invoices usage on its own
   (``manual``, bank transfer) issues one invoice for each period's extra use. A second
   run, or two at once, invoice nothing more.

``--report-only`` and ``--close-only`` do one of the two.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ... import usage


class Command(BaseCommand):
    help = (
        "Report extra use to the providers (retrying failed reports) and invoice the extra "
        "use of ended periods where the provider invoices it on its own (run regularly)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        only = parser.add_mutually_exclusive_group()
        only.add_argument("--report-only", action="store_true", help="only send reports")
        only.add_argument("--close-only", action="store_true", help="only close ended periods")

    def handle(
        self, *args: Any, report_only: bool = False, close_only: bool = False, **options: Any
    ) -> None:
        if not close_only:
            sent = usage.report_pending()
            self.stdout.write(
                f"Usage reports: {sent.reported} sent, {sent.failed} failed (retried next run)."
            )
        if not report_only:
            run = usage.close_periods()
            self.stdout.write(
                f"Usage periods: {run.closed} closed, {len(run.invoices)} invoice(s) issued"
                + (f" ({', '.join(run.invoices)})" if run.invoices else "")
                + f", {run.failed} failed, {run.unbillable} with no provider to bill them."
            )
