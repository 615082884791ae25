"""A referral on the demo site, in a real browser.

A reader finds their referral link on the account page; a friend follows it, sees the
offer on the pricing page (the demo's FRIEND coupon: 50% off the first month), signs up,
joins Supporter and pays with the fake provider without typing any code: the offer is
applied. Screenshots ``53-referral-link`` and ``54-referral-offer`` illustrate
``docs/referrals.md``.
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


def test_a_friend_follows_a_members_link_and_gets_the_offer_at_checkout(
    page: Any, demo_url: str, screenshot: Shot
) -> None:
    from playwright.sync_api import expect

    # 1. A reader's account page shows their link and that nobody joined through it yet.
    sign_up(page, "referrer@example.com", next_url="/paywall/account/")
    section = page.locator("section.pw-referrals")
    expect(section.get_by_role("heading", name="Invite a friend")).to_be_visible()
    expect(section).to_contain_text("0 friends joined through your link")
    link = section.get_by_label("Your referral link").input_value()
    assert re.search(r"/paywall/r/[A-Z2-9]{10}/$", link), link
    section.scroll_into_view_if_needed()
    screenshot(page, "53-referral-link")
    page.get_by_role("button", name="Log out").click()

    # 2. A friend follows it: the pricing page shows the offer, before and after signing up.
    page.goto(link)
    expect(page).to_have_url(re.compile(r"/paywall/pricing/\?referral=1"))
    offer = page.locator(".pw-referral-offer")
    expect(offer).to_contain_text("invited you.")
    expect(offer).to_contain_text("50% off the first period")
    sign_up(page, "friend.of.referrer@example.com")
    expect(page.locator(".pw-referral-offer")).to_contain_text("no code needed")
    screenshot(page, "54-referral-offer")

    # 3. They join Supporter typing no code: the payment page carries the offer.
    supporter = page.locator("li[data-tier=supporter]")
    supporter.get_by_role("button", name="Join Supporter").click()
    expect(page).to_have_url(re.compile(r"/paywall/fake/checkout/"))
    expect(page.locator(".pw-discount")).to_contain_text("FRIEND")
    page.get_by_role("button", name="Pay").click()
    expect(page).to_have_url(re.compile(r"/paywall/checkout/success/"))
    page.goto("/paywall/account/")
    expect(page.locator(".pw-discount")).to_contain_text("Coupon FRIEND:")
