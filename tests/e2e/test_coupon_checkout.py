"""A coupon code on the demo, in a real browser.

The demo seeds ``WELCOME25`` (25% off the first three months). A reader first types a code
that does not exist and is told so on the pricing page, with nothing started; then enters
the demo's code, sees the discount on the payment page, pays, and finds the discount and
when it ends on the account page.
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


def test_a_reader_enters_a_code_and_sees_the_discount_at_checkout_and_on_the_account_page(
    page: Any, demo_url: str, screenshot: Shot
) -> None:
    from playwright.sync_api import expect

    sign_up(page, "coupon@example.com")
    supporter = page.locator("li[data-tier=supporter]")

    # A code nobody knows: the pricing page again, saying why, next to the plan.
    supporter.get_by_label("Coupon code (optional)").fill("NOSUCHCODE")
    supporter.get_by_role("button", name="Join Supporter").click()
    expect(page.get_by_role("alert")).to_have_text("This code is not valid. Check its spelling.")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()

    # The demo's code: the payment page shows the discount.
    supporter = page.locator("li[data-tier=supporter]")
    supporter.get_by_label("Coupon code (optional)").fill("welcome25")
    supporter.get_by_role("button", name="Join Supporter").click()
    expect(page).to_have_url(re.compile(r"/paywall/fake/checkout/"))
    discount = page.locator(".pw-discount")
    expect(discount).to_contain_text("WELCOME25")
    expect(discount).to_contain_text("€3.75 a month for the first 3 months")
    screenshot(page, "30-coupon-checkout")
    page.get_by_role("button", name="Pay").click()
    expect(page).to_have_url(re.compile(r"/paywall/checkout/success/"))

    # The account page: what they pay now, until when, and the price after.
    page.goto("/paywall/account/")
    on_account = page.locator(".pw-discount")
    expect(on_account).to_contain_text("Coupon WELCOME25:")
    expect(on_account).to_contain_text("you pay €3.75 a month")
    expect(on_account).to_contain_text("then €5.00")
