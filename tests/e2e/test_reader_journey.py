"""The reader's whole journey through the demo site, in a real browser.

An anonymous visitor reads a metered article, hits the paywall on a premium one, signs
up, pays with the fake provider, reads the premium article in full, downloads a gated
file and cancels, saying why; the publisher reads why in the admin. Each step leaves
a screenshot in ``artifacts/e2e/``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .test_publisher_admin import log_in_to_admin

pytestmark = pytest.mark.e2e

METERED = "/articles/freemium-that-works/"
PREMIUM = "/articles/churn-is-a-signal/"
PREMIUM_MARK = "Members' part:"  # demo.content.PREMIUM_MARK: opens every premium part
GATED_DOWNLOAD = "Churn playbook"  # counted against the member's monthly downloads
EMAIL = "reader@example.com"
PASSWORD = "a long and unguessable passphrase"

Shot = Callable[[Any, str], Path]


def test_reader_signs_up_pays_reads_downloads_and_cancels(
    page: Any, demo_url: str, screenshot: Shot
) -> None:
    from playwright.sync_api import expect

    # 1. An anonymous visitor reads a metered article in full, and is told it was free.
    page.goto(METERED)
    expect(page.get_by_role("heading", level=1)).to_have_text("Freemium that works")
    expect(page.get_by_text(PREMIUM_MARK)).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="free article")).to_contain_text(
        "2 left this month"
    )
    screenshot(page, "01-metered-article")

    # 2. A premium article shows its teaser and the paywall; the rest never arrives.
    page.goto(PREMIUM)
    paywall = page.locator("section.paywall")
    expect(paywall).to_be_visible()
    expect(paywall.get_by_role("heading", level=2)).to_have_text("Keep reading with a membership")
    assert PREMIUM_MARK not in page.content()
    screenshot(page, "02-paywall")

    # An anonymous visitor cannot fetch a gated download either.
    page.goto("/downloads/")
    href = page.get_by_role("link", name=GATED_DOWNLOAD).get_attribute("href")
    assert page.request.get(href).status == 403

    # 3. Sign up from the paywall: "Sign in", then the login page's sign-up link.
    page.goto(PREMIUM)
    page.locator("section.paywall").get_by_role("link", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.locator("main").get_by_role("link", name=re.compile("sign up", re.I)).click()
    expect(page).to_have_url(re.compile(r"/accounts/signup/"))
    page.locator("input[name=email]").fill(EMAIL)
    page.locator("input[name=password1]").fill(PASSWORD)
    screenshot(page, "03-sign-up")
    page.locator("main form").get_by_role("button", name=re.compile("sign up", re.I)).click()
    # Back on the article, signed in, still behind the paywall (a free account).
    expect(page).to_have_url(re.compile(re.escape(PREMIUM)))
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    signed_in_paywall = page.locator("section.paywall")
    expect(signed_in_paywall.get_by_role("button", name="Join Premium").first).to_be_visible()
    screenshot(page, "04-signed-in-paywall")

    # 4. Compare the plans, and choose Premium.
    signed_in_paywall.get_by_role("link", name="See all plans").click()
    premium_tier = page.locator("li[data-tier=premium]")
    expect(premium_tier).to_be_visible()
    screenshot(page, "05-pricing")
    premium_tier.get_by_role("button", name="Join Premium").click()

    # 5. The fake provider's payment page: pay.
    expect(page).to_have_url(re.compile(r"/paywall/fake/checkout/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Test payment")
    screenshot(page, "06-fake-payment")
    page.get_by_role("button", name="Pay").click()

    # 6. The success page shows what the provider's event granted.
    expect(page).to_have_url(re.compile(r"/paywall/checkout/success/"))
    expect(page.get_by_role("status")).to_contain_text("Premium")
    screenshot(page, "07-checkout-success")

    # 7. The premium article, in full.
    page.goto(PREMIUM)
    expect(page.get_by_text(PREMIUM_MARK)).to_be_visible()
    expect(page.locator("section.paywall")).to_have_count(0)
    screenshot(page, "08-premium-article")

    # 8. A gated download (counted against the month's downloads) now arrives.
    page.get_by_role("navigation").get_by_role("link", name="Downloads").click()
    screenshot(page, "09-downloads")
    href = page.get_by_role("link", name=GATED_DOWNLOAD).get_attribute("href")
    response = page.request.get(href)
    assert response.status == 200
    assert response.body().startswith(b"%PDF-")

    # 9. Cancel from the account page, saying why.
    page.get_by_role("navigation").get_by_role("link", name="Account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your membership")
    page.get_by_text("Cancel membership").click()
    page.get_by_label("It costs too much").check()
    page.locator("textarea[name=comment]").fill("Great writing, but I read too little of it.")
    screenshot(page, "10-cancel-with-reason")
    page.get_by_role("button", name="Cancel at period end").click()
    expect(page.get_by_role("status").first).to_contain_text("Your membership is canceled")
    expect(page.get_by_role("button", name="Keep my membership")).to_be_visible()
    screenshot(page, "11-canceled")

    # Canceled at the period's end: the member keeps reading until then.
    page.goto(PREMIUM)
    expect(page.get_by_text(PREMIUM_MARK)).to_be_visible()

    # 10. The publisher reads why in the Wagtail admin.
    admin = page.context.browser.new_context(
        base_url=demo_url, viewport={"width": 1100, "height": 900}
    )
    try:
        admin_page = admin.new_page()
        log_in_to_admin(admin_page)
        admin_page.goto("/admin/paywall_cancellations/")
        expect(
            admin_page.get_by_text("Great writing, but I read too little of it.")
        ).to_be_visible()
        screenshot(admin_page, "12-admin-cancellations")
    finally:
        admin.close()
