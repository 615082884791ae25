"""``manage.py paywall_export_members``: every member as CSV, on stdout or into a file.

The rows and columns are :mod:`wagtail_paywall.exports`'s. See ``docs/import-export.md``.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...exports import csv_lines


class Command(BaseCommand):
    help = "Write every member (status, tier, price, period end, source) as CSV."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", "-o", help="the file to write (default: stdout)")

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["output"]
        if not path:
            for line in csv_lines():
                self.stdout.write(line, ending="")
            return
        try:
            with open(path, "w", encoding="utf-8", newline="") as out:
                for line in csv_lines():
                    out.write(line)
        except OSError as exc:
            raise CommandError(f"cannot write {path!r}: {exc.strerror}") from exc
