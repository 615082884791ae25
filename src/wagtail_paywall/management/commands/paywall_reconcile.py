"""``manage.py paywall_reconcile``: make the site's memberships match the provider's.

Walks every subscription the provider holds, ended ones too, repairs memberships whose
webhooks were lost, and ends live memberships whose subscription the provider no longer has.
The algorithm is :mod:`membership_sdk.reconcile` and the site glue (the state file
``--resume`` continues from) is :mod:`wagtail_paywall.billing.reconcile`; this module adds
the command line and its output.

See ``docs/stripe.md`` (Reconciling with Stripe).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser

from membership_sdk.errors import ReconcileError, ReconcileInterrupted
from membership_sdk.reconcile import MAX_VANISHED, OUTCOMES, UNCHANGED, Finding

from ... import conf
from ...billing.reconcile import StateFile, reconcile_site


class Progress:
    """A one-line text progress bar on a terminal; a line per page elsewhere (logs).

    Implements :class:`membership_sdk.reconcile.Progress`.
    """

    def __init__(self, out: TextIO, label: str, *, enabled: bool = True) -> None:
        self.out, self.label, self.enabled = out, label, enabled
        self.tty = enabled and out.isatty()

    def show(self, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        if total:
            filled = min(30, 30 * done // total)
            text = f"{self.label} [{'#' * filled}{'.' * (30 - filled)}] {done}/{total}"
        else:
            text = f"{self.label}: {done} subscription(s)"
        self.out.write(f"\r{text}" if self.tty else f"{text}\n")
        self.out.flush()

    def next_step(self, label: str) -> None:
        """Finish this bar's line and show a new bar under ``label`` from here on."""
        self.close()
        self.label = label

    def close(self) -> None:
        if self.tty:
            self.out.write("\n")
            self.out.flush()


class Command(BaseCommand):
    help = (
        "Compare every subscription at the provider with the site's memberships and repair drift."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--provider", help="the provider to reconcile (default: PAYWALL's DEFAULT_PROVIDER)"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="report what would change; change nothing"
        )
        parser.add_argument(
            "--resume",
            action="store_true",
            help="continue a run that stopped, from the position in the state file",
        )
        parser.add_argument(
            "--state-file",
            help="where the position is kept between pages "
            "(default: .paywall_reconcile_<provider>.json in the current directory)",
        )
        parser.add_argument(
            "--page-size", type=int, default=100, help="subscriptions per request (default: 100)"
        )
        parser.add_argument(
            "--max-vanished",
            type=int,
            default=MAX_VANISHED,
            help="end at most this many memberships whose subscription the provider no "
            f"longer has; more end none (default: {MAX_VANISHED})",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        provider = options["provider"] or conf.get("DEFAULT_PROVIDER")
        state_file = StateFile(Path(options["state_file"] or f".paywall_reconcile_{provider}.json"))
        dry_run = options["dry_run"]
        verbosity = options.get("verbosity", 1)
        if not 1 <= options["page_size"] <= 100:
            raise CommandError(f"--page-size must be 1 to 100, got {options['page_size']}")
        if options["max_vanished"] < 0:
            raise CommandError(f"--max-vanished must be 0 or more, got {options['max_vanished']}")
        dry = "(dry run) " if dry_run else ""

        def report(finding: Finding) -> None:
            if finding.outcome == UNCHANGED and not finding.detail and verbosity < 2:
                return
            member = f" member {finding.member_id}" if finding.member_id else ""
            detail = f": {finding.detail}" if finding.detail else ""
            self.stdout.write(f"{dry}{finding.outcome}: {finding.subscription_id}{member}{detail}")

        stderr = getattr(self.stderr, "_out", sys.stderr)
        progress = Progress(
            stderr,
            f"Reconciling {provider}",
            enabled=verbosity >= 1 and not options["no_progress"],
        )
        try:
            state = reconcile_site(
                provider,
                state_file=state_file,
                resume=options["resume"],
                dry_run=dry_run,
                page_size=options["page_size"],
                max_vanished=options["max_vanished"],
                report=report,
                progress=progress,
            )
        except ReconcileInterrupted as exc:
            raise CommandError(f"{exc}; run again with --resume to continue from there") from exc
        except ReconcileError as exc:
            raise CommandError(str(exc)) from exc
        except KeyboardInterrupt:
            if not dry_run and not state_file.exists():  # removed once the listing completed
                raise CommandError(
                    "interrupted while asking about unlisted subscriptions; every listed "
                    "one was reconciled. Run again (without --resume) to check the rest"
                ) from None
            raise CommandError(
                "interrupted; run again with --resume to continue from the last page"
            ) from None
        finally:
            progress.close()
        counts = ", ".join(f"{state.counts[o]} {o}" for o in OUTCOMES)
        self.stdout.write(f"{dry}Reconciled {state.seen} {provider} subscription(s): {counts}.")
        if not state.unlisted_checked:
            self.stdout.write(
                f"{dry}Live memberships were not checked against {provider}'s listing: a "
                "resumed run did not list every subscription itself. Run again without "
                "--resume to find subscriptions that vanished."
            )
        if state.too_many_vanished:
            # The core's message names no way to raise the limit; this command's is a flag.
            found = state.too_many_vanished
            raise CommandError(
                f"{found} live membership(s) have no subscription at {provider}, more than "
                f"--max-vanished {options['max_vanished']}; none was ended. Check that "
                f'PAYWALL["PROVIDERS"]["{provider}"] names the right account, then run '
                f"again with --max-vanished {found}"
            )
        if state.refused:
            raise CommandError(state.refused)
