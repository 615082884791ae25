"""``manage.py paywall_process_inbox``: a worker applying the webhook inbox's due rows.

Each run is one worker; start as many as you like, on one machine or several sharing one
PostgreSQL database: rows are claimed with ``SELECT ... FOR UPDATE SKIP LOCKED`` (see
:mod:`wagtail_paywall.billing.inbox`), so no row is applied twice. Without options it drains
what is due and stops; ``--once`` does one batch; ``--forever`` keeps polling. SIGTERM or
SIGINT stops it after the batch in hand.

See ``docs/reliability.md`` (Inbox workers).
"""

from __future__ import annotations

import signal
import time
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections

from ...billing import inbox

MAX_SLEEP = 60.0


class Command(BaseCommand):
    help = "Apply the webhook inbox's due rows (one worker; run several to share the work)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch", type=int, default=50, help="rows to claim per round (default: 50)"
        )
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--once", action="store_true", help="process one batch, then stop")
        mode.add_argument(
            "--forever", action="store_true", help="keep polling until SIGTERM or SIGINT"
        )
        parser.add_argument(
            "--sleep",
            type=float,
            default=1.0,
            help=f"seconds to wait when nothing is due, with --forever (at most {MAX_SLEEP:g})",
        )

    def handle(
        self,
        *args: Any,
        batch: int,
        once: bool,
        forever: bool,
        sleep: float,
        verbosity: int = 1,
        **options: Any,
    ) -> None:
        if batch < 1:
            raise CommandError(f"--batch must be at least 1, got {batch}")
        if not 0 <= sleep <= MAX_SLEEP:
            raise CommandError(f"--sleep must be between 0 and {MAX_SLEEP:g}, got {sleep:g}")
        self.stopping = False
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        total = 0
        try:
            while not self.stopping:
                try:
                    done = inbox.process_due(batch)
                except Exception as exc:
                    # A lost connection or a database restart: report it, reconnect, go on.
                    self.stderr.write(f"paywall_process_inbox: {type(exc).__name__}: {exc}")
                    close_old_connections()
                    done = 0
                    if not forever:
                        raise
                total += done
                if done and verbosity >= 2:
                    self.stdout.write(f"processed {done} webhook event(s)")
                if once or (done == 0 and not forever):
                    break
                if done == 0:
                    self._sleep(sleep)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if verbosity >= 1:
            self.stdout.write(f"paywall_process_inbox: processed {total} webhook event(s)")

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def _sleep(self, seconds: float) -> None:
        # In short steps, so SIGTERM stops the worker promptly.
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(min(0.1, deadline - time.monotonic()))
