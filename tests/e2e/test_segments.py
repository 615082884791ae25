"""A segment of the members on the admin's Members screen, in a real browser.

A reader joins Premium on the fake provider's payment page, giving the Netherlands as
billing country; staff filter Paywall → Members to Premium members billed in the
Netherlands, see the count and the member, and export the segment as CSV.
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
EMAIL = "segment@example.com"


def test_staff_filter_members_to_a_segment_and_export_it(
    page: Any, demo_url: str, screenshot: Shot
) -> None:
    from playwright.sync_api import expect

    # A reader joins Premium, billed in the Netherlands.
    sign_up(page, EMAIL)
    page.locator("li[data-tier=premium]").get_by_role("button", name="Join Premium").click()
    expect(page).to_have_url(re.compile(r"/paywall/fake/checkout/"))
    page.get_by_label(re.compile("Billing country")).fill("NL")
    page.get_by_role("button", name="Pay").click()
    expect(page).to_have_url(re.compile(r"/paywall/checkout/success/"))

    admin = page.context.browser.new_context(
        base_url=demo_url, viewport={"width": 1100, "height": 1000}
    )
    try:
        staff = admin.new_page()
        log_in_to_admin(staff)
        staff.get_by_role("button", name="Paywall").click()
        staff.locator(".sidebar-sub-menu-panel").get_by_role(
            "link", name="Members", exact=True
        ).click()
        main = staff.locator("#main")
        segment = main.get_by_role("form", name="Segment")
        segment.get_by_label("Tier").select_option("premium")
        segment.get_by_label("Billing country").fill("nl")
        segment.get_by_role("button", name="Show segment").click()
        expect(staff).to_have_url(re.compile(r"tier=premium.*country=nl"))

        expect(main.locator(".paywall-segment-count")).to_contain_text("1 membership matches.")
        rows = main.locator("table.paywall-segment-list tbody").get_by_role("row")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text(EMAIL)
        expect(rows.first).to_contain_text("NL")
        screenshot(staff, "44-segments")

        # The export is the same segment, as CSV.
        href = main.get_by_role("link", name="Export CSV").get_attribute("href")
        response = staff.request.get(href)
        assert response.status == 200
        assert response.headers["content-type"] == "text/csv"
        lines = response.text().splitlines()
        assert lines[0].startswith("Member id,User,Email,Tier,Status,Currency,Billing country")
        assert len(lines) == 2
        assert EMAIL in lines[1]
        assert ",NL," in lines[1]

        # A malformed filter says what is wrong and lists nobody.
        staff.goto("/admin/paywall_members/?cohort=2026-13")
        expect(main).to_contain_text("“2026-13” is not a month such as 2026-01.")
        expect(main.locator("table.paywall-segment-list")).to_have_count(0)
    finally:
        admin.close()
