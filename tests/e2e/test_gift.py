"""A gift membership on the demo site, in a real browser.

One reader gives three months of Premium from the pricing page's "Give a gift" link, pays
with the fake provider and finds the redeem code on their account page; a second reader
redeems it and reads Premium, and the code does not work twice. Screenshots
``33-gift-buy`` and ``34-gift-redeem`` illustrate ``docs/gifts.md``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .test_bank_transfer import PREMIUM_MARK, sign_up

pytestmark = pytest.mark.e2e

Shot = Callable[[Any, str], Path]
CODE = re.compile(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}")
PREMIUM = "/articles/churn-is-a-signal/"  # Premium only (demo.content)


def test_a_reader_gives_premium_and_another_redeems_it(
    page: Any, demo_url: str, screenshot: Shot
) -> None:
    from playwright.sync_api import expect

    # 1. The giver follows "Give a gift" from the pricing page and fills the form in.
    sign_up(page, "giver@example.com")
    page.get_by_role("link", name="Give a membership as a gift").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Give a gift")
    gift = page.get_by_role("group", name="Gift")
    gift.get_by_label(re.compile(r"Premium for 3 months")).check()
    page.get_by_label("Recipient's email (optional)").fill("friend@example.com")
    page.get_by_label("Message (optional)").fill("Happy birthday! Enjoy the long reads.")
    screenshot(page, "33-gift-buy")
    page.get_by_role("button", name="Pay for the gift").click()

    # 2. The fake provider's payment page; then the account page shows the code.
    expect(page).to_have_url(re.compile(r"/paywall/fake/checkout/"))
    page.get_by_role("button", name="Pay").click()
    expect(page).to_have_url(re.compile(r"/paywall/account/"))
    bought = page.locator("table.pw-gifts-bought")
    expect(bought).to_contain_text("friend@example.com")
    expect(bought).to_contain_text("Not redeemed yet")
    match = CODE.search(bought.inner_text())
    assert match is not None
    code = match.group(0)
    # Buying a gift unlocks nothing for the giver.
    page.goto(PREMIUM)
    expect(page.locator("section.paywall")).to_be_visible()

    # 3. Another reader redeems the code (typed in lower case) and reads Premium.
    page.get_by_role("button", name="Log out").click()
    sign_up(page, "friend@example.com", next_url=f"/paywall/gifts/redeem/?code={code}")
    expect(page.get_by_label("Gift code")).to_have_value(code)
    page.get_by_label("Gift code").fill(code.lower())
    page.get_by_role("button", name="Redeem").click()
    expect(page).to_have_url(re.compile(r"/paywall/account/"))
    expect(page.get_by_role("status")).to_contain_text("Gift redeemed: you have Premium until")
    expect(page.locator("ul.pw-gifts-held")).to_contain_text("Premium, a gift, until")
    screenshot(page, "34-gift-redeem")
    page.goto(PREMIUM)
    expect(page.get_by_text(PREMIUM_MARK)).to_be_visible()

    # 4. The code does not work twice: the form says why.
    page.goto("/paywall/gifts/redeem/")
    page.get_by_label("Gift code").fill(code)
    page.get_by_role("button", name="Redeem").click()
    expect(page.get_by_role("alert")).to_have_text("This gift code was already redeemed.")
