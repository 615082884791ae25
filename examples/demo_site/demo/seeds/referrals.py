"""Demo data for referrals (docs/referrals.md): the FRIEND coupon a referred friend gets
(50% off the first month, for new members only). The policy itself is the demo's
``PAYWALL["REFERRALS"]`` setting; every signed-in reader finds their referral link on
the account page."""

from __future__ import annotations

from typing import Any

from wagtail_paywall.models import Coupon

FRIEND_COUPON = "FRIEND"


def seed(command: Any) -> None:
    """Create the demo's referrals data if missing; ``command.note(what)`` logs it."""
    _coupon, made = Coupon.objects.get_or_create(
        code=FRIEND_COUPON,
        defaults={
            "name": "A friend's invitation: 50% off the first month",
            "percent_off": 50,
            "duration": Coupon.Duration.ONCE,
            "first_time_only": True,
        },
    )
    if made:
        command.note(f"coupon {FRIEND_COUPON} (the referral offer)")
