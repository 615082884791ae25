"""A member downloads their data and erases it from the demo's account page, in a real
browser: the JSON holds their membership; erasure, confirmed with the password, cancels
it at once and leaves the account page empty of it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .test_bank_transfer import PASSWORD, sign_up

pytestmark = pytest.mark.e2e

Shot = Callable[[Any, str], Path]
EMAIL = "forget-me@example.com"


def test_a_member_downloads_their_data_then_erases_it(
    page: Any, demo_url: str, screenshot: Shot
) -> None:
    from playwright.sync_api import expect

    # A member of Premium, paid by card (the fake provider).
    sign_up(page, EMAIL)
    page.locator("li[data-tier=premium]").get_by_role("button", name="Join Premium").click()
    expect(page).to_have_url(re.compile(r"/paywall/fake/checkout/"))
    page.get_by_role("button", name="Pay").click()
    expect(page).to_have_url(re.compile(r"/paywall/checkout/success/"))

    # The account page offers their data: the download holds their membership.
    page.goto("/paywall/account/")
    expect(page.get_by_role("heading", name="Your data")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download my data (JSON)").click()
    document = json.loads(Path(download.value.path()).read_text())
    assert document["format"] == "membership-sdk/member-export/1"
    assert [m["tier"] for m in document["data"]["memberships"]] == ["premium"]

    # Erasure asks for a confirmation and the password.
    page.get_by_role("link", name="Erase my data").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Erase your membership data")
    page.get_by_label("Yes, erase my membership data").check()
    page.get_by_label("Your password").fill(PASSWORD)
    screenshot(page, "45-privacy")
    page.get_by_role("button", name="Erase my data now").click()

    expect(page).to_have_url(re.compile(r"/paywall/account/$"))
    expect(page.get_by_role("status").first).to_contain_text("was erased")
    expect(page.locator("[data-membership]")).to_have_count(0)
