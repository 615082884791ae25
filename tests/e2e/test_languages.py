"""The demo in the reader's language, in a real browser (docs/i18n.md).

A visitor switches the demo to German with the switcher at the foot of every page and
reads the pricing page, the paywall's pages and the §312k button in German; a browser set
to Dutch gets Dutch without switching.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

Shot = Callable[[Any, str], Path]


def test_a_visitor_switches_the_demo_to_german(page: Any, screenshot: Shot) -> None:
    from playwright.sync_api import expect

    page.goto("/paywall/pricing/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Plans and prices")

    page.get_by_label("Language", exact=True).select_option(label="Deutsch")
    page.get_by_role("button", name="Switch", exact=True).click()

    expect(page).to_have_url(re.compile(r"/paywall/pricing/$"))
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.get_by_role("heading", level=1)).to_have_text("Angebote und Preise")
    expect(page.get_by_role("link", name="Preise", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Verträge hier kündigen")).to_be_visible()
    screenshot(page, "48-deutsch")

    # The choice holds on the next page, and can be changed back.
    page.get_by_role("link", name="Verträge hier kündigen").click()
    expect(page.get_by_role("button", name="Jetzt kündigen")).to_be_visible()
    page.get_by_label("Sprache", exact=True).select_option(label="Polski")
    page.get_by_role("button", name="Wechseln", exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", "pl")


def test_a_browser_set_to_dutch_gets_dutch(browser: Any, demo_url: str) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(base_url=demo_url, locale="nl-NL")
    try:
        tab = context.new_page()
        tab.goto("/paywall/pricing/")
        expect(tab.get_by_role("heading", level=1)).to_have_text("Abonnementen en prijzen")
        expect(tab.get_by_label("Taal", exact=True)).to_have_value("nl")
    finally:
        context.close()
