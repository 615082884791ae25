"""A publisher moving from Ghost imports their members in the admin, in a real browser:
the upload shows a dry run first, and "Import" brings the members in."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .test_publisher_admin import log_in_to_admin

pytestmark = pytest.mark.e2e

Shot = Callable[[Any, str], Path]
GHOST_EXPORT = (
    Path(__file__).parents[1] / "wagtail" / "imports" / "fixtures" / "ghost_members.csv"
).read_bytes()


def test_a_ghost_export_is_previewed_then_imported(page: Any, screenshot: Shot) -> None:
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 1100, "height": 1400})
    log_in_to_admin(page)
    page.goto("/admin/paywall_members/")
    page.locator("#main").get_by_role("link", name="Import members").click()
    expect(page).to_have_url(re.compile(r"/admin/paywall-members-import/$"))

    main = page.locator("#main")
    main.locator("input[name=file]").set_input_files(
        {"name": "ghost-members.csv", "mimeType": "text/csv", "buffer": GHOST_EXPORT}
    )
    main.locator("select[name=format]").select_option("ghost")
    main.locator("textarea[name=tier_map]").fill("Gold=premium")
    main.locator("input[name=paid_through]").fill("2099-12-31")
    main.get_by_role("button", name="Upload and preview").click()

    report = main.locator("[data-import-report]")
    expect(report).to_contain_text("Dry run: what would change")
    expect(report).to_contain_text("comp of premium until 2099-12-31")
    expect(report).to_contain_text("deleted in Ghost")
    screenshot(page, "47-import-dry-run")

    report.get_by_role("button", name="Import").click()
    expect(main.locator("[data-import-report] h2")).to_have_text("Imported")
    expect(main.locator("[data-outcome=error]")).to_contain_text("error: 0")
