"""A retention offer in the cancel flow of the demo, in a real browser.

The demo offers a break (a pause of up to three months) to members who say they only
needed it for a while. A member starts to cancel, gives that reason, sees the offer, and
declines it with one click: "No thanks, cancel my membership" cancels at once (§312k BGB:
cancelling must never be obstructed).
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
EMAIL = "leaving@example.com"


def test_a_member_sees_the_offer_for_their_reason_and_declines_it_with_one_click(
    page: Any, demo_url: str, screenshot: Shot
) -> None:
    from playwright.sync_api import expect

    # A member of Premium, monthly, paid by card (the fake provider).
    sign_up(page, EMAIL)
    page.locator("li[data-tier=premium]").get_by_role("button", name="Join Premium").click()
    expect(page).to_have_url(re.compile(r"/paywall/fake/checkout/"))
    page.get_by_role("button", name="Pay").click()
    expect(page).to_have_url(re.compile(r"/paywall/checkout/success/"))
    expect(page.get_by_role("status")).to_contain_text("Premium")

    # They start to cancel, saying they only needed it for a while.
    page.goto("/paywall/account/")
    page.get_by_text("Cancel membership").click()
    page.get_by_label("I only needed it for a while").check()
    page.get_by_role("button", name="Cancel at period end").click()

    # The offer for that reason: a break instead, with the way on to the cancellation
    # right under it.
    expect(page.get_by_role("heading", level=1)).to_have_text("Before you go")
    expect(page.get_by_role("heading", level=2)).to_contain_text("pause your membership")
    expect(page.get_by_role("group", name="Pause for")).to_be_visible()
    decline = page.get_by_role("button", name="No thanks, cancel my membership")
    expect(decline).to_be_visible()
    screenshot(page, "36-retention-offer")

    # One click, and the membership is canceled.
    decline.click()
    expect(page).to_have_url(re.compile(r"/paywall/account/$"))
    expect(page.get_by_role("status").first).to_contain_text("Your membership is canceled")
    expect(page.get_by_role("button", name="Keep my membership")).to_be_visible()
