"""``manage.py paywall_import_members FILE``: import members from another platform.

The logic is :mod:`wagtail_paywall.imports` (and the reading of each platform's export
:mod:`membership_sdk.imports`); this module adds the command line and its output. See
``docs/import-export.md``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from membership_sdk.imports import ENCODINGS, ImportFileError, Platform, parse_tier_map

from ...imports import ERROR, import_members

#: A progress line every this many rows.
EVERY = 100


def _day(value: str) -> datetime:
    try:
        return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
    except ValueError:
        raise CommandError(f"--paid-through {value!r} is not a date such as 2026-12-31") from None


class Command(BaseCommand):
    help = "Import members from a Ghost, Substack or Memberful export, or a generic CSV."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the CSV file to import")
        parser.add_argument(
            "--format",
            required=True,
            choices=[p.value for p in Platform],
            help="whose export the file is",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="report what would change; write nothing"
        )
        parser.add_argument(
            "--tier-map",
            action="append",
            default=[],
            metavar="PLAN=TIER",
            help="map a plan name of the old platform to a tier slug (repeat, or separate "
            "pairs with commas), as 'Gold=premium'",
        )
        parser.add_argument("--tier", help="the tier of paid members whose row names no plan")
        parser.add_argument(
            "--paid-through",
            type=_day,
            help="the end of paid access of paid members whose row has no date (YYYY-MM-DD)",
        )
        parser.add_argument(
            "--encoding", choices=ENCODINGS, default="utf-8", help="the file's text encoding"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run = options["dry_run"]
        err = self.stderr

        def progress(done: int) -> None:
            if done % EVERY == 0:
                err.write(f"{done} row(s) read")

        try:
            tier_map = parse_tier_map(options["tier_map"])
            with open(options["file"], "rb") as stream:
                report = import_members(
                    stream,
                    options["format"],
                    tier_map=tier_map,
                    default_tier=options["tier"],
                    default_paid_through=options["paid_through"],
                    encoding=options["encoding"],
                    dry_run=dry_run,
                    progress=progress,
                )
        except OSError as exc:
            raise CommandError(f"cannot read {options['file']!r}: {exc.strerror}") from exc
        except ImportFileError as exc:
            raise CommandError(str(exc)) from exc
        prefix = "(dry run) " if dry_run else ""
        for row in report.rows:
            detail = f": {row.detail}" if row.detail else ""
            line = f"{prefix}line {row.line} {row.outcome}: {row.email or '(no email)'}{detail}"
            (self.stderr if row.outcome == ERROR else self.stdout).write(line)
        self.stdout.write(prefix + report.summary())
