"""The cancellation button of the demo (§312k BGB), in a real browser.

A member of Premium, no longer signed in, finds "Cancel contracts here" at the foot of a
paywall page, fills in only what the law allows on the page it leads to, confirms with
"Cancel now" and gets a receipt; signed in again, the account page says when the
membership ends, with the way back.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .test_bank_transfer import PASSWORD, sign_up

pytestmark = pytest.mark.e2e

Shot = Callable[[Any, str], Path]
EMAIL = "kuendigen@example.com"


def test_a_member_cancels_without_signing_in(page: Any, demo_url: str, screenshot: Shot) -> None:
    from playwright.sync_api import expect

    sign_up(page, EMAIL)
    page.locator("li[data-tier=premium]").get_by_role("button", name="Join Premium").click()
    page.get_by_role("button", name="Pay").click()
    expect(page).to_have_url(re.compile(r"/paywall/checkout/success/"))

    # Signed out, on the pricing page: the button is at its foot.
    page.context.clear_cookies()
    page.goto("/paywall/pricing/")
    page.get_by_role("link", name="Cancel contracts here").click()
    expect(page).to_have_url(re.compile(r"/paywall/cancel-contract/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Cancel a contract")

    page.get_by_label("Your name").fill("Karla Kündig")
    page.get_by_label("The email address of your membership").fill(EMAIL)
    page.get_by_label("Which contract").select_option(label="Premium")
    expect(page.get_by_label("At the earliest possible date")).to_be_checked()
    screenshot(page, "46-kuendigen")

    page.get_by_role("button", name="Cancel now").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your cancellation was received")
    expect(page.get_by_role("status")).to_contain_text("confirmation")

    # Signed in again: the membership ends with the paid period, and can be kept.
    page.goto("/accounts/login/?next=/paywall/account/")
    page.locator("input[name=login]").fill(EMAIL)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("main form").get_by_role("button", name=re.compile("sign in", re.I)).click()
    expect(page).to_have_url(re.compile(r"/paywall/account/$"))
    expect(page.get_by_text(re.compile(r"Ends on .*You keep access until then"))).to_be_visible()
    expect(page.get_by_role("button", name="Keep my membership")).to_be_visible()
