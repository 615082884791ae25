"""``manage.py paywall_fulfilment``: deliveries' scheduled job and manifest exports.

- ``paywall_fulfilment freeze`` makes the manifest of every issue whose cut-off has
  passed (run it every few minutes, or hourly, from cron or a scheduled task). Freezing
  again, or twice at once, makes nothing twice.
- ``paywall_fulfilment export ISSUE [--missing] [--output FILE]`` writes an issue's
  manifest as CSV (freezing it first when due): who gets what, where; ``--missing`` the
  members entitled at the cut-off who had no address. Refused before the cut-off.
- ``paywall_fulfilment list`` shows the issues not shipped yet, with their counts.

See ``docs/deliveries.md``.
"""

from __future__ import annotations

import csv
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from ...admin.deliveries import freeze_if_due, manifest_rows
from ...models import DeliveryIssue
from ...models.deliveries import counts, freeze_due
from ...program import get_program


class Command(BaseCommand):
    help = "Freeze due delivery manifests (run often), export one as CSV, or list issues."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("freeze", help="make the manifest of every issue past its cut-off")
        export = sub.add_parser("export", help="write an issue's manifest as CSV")
        export.add_argument("issue", type=int, help="the issue's id (see `list`)")
        export.add_argument(
            "--missing", action="store_true", help="the members without an address instead"
        )
        export.add_argument("--output", help="a file to write (default: standard output)")
        sub.add_parser("list", help="issues not shipped yet, with their counts")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if action == "freeze":
            self.freeze()
        elif action == "export":
            self.export(options["issue"], missing=options["missing"], output=options["output"])
        else:
            self.list()

    def freeze(self) -> None:
        program = get_program()
        made = freeze_due(program.catalog, grace=program.grace, now=timezone.now())
        for issue in made:
            figures = counts(issue)
            self.stdout.write(
                f"Froze {issue}: {figures['receives']} recipient(s), "
                f"{figures['missing_address']} without an address, {figures['paused']} "
                f"paused, {figures['ended']} ending before it ships."
            )
        self.stdout.write(f"{len(made)} manifest(s) made.")

    def export(self, pk: int, *, missing: bool, output: str | None) -> None:
        issue = DeliveryIssue.objects.select_related("product").filter(pk=pk).first()
        if issue is None:
            raise CommandError(f"no delivery issue has the id {pk}; see `paywall_fulfilment list`")
        freeze_if_due(issue)
        if issue.frozen_at is None:
            raise CommandError(
                f"the manifest of {issue} is made at its cut-off, "
                f"{timezone.localtime(issue.cutoff).isoformat()}; not before"
            )
        rows = manifest_rows(issue, missing=missing)
        if output:
            with open(output, "w", newline="", encoding="utf-8") as handle:
                written = self._write(handle, rows)
            self.stderr.write(f"Wrote {written} line(s) of {issue} to {output}.")
        else:
            self._write(self.stdout, rows)

    @staticmethod
    def _write(handle: Any, rows: Any) -> int:
        writer = csv.writer(handle)
        written = -1  # the header is no line
        for row in rows:
            writer.writerow(row)
            written += 1
        return written

    def list(self) -> None:
        issues = DeliveryIssue.objects.filter(ships_on__gte=timezone.localdate())
        for issue in issues.select_related("product"):
            if issue.frozen_at is None:
                state = f"cut-off {timezone.localtime(issue.cutoff):%Y-%m-%d %H:%M}"
            else:
                figures = counts(issue)
                state = (
                    f"frozen: {figures['receives']} recipient(s), "
                    f"{figures['missing_address']} without an address"
                )
            self.stdout.write(f"{issue.pk}\t{issue.ships_on.isoformat()}\t{issue}\t{state}")
