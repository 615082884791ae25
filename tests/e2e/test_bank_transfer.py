"""Paying by bank transfer on the demo site, in a real browser.

A reader chooses "Bank transfer" on the pricing page and gets the payment instructions
with an invoice reference; nothing is granted yet. Staff find the invoice under
Paywall → Bank transfers in the Wagtail admin and mark it received; the reader's account
then shows the membership. Each step leaves a screenshot in ``artifacts/e2e/``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .test_publisher_admin import log_in_to_admin

pytestmark = pytest.mark.e2e

Shot = Callable[[Any, str], Path]
PASSWORD = "a long and unguessable passphrase"
#: The demo's invoice references: its ``reference_prefix``, the year, the number.
REFERENCE = re.compile(r"PP-\d{4}-\d{6}")
SUPPORTER_ONLY = "/articles/the-first-90-days/"  # Supporter or above
PREMIUM_MARK = "Members' part:"  # demo.content.PREMIUM_MARK: opens every gated part


def sign_up(page: Any, email: str, next_url: str = "/paywall/pricing/") -> None:
    """Register ``email`` through the sign-up form; the reader lands on ``next_url``."""
    from playwright.sync_api import expect

    page.goto(f"/accounts/signup/?next={next_url}")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password1]").fill(PASSWORD)
    page.locator("main form").get_by_role("button", name=re.compile("sign up", re.I)).click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page).to_have_url(re.compile(re.escape(next_url)))


def test_a_reader_pays_by_bank_transfer_and_staff_mark_it_received(
    page: Any, demo_url: str, screenshot: Shot
) -> None:
    from playwright.sync_api import expect

    # 1. A signed-in reader picks Supporter, monthly, and chooses to pay by bank transfer.
    sign_up(page, "transfer@example.com")
    page.goto(SUPPORTER_ONLY)
    expect(page.locator("section.paywall")).to_be_visible()
    page.goto("/paywall/pricing/")
    supporter = page.locator("li[data-tier=supporter]")
    pay_by = supporter.get_by_role("group", name="Pay by")
    expect(pay_by.get_by_label("Card (test payment)")).to_be_checked()
    pay_by.get_by_label("Bank transfer").check()
    supporter.get_by_role("button", name="Join Supporter").click()

    # 2. The instructions: the amount, the bank account and the reference to quote.
    expect(page.get_by_role("heading", level=1)).to_have_text("How to pay")
    expect(page.get_by_text("Amount due: €5.00")).to_be_visible()
    instructions = page.locator(".pw-card")
    expect(instructions).to_contain_text("DE89 3704 0044 0532 0130 00")
    expect(instructions).to_contain_text(REFERENCE)
    match = REFERENCE.search(instructions.inner_text())
    assert match is not None
    reference = match.group(0)
    screenshot(page, "13-bank-transfer-instructions")

    # Nothing is granted before the money arrives.
    page.goto("/paywall/account/")
    expect(page.get_by_text("You have no paid membership.")).to_be_visible()

    # 3. Staff open Paywall → Bank transfers and find the invoice by its reference.
    admin = page.context.browser.new_context(
        base_url=demo_url, viewport={"width": 1100, "height": 900}
    )
    try:
        staff = admin.new_page()
        log_in_to_admin(staff)
        staff.get_by_role("button", name="Paywall").click()
        staff.locator(".sidebar-sub-menu-panel").get_by_role("link", name="Bank transfers").click()
        expect(staff.get_by_role("heading", level=1)).to_have_text("Bank transfers")
        main = staff.locator("#main")
        main.get_by_label("Find a reference, user or email").fill(reference)
        main.get_by_role("button", name="Search").click()
        row = main.get_by_role("row").filter(has_text=reference)
        expect(row).to_have_count(1)
        expect(row).to_contain_text("Supporter, monthly, EUR")
        expect(row).to_contain_text("€5.00")
        expect(row.get_by_role("button", name="Mark as received")).to_be_visible()
        screenshot(staff, "23-admin-bank-transfers")

        # 4. The transfer arrived today: mark it received.
        row.get_by_role("button", name="Mark as received").click()
        expect(staff.get_by_text(f"Transfer for {reference} recorded")).to_be_visible()
        expect(staff.get_by_text(f"Transfer for {reference} recorded")).to_contain_text("processed")
        expect(main.get_by_role("row").filter(has_text=reference)).to_have_count(0)
    finally:
        admin.close()

    # 5. The reader's account shows the membership, and the Supporter article opens.
    page.goto("/paywall/account/")
    membership = page.locator("section.pw-card").filter(has_text="Supporter")
    expect(membership).to_be_visible()
    expect(membership.get_by_role("heading", level=2)).to_contain_text("Active")
    expect(membership).to_contain_text("Renews on")
    screenshot(page, "14-bank-transfer-member")
    page.goto(SUPPORTER_ONLY)
    expect(page.get_by_text(PREMIUM_MARK)).to_be_visible()
    expect(page.locator("section.paywall")).to_have_count(0)
