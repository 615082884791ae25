"""A member who pays twice, flagged on the admin's Members screen, in a real browser.

It happens as it does on a real site: the reader opens the pricing page in two tabs,
starts a checkout in each before either is paid, and pays both. The provider then bills
two subscriptions, and Paywall → Members marks the member "Paying twice" so staff can
refund and cancel one.
"""

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
EMAIL = "twice@example.com"


def test_a_member_who_paid_in_two_tabs_is_flagged_paying_twice(
    page: Any, demo_url: str, screenshot: Shot
) -> None:
    from playwright.sync_api import expect

    sign_up(page, EMAIL)
    second_tab = page.context.new_page()
    second_tab.goto("/paywall/pricing/")

    # Both tabs start a checkout for Premium before either is paid...
    for tab in (page, second_tab):
        tab.locator("li[data-tier=premium]").get_by_role("button", name="Join Premium").click()
        expect(tab).to_have_url(re.compile(r"/paywall/fake/checkout/"))
        expect(tab.get_by_role("heading", level=1)).to_have_text("Test payment")
    assert page.url != second_tab.url  # two checkouts, not one shown twice

    # ...and both are paid.
    for tab in (page, second_tab):
        tab.get_by_role("button", name="Pay").click()
        expect(tab).to_have_url(re.compile(r"/paywall/checkout/success/"))
        expect(tab.get_by_role("status")).to_contain_text("Premium")

    # Staff see the member flagged under Paywall → Members, with the "Paying twice" filter.
    admin = page.context.browser.new_context(
        base_url=demo_url, viewport={"width": 1100, "height": 900}
    )
    try:
        staff = admin.new_page()
        log_in_to_admin(staff)
        staff.get_by_role("button", name="Paywall").click()
        menu = staff.locator(".sidebar-sub-menu-panel")
        menu.get_by_role("link", name="Members", exact=True).click()
        main = staff.locator("#main")
        main.get_by_role("link", name="Paying twice").click()
        expect(staff).to_have_url(re.compile(r"duplicates=1"))
        rows = main.locator("tbody").get_by_role("row")
        member = rows.filter(has_text=EMAIL)
        expect(member).to_have_count(1)
        expect(member.get_by_role("cell").nth(4)).to_have_text(re.compile(r"^\s*2\s+Paying twice"))
        # Only members paying twice are listed.
        for text in rows.all_inner_texts():
            assert "Paying twice" in text
        screenshot(staff, "24-admin-members-paying-twice")

        # The member's own page says what to do.
        member.get_by_role("link", name="twice", exact=True).click()
        expect(main).to_contain_text("Paying twice: 2 live subscriptions will charge this member")
    finally:
        admin.close()
