"""Services on the demo site, in a real browser.

A reader joins Premium (which includes two consultations a month), requests one with a
note on the services page and sees one of two left; staff find the request under
Paywall → Service requests in the Wagtail admin and redeem it with a note; the reader's
account page then still shows one left, and the services page the delivery. Screenshots
``57-service-request`` and ``58-service-redeem`` illustrate ``docs/services.md``.
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
EMAIL = "consultation.fan@example.com"
NOTE = "Could we go through my first year's numbers? Thursday mornings suit me."


def test_a_member_requests_a_consultation_and_staff_redeem_it(
    page: Any, demo_url: str, screenshot: Shot
) -> None:
    from playwright.sync_api import expect

    # 1. A reader joins Premium with the fake provider.
    sign_up(page, EMAIL)
    page.locator("li[data-tier=premium]").get_by_role("button", name="Join Premium").click()
    expect(page).to_have_url(re.compile(r"/paywall/fake/checkout/"))
    page.get_by_role("button", name="Pay").click()
    expect(page).to_have_url(re.compile(r"/paywall/checkout/success/"))

    # 2. The account page says what Premium includes; the reader asks for a consultation.
    page.goto("/paywall/account/")
    services = page.locator("section[data-account-services]")
    expect(services).to_contain_text("Consultation: 2 of 2 left this month")
    services.get_by_role("link", name="Request a service or see your requests").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your services")
    page.get_by_label("Service").select_option(label="Consultation")
    page.get_by_label("Note (optional)").fill(NOTE)
    page.get_by_role("button", name="Request", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Requested: Consultation.")
    expect(page.locator("ul.pw-services")).to_contain_text("Consultation: 1 of 2 left this month")
    requests = page.locator("table.pw-service-requests")
    expect(requests).to_contain_text(NOTE)
    expect(requests).to_contain_text("Requested, waiting for us")
    screenshot(page, "57-service-request")

    # 3. Staff open Paywall → Service requests and redeem it, with a note the member reads.
    admin = page.context.browser.new_context(
        base_url=demo_url, viewport={"width": 1100, "height": 900}
    )
    try:
        staff = admin.new_page()
        log_in_to_admin(staff)
        staff.get_by_role("button", name="Paywall").click()
        staff.locator(".sidebar-sub-menu-panel").get_by_role(
            "link", name="Service requests"
        ).click()
        expect(staff.get_by_role("heading", level=1)).to_have_text("Service requests")
        main = staff.locator("#main")
        row = main.locator("tr[data-status=requested]").filter(has_text=NOTE)
        expect(row).to_have_count(1)
        row.get_by_label("Note to the member").fill("Done: 45 minutes on the phone.")
        screenshot(staff, "58-service-redeem")
        row.get_by_role("button", name="Redeem").click()
        expect(staff.get_by_text("Redeemed: Consultation")).to_be_visible()
        done = main.locator("tr[data-status=redeemed]").filter(has_text=NOTE)
        expect(done).to_contain_text("Done: 45 minutes on the phone.")
        # A redeemed request has no buttons any more: it cannot be redeemed twice.
        expect(done.get_by_role("button")).to_have_count(0)
    finally:
        admin.close()

    # 4. The member sees the delivery, and what is left this month.
    page.reload()
    expect(page.locator("ul.pw-services")).to_contain_text("Consultation: 1 of 2 left this month")
    delivered = page.locator("table.pw-service-requests tr[data-status=redeemed]")
    expect(delivered).to_contain_text("Delivered on")
    expect(delivered).to_contain_text("Done: 45 minutes on the phone.")
    page.goto("/paywall/account/")
    expect(page.locator("section[data-account-services]")).to_contain_text(
        "Consultation: 1 of 2 left this month"
    )
