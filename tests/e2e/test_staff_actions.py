"""Staff act on a member from the admin's member page, in a real browser: a gift, then a
cancellation at the period's end with a reason, both shown in the member's history."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .test_bank_transfer import sign_up
from .test_publisher_admin import log_in_to_admin

pytestmark = pytest.mark.e2e

Shot = Callable[[Any, str], Path]
EMAIL = "staffed@example.com"


def test_staff_give_a_gift_and_cancel_a_membership_at_period_end(
    page: Any, demo_url: str, screenshot: Shot
) -> None:
    from playwright.sync_api import expect

    # A reader subscribes to Premium with the fake card.
    sign_up(page, EMAIL)
    page.locator("li[data-tier=premium]").get_by_role("button", name="Join Premium").click()
    expect(page).to_have_url(re.compile(r"/paywall/fake/checkout/"))
    page.get_by_role("button", name="Pay").click()
    expect(page).to_have_url(re.compile(r"/paywall/checkout/success/"))

    admin = page.context.browser.new_context(
        base_url=demo_url, viewport={"width": 1100, "height": 1400}
    )
    try:
        staff = admin.new_page()
        log_in_to_admin(staff)
        staff.goto("/admin/paywall_members/?q=staffed")
        staff.locator("#main").get_by_role("link", name="staffed", exact=True).click()
        main = staff.locator("#main")
        expect(main).to_contain_text("Staff actions")

        # A gift of Supporter for 7 days, with a note.
        gift = main.locator("form[action$='/gift/']")
        gift.locator("select[name=tier]").select_option("supporter")
        gift.locator("input[name=days]").fill("7")
        gift.locator("input[name=note]").fill("Thank you for the letter to the editor")
        gift.get_by_role("button", name="Give the gift").click()
        messages = staff.locator(".messages")
        expect(messages).to_contain_text(re.compile(r"Gift given: supporter for 7 days"))

        # Cancel the membership at the period's end: confirmed first, with a reason.
        main.get_by_role("link", name="Cancel…").click()
        expect(staff.get_by_role("button", name="Yes: Cancel membership")).to_be_visible()
        staff.get_by_label("At the end of the paid period").check()
        staff.locator("input[name=reason]").fill("Asked by phone")
        staff.get_by_role("button", name="Yes: Cancel membership").click()
        expect(messages).to_contain_text(re.compile(r"Membership canceled: .*at the period's end"))

        history = staff.locator("table[data-staff-history]")
        expect(history).to_contain_text("Membership canceled")
        expect(history).to_contain_text("Asked by phone")
        expect(history).to_contain_text("Gift given")
        history.scroll_into_view_if_needed()
        screenshot(staff, "37-staff-actions")
    finally:
        admin.close()
