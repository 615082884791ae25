"""``manage.py paywall_bank_transfers``: the ``manual`` provider's daily schedule.

Run it once a day on a site that takes bank transfers. It issues renewal invoices
``due_days`` before a period ends, makes a subscription whose renewal is unpaid on its
due date past due, voids invoices ``expire_days`` past their due date (an unpaid
renewal then ends its subscription) and ends subscriptions set to cancel whose period
is over. Each change's event goes through the webhook inbox, as a confirmed transfer's
does; a second run the same day changes nothing.

See ``docs/manual.md`` (The schedule).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ...billing import manual
from ...models import ManualInvoice
from ...tasks import deliver


class Command(BaseCommand):
    help = (
        "Issue renewal invoices, mark unpaid renewals past due and expire overdue bank "
        "transfer invoices (run daily)."
    )

    def handle(self, *args: Any, verbosity: int = 1, **options: Any) -> None:
        try:
            rows = manual.run_schedule()
        except manual.NotConfigured as exc:
            raise CommandError(str(exc)) from exc
        for row in rows:
            row = deliver(row.provider, row.headers, bytes(row.body))
            if verbosity >= 2:
                self.stdout.write(f"  {row.event_id}: {row.event_type} ({row.status})")
        open_invoices = ManualInvoice.objects.filter(state=ManualInvoice.State.OPEN)
        overdue = open_invoices.filter(due_at__lte=timezone.now()).count()
        self.stdout.write(
            f"Bank transfers: {len(rows)} event(s) sent; {open_invoices.count()} invoice(s) "
            f"open, {overdue} overdue."
        )
