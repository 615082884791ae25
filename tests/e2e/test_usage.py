"""A usage-based add-on on the demo site, in a real browser.

A reader joins Premium (monthly, fake provider), which includes 10 dataset downloads a
month at €0.50 each beyond; they download 12 datasets at ``/datasets/`` (the demo's own
view, which records each with ``wagtail_paywall.usage.record_usage``) and the account
page shows "12 of 10 included, 2 extra x €0.50 = €1.00 so far". Screenshot
``59-usage-account`` illustrates ``docs/usage.md``.
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


def download(page: Any, title: str) -> None:
    with page.expect_download() as done:
        page.locator("ul.datasets li", has_text=title).get_by_role(
            "button", name="Download CSV"
        ).click()
    assert done.value.suggested_filename.endswith(".csv")


def test_a_member_downloads_beyond_the_included_quota_and_sees_it_on_the_account(
    page: Any, demo_url: str, screenshot: Shot
) -> None:
    from playwright.sync_api import expect

    # 1. Without Premium, a download is refused and nothing is counted.
    sign_up(page, "datasets.fan@example.com")
    page.goto("/datasets/")
    page.locator("ul.datasets li", has_text="Churn by month").get_by_role(
        "button", name="Download CSV"
    ).click()
    expect(page.get_by_role("alert")).to_contain_text("Dataset downloads come with Premium.")

    # 2. The reader joins Premium, monthly, with the fake provider.
    page.goto("/paywall/pricing/")
    page.locator("li[data-tier=premium]").get_by_role("button", name="Join Premium").click()
    expect(page).to_have_url(re.compile(r"/paywall/fake/checkout/"))
    page.get_by_role("button", name="Pay").click()
    expect(page).to_have_url(re.compile(r"/paywall/checkout/success/"))

    # 3. Twelve downloads: each page load gives each button a fresh key (a double click
    #    on one is counted once).
    for _ in range(6):
        page.goto("/datasets/")
        download(page, "Members by country")
        download(page, "Churn by month")
    download(page, "Churn by month")  # the same form again: the same key, not counted
    page.goto("/datasets/")
    expect(page.locator("[data-used]")).to_contain_text("12 of 10 included downloads used, 2 extra")

    # 4. The account page shows the use this period and what the extra costs so far.
    page.goto("/paywall/account/")
    usage = page.locator("section.pw-usage")
    expect(usage.get_by_role("heading", name="Usage this period")).to_be_visible()
    expect(usage).to_contain_text(
        "Dataset downloads: 12 of 10 included, 2 extra \u00d7 €0.50 = €1.00 so far"
    )
    expect(usage).to_contain_text("the period ends on")
    usage.scroll_into_view_if_needed()
    screenshot(page, "59-usage-account")
