"""Deliveries on the demo site, in a real browser.

A reader joins Premium (which includes the print edition), finds "Your deliveries" on
the account page, adds a shipping address (a wrong postcode first, which the form
explains) and sees the next issues marked as included. Staff schedule a special issue
whose cut-off has passed, open its manifest (the seeded print subscriber, not the reader
who joined after the cut-off) and download it as CSV. Screenshots
``55-deliveries-account`` and ``56-deliveries-manifest`` illustrate
``docs/deliveries.md``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from .test_bank_transfer import sign_up
from .test_publisher_admin import log_in_to_admin

pytestmark = pytest.mark.e2e

Shot = Callable[[Any, str], Path]


def test_a_member_keeps_an_address_and_staff_download_the_manifest(
    page: Any, demo_url: str, screenshot: Shot
) -> None:
    from playwright.sync_api import expect

    # 1. A reader joins Premium with the fake provider.
    sign_up(page, "print.fan@example.com")
    page.locator("li[data-tier=premium]").get_by_role("button", name="Join Premium").click()
    expect(page).to_have_url(re.compile(r"/paywall/fake/checkout/"))
    page.get_by_role("button", name="Pay").click()
    expect(page).to_have_url(re.compile(r"/paywall/checkout/success/"))

    # 2. The account page asks for a shipping address before the next cut-off.
    page.goto("/paywall/account/")
    deliveries = page.locator("section.pw-deliveries")
    expect(deliveries.get_by_role("heading", name="Your deliveries")).to_be_visible()
    expect(deliveries).to_contain_text("Add your shipping address by")
    deliveries.get_by_role("link", name="Add your address").click()

    # 3. A Dutch postcode typed the German way is explained, then fixed.
    expect(page.get_by_role("heading", level=1)).to_have_text("Shipping address")
    page.get_by_label("Name").fill("Grace Hopper")
    page.get_by_label("Street and number").fill("Keizersgracht 123")
    page.get_by_label("Postcode").fill("10115")
    page.get_by_label("City").fill("Amsterdam")
    page.get_by_label("Country").select_option("NL")
    page.get_by_role("button", name="Save address").click()
    expect(page.get_by_role("alert")).to_have_text(
        "This is not a postcode of Netherlands; write it like 1234 AB."
    )
    page.get_by_label("Postcode").fill("1015cj")
    page.get_by_role("button", name="Save address").click()

    # 4. Back on the account page: the address, and the next issues included.
    expect(page).to_have_url(re.compile(r"/paywall/account/"))
    expect(page.get_by_role("status")).to_contain_text("Your shipping address was saved.")
    deliveries = page.locator("section.pw-deliveries")
    expect(deliveries.locator("address")).to_contain_text("1015 CJ Amsterdam")
    expect(deliveries.locator("tr[data-status=receives]").first).to_contain_text("Included")
    deliveries.scroll_into_view_if_needed()
    screenshot(page, "55-deliveries-account")

    # 5. Staff schedule a special issue whose cut-off has passed, and open its manifest.
    admin = page.context.browser.new_context(
        base_url=demo_url, viewport={"width": 1100, "height": 900}, accept_downloads=True
    )
    try:
        staff = admin.new_page()
        log_in_to_admin(staff)
        staff.goto("/admin/paywall_delivery_issues/new/")
        staff.get_by_label("Product").select_option(label="Print edition")
        staff.get_by_label("Title").fill("Special issue")
        staff.get_by_label("Ships on").fill((date.today() + timedelta(days=3)).isoformat())
        cutoff = datetime.now() - timedelta(days=2)  # two days ago, in the admin's local time
        staff.get_by_label("Cut-off").fill(cutoff.strftime("%Y-%m-%d %H:%M"))
        staff.locator("#main form").get_by_role("button", name="Create").click()
        expect(staff.get_by_text("Special issue").first).to_be_visible()
        staff.goto("/admin/paywall_delivery_issues/?q=Special")
        edit = staff.locator("#main a[href*='/edit/']").filter(has_text="Special issue").first
        pk = re.search(r"/edit/(\d+)/", edit.get_attribute("href") or "")
        assert pk is not None
        staff.goto(f"/admin/paywall_delivery_issues/inspect/{pk.group(1)}/")
        main = staff.locator("#main")
        expect(main.get_by_role("heading", name="Manifest")).to_be_visible()
        expect(main.locator("[data-count=receives]")).to_have_text("1")
        expect(main).to_contain_text("Ada Lovelace, 10115 Berlin, DE")
        expect(main).not_to_contain_text("Amsterdam")  # joined after the cut-off
        screenshot(staff, "56-deliveries-manifest")

        # 6. The CSV: who gets what, where.
        with staff.expect_download() as caught:
            main.get_by_role("link", name="Download manifest (CSV)").click()
        text = Path(caught.value.path()).read_text(encoding="utf-8")
        lines = text.strip().splitlines()
        assert lines[0].startswith("member_id,name,line1,line2,postcode,city,country")
        assert any(
            "Ada Lovelace,Hauptstraße 1,,10115,Berlin,DE,Print edition" in ln for ln in lines
        )
        assert "Amsterdam" not in text
    finally:
        admin.close()
