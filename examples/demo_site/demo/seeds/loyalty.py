"""Demo data for loyalty (docs/loyalty.md): after 12 paid months a personal code for
20% off a year, after 24 the archive downloads; and a member who has paid 19 months of
Premium, so their account page shows "Member since …", their code and the next reward.

The member signs in as ``loyal.reader@example.com`` with the admin's demo password
(``DEMO_ADMIN_PASSWORD``, or the development default ``seed_demo`` prints)."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from membership_sdk import Status
from membership_sdk import loyalty as core
from membership_sdk.membership import Membership
from membership_sdk.providers.simulated import add_interval
from wagtail_paywall.models import DjangoLoyalty, LoyaltyReward
from wagtail_paywall.program import get_program

MEMBER = "loyal.reader@example.com"
PAID_MONTHS = 19
REWARDS: list[dict[str, Any]] = [
    {
        "key": "year-one",
        "name": "20% off a year",
        "after_months": 12,
        "coupon_prefix": "LOYAL",
        "percent_off": 20,
    },
    {
        "key": "archive",
        "name": "The archive downloads",
        "after_months": 24,
        "entitlement": "downloads.archive",
    },
]


def seed(command: Any) -> None:
    """Create the demo's loyalty data if missing; ``command.note(what)`` logs it."""
    for fields in REWARDS:
        _reward, made = LoyaltyReward.objects.get_or_create(key=fields["key"], defaults=fields)
        if made:
            command.note(f"loyalty reward {fields['key']}")
    _loyal_member(command)


def _loyal_member(command: Any) -> None:
    """A Premium member paying monthly by card for 19 months, with their 12-month code."""
    from demo.management.commands.seed_demo import DEV_ADMIN_PASSWORD

    User = get_user_model()
    if User.objects.filter(email=MEMBER).exists():
        return
    password = os.environ.get("DEMO_ADMIN_PASSWORD") or DEV_ADMIN_PASSWORD
    user = User.objects.create_user(username=MEMBER, email=MEMBER, password=password)
    member = str(user.pk)
    now = timezone.now()
    program = get_program()
    program.store.memberships.save(
        Membership(
            id=f"demo-loyal-{member}",
            member_id=member,
            tier="premium",
            status=Status.ACTIVE,
            provider="fake",
            price_id="premium-monthly-eur",
            provider_subscription_id=f"demo_loyal_{member}",
            started_at=add_interval(now, "month", -PAID_MONTHS) - timedelta(days=3),
            current_period_end=add_interval(now, "month", 1) - timedelta(days=3),
            paid_through=add_interval(now, "month", 1) - timedelta(days=3),
        )
    )
    rewards = [row.to_core() for row in LoyaltyReward.objects.filter(active=True)]
    core.give_rewards(program, DjangoLoyalty(), member, rewards)
    command.note(f"loyal member {MEMBER} ({PAID_MONTHS} paid months)")
