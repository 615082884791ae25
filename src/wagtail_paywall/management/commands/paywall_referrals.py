"""``manage.py paywall_referrals``: decide the referrals whose window is over and reward
the referrers.

Run it once a day. It is cheap (the pending and qualified referrals only) and
idempotent: a second run, or one running in parallel, gives no second reward; the monthly
cap is reserved atomically. Rewarded referrals call the ``membership_referral_rewarded``
hook. The logic is :func:`membership_sdk.referrals.run_referrals`.

See ``docs/referrals.md``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...billing.referrals import run
from ..options import add_now


class Command(BaseCommand):
    help = "Decide the referrals whose window is over and reward the referrers (daily)."

    def add_arguments(self, parser: CommandParser) -> None:
        add_now(parser)

    def handle(self, *args: Any, now: datetime | None = None, **options: Any) -> None:
        try:
            done = run(now)
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Referrals: {done.qualified} qualified, {done.rejected} rejected, "
            f"{done.rewarded} rewarded, {done.waiting} waiting for their reward."
        )
        if done.failed:
            raise CommandError(
                f"the provider failed to apply {done.failed} reward(s); "
                "they are tried again on the next run"
            )
