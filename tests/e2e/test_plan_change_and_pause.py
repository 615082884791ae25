"""Changing plan and pausing on the demo's account page, in a real browser.

A Supporter (monthly, by card through the fake provider) looks at what moving to Premium
costs now (the credit for the unused time, the charge for Premium and the amount due),
confirms it, and then pauses for two months with a reason; "Resume now" is offered.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .test_bank_transfer import sign_up

pytestmark = pytest.mark.e2e

Shot = Callable[[Any, str], Path]


def test_a_member_upgrades_after_seeing_the_price_and_then_pauses(
    page: Any, demo_url: str, screenshot: Shot
) -> None:
    from playwright.sync_api import expect

    # A Supporter, monthly, paid by card.
    sign_up(page, "upgrade@example.com")
    page.locator("li[data-tier=supporter]").get_by_role("button", name="Join Supporter").click()
    expect(page).to_have_url(re.compile(r"/paywall/fake/checkout/"))
    page.get_by_role("button", name="Pay").click()
    expect(page).to_have_url(re.compile(r"/paywall/checkout/success/"))

    # The account page: choose Premium, monthly, and see what it costs first.
    page.goto("/paywall/account/")
    page.get_by_label("Change plan").select_option("premium-monthly-eur")
    page.get_by_role("button", name="See the price of this change").click()
    expect(page).to_have_url(re.compile(r"/paywall/account/change-plan/preview/"))
    expect(page.get_by_role("heading", level=2)).to_have_text("From Supporter to Premium")
    expect(page.locator(".pw-proration")).to_contain_text("Unused time on")
    expect(page.locator(".pw-proration")).to_contain_text("Remaining time on")
    expect(page.get_by_text(re.compile(r"Due now: .*7\.00"))).to_be_visible()
    screenshot(page, "31-plan-change-preview")

    # Confirmed: Premium at once.
    page.get_by_role("button", name="Confirm plan change").click()
    expect(page).to_have_url(re.compile(r"/paywall/account/$"))
    expect(page.get_by_role("status").first).to_contain_text("Your plan is now Premium")
    expect(page.locator("section.pw-card h2").first).to_contain_text("Premium")

    # A pause of two months, with the reason.
    page.get_by_text("Pause membership").click()
    page.get_by_label("Pause for").select_option("2")
    page.get_by_label("Why are you pausing? (optional)").fill("Travelling for two months")
    page.get_by_role("button", name="Pause", exact=True).click()
    expect(page.get_by_role("status").first).to_contain_text("Your membership is paused until")
    card = page.locator("section.pw-card").first
    expect(card).to_contain_text("Paused until")
    expect(card).to_contain_text("Travelling for two months")
    expect(card.get_by_role("button", name="Resume now")).to_be_visible()
    screenshot(page, "32-pause")
