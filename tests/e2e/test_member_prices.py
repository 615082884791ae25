"""A member price on the demo site, in a real browser.

A visitor finds the field guide (€9.00, €5.00 for Supporter members) behind its paywall
with "€9.00 once · members €5.00" and what membership saves; after joining Supporter the
same reader buys it at €5.00 with the fake provider and reads it. Screenshots
``50-member-price-paywall`` and ``51-member-price-member`` illustrate
``docs/member-prices.md``.
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
GUIDE = "/articles/field-guide-2026/"  # sold on its own, or with Premium (demo.content)
NAME = "The 2026 membership field guide"


def test_a_visitor_sees_the_member_price_and_a_supporter_buys_at_it(
    page: Any, demo_url: str, screenshot: Shot
) -> None:
    from playwright.sync_api import expect

    # 1. A visitor: the list price, what members pay and what membership saves.
    page.goto(GUIDE)
    paywall = page.locator("section.paywall")
    expect(paywall).to_contain_text("€9.00 once · members €5.00")
    expect(paywall).to_contain_text("Membership saves you €4.00 on this.")
    paywall.locator(".pw-member-price").scroll_into_view_if_needed()
    screenshot(page, "50-member-price-paywall")
    paywall.get_by_role("link", name="See what members pay").click()
    section = page.locator("#members-pay-less")
    expect(section).to_contain_text("Members pay less")
    expect(section).to_contain_text("Supporter members: €5.00 (save €4.00)")

    # 2. The reader joins Supporter, by card.
    sign_up(page, "memberprice@example.com")
    page.locator("li[data-tier=supporter]").get_by_role("button", name="Join Supporter").click()
    expect(page).to_have_url(re.compile(r"/paywall/fake/checkout/"))
    page.get_by_role("button", name="Pay").click()
    expect(page).to_have_url(re.compile(r"/paywall/checkout/success/"))

    # 3. Back at the guide: their own price on the button, charged at the payment page.
    page.goto(GUIDE)
    paywall = page.locator("section.paywall")
    expect(paywall).to_contain_text("your member price €5.00")
    expect(paywall).to_contain_text("As a Supporter member you save €4.00.")
    paywall.locator(".pw-member-price").scroll_into_view_if_needed()
    screenshot(page, "51-member-price-member")
    paywall.get_by_role("button", name=f"Buy {NAME} for €5.00").click()
    expect(page).to_have_url(re.compile(r"/paywall/fake/checkout/"))
    expect(page.locator("dd.pw-discount")).to_have_text("€5.00 instead of €9.00")
    page.get_by_role("button", name="Pay").click()

    # 4. Bought: the guide reads in full, and no paywall is left.
    page.goto(GUIDE)
    expect(page.locator("section.paywall")).to_have_count(0)
