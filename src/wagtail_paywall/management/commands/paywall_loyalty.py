"""``manage.py paywall_loyalty``: give members the loyalty rewards their paid months
earned.

Run it once a day (the task :func:`wagtail_paywall.tasks.give_loyalty_rewards` does the
same). It reads members whose memberships started long enough ago to have earned the
first reward, a batch at a time, and gives each reward once per member
(:func:`wagtail_paywall.billing.loyalty.give_due_rewards`): running it again, or twice at
once, gives nothing twice.

See ``docs/loyalty.md``.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from ...billing.loyalty import give_due_rewards


class Command(BaseCommand):
    help = "Give members the loyalty rewards their paid months earned (run daily)."

    def handle(self, *args: Any, **options: Any) -> None:
        verbosity = int(options.get("verbosity", 1))

        def progress(members: int, given: int) -> None:
            if verbosity > 1:
                self.stdout.write(f"{members} member(s) read, {given} reward(s) given")

        given = give_due_rewards(progress)
        coupons = sum(1 for a in given if a.coupon_code)
        self.stdout.write(
            f"Gave {len(given)} loyalty reward(s): {len(given) - coupons} entitlement(s), "
            f"{coupons} personal coupon code(s)."
        )
