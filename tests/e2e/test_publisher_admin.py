"""The publisher's side of the demo: the Wagtail admin's paywall screens."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

Shot = Callable[[Any, str], Path]
ADMIN = ("admin", "demo-admin-dev-only")  # seed_demo's development-only default


def log_in_to_admin(page: Any) -> None:
    from playwright.sync_api import expect

    page.goto("/admin/login/")
    page.locator("input[name=username]").fill(ADMIN[0])
    page.locator("input[name=password]").fill(ADMIN[1])
    page.locator("form").get_by_role("button", name=re.compile("sign in", re.I)).click()
    expect(page).to_have_url(re.compile(r"/admin/$"))


def test_publisher_sets_who_may_read_an_article(page: Any, screenshot: Shot) -> None:
    from playwright.sync_api import expect

    log_in_to_admin(page)
    page.goto("/admin/paywall_tiers/")
    expect(page.get_by_role("link", name="Premium")).to_be_visible()
    screenshot(page, "21-admin-tiers")

    page.goto("/admin/pages/search/?q=Churn")
    page.get_by_role("link", name=re.compile("Churn is a signal")).first.click()
    expect(page).to_have_url(re.compile(r"/admin/pages/\d+/edit/"))
    page.get_by_role("tab", name="Access").click()
    rule = page.locator("select[name=paywall_rule]")
    expect(rule).to_have_value("tier")
    screenshot(page, "22-admin-access-panel")


def test_every_paywall_screen_is_under_one_paywall_menu(page: Any, screenshot: Shot) -> None:
    from playwright.sync_api import expect

    log_in_to_admin(page)
    page.get_by_role("button", name="Paywall").click()
    submenu = page.locator(".sidebar-sub-menu-panel")
    screens = ("Tiers", "Prices", "Members", "Webhook inbox", "Bank transfers", "Cancellations")
    for item in (*screens, "Feed tokens", "Coupons", "Members at risk"):
        expect(submenu.get_by_role("link", name=item, exact=True)).to_be_visible()
    # No paywall screen has a top-level menu of its own any more.
    sidebar = page.locator("#wagtail-sidebar")
    expect(sidebar.get_by_role("link", name="Cancellations", exact=True)).to_have_count(1)
    screenshot(page, "20-admin-paywall-menu")
