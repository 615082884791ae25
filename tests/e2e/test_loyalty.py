"""Loyalty rewards on the demo site, in a real browser.

The demo seeds two rewards (20% off a year after 12 paid months, the archive after 24). A
reader who has paid 13 months of Premium by card (stored as the provider reported it)
gets their personal code from ``manage.py paywall_loyalty``, and their account page
shows their standing, the code and the next reward. Screenshot ``52-loyalty-account``
illustrates ``docs/loyalty.md``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import manage
from .test_bank_transfer import sign_up

pytestmark = pytest.mark.e2e

Shot = Callable[[Any, str], Path]
EMAIL = "tenure@example.com"
PAID = """
from datetime import timedelta
from django.contrib.auth import get_user_model
from django.utils import timezone
from membership_sdk import Status
from membership_sdk.membership import Membership
from membership_sdk.providers.simulated import add_interval
from wagtail_paywall.program import get_program

member = str(get_user_model().objects.get(email="tenure@example.com").pk)
now = timezone.now()
get_program().store.memberships.save(Membership(
    id="e2e-loyal-" + member, member_id=member, tier="premium", status=Status.ACTIVE,
    provider="fake", price_id="premium-monthly-eur", provider_subscription_id="e2e_loyal",
    started_at=add_interval(now, "month", -13) - timedelta(days=2),
    current_period_end=add_interval(now, "month", 1) - timedelta(days=2),
    paid_through=add_interval(now, "month", 1) - timedelta(days=2),
))
"""


def test_a_member_of_thirteen_months_sees_their_standing_and_code(
    page: Any, seeded_demo: dict[str, str], screenshot: Shot
) -> None:
    from playwright.sync_api import expect

    # 1. A reader signs up; before they paid, the account page shows no standing.
    sign_up(page, EMAIL, next_url="/paywall/account/")
    expect(page.locator("section.pw-loyalty")).to_have_count(0)

    # 2. They have paid 13 months by card; the daily job gives the 12-month reward.
    manage(seeded_demo, "shell", "-c", PAID)
    assert "1 personal coupon code(s)" in manage(seeded_demo, "paywall_loyalty")
    assert "Gave 0 loyalty reward(s)" in manage(seeded_demo, "paywall_loyalty")

    # 3. The account page: standing, the personal code and the next reward.
    page.goto("/paywall/account/")
    section = page.locator("section.pw-loyalty")
    expect(section.get_by_role("heading", name="Your standing")).to_be_visible()
    expect(section).to_contain_text(re.compile(r"Member since \w+ \d{4} · 13 paid months"))
    expect(section.locator("li[data-reward=year-one]")).to_contain_text("20% off a year")
    expect(section.locator("code.pw-loyalty-code")).to_have_text(re.compile(r"^LOYAL-[A-Z2-9]{8}$"))
    expect(section).to_contain_text("In 11 paid months: The archive downloads")
    section.scroll_into_view_if_needed()
    screenshot(page, "52-loyalty-account")
