"""A/B test of the paywall on the demo: an editor's test with two variants runs, readers
meet the paywall on a premium article and some subscribe from it (through the site's own
pages and the fake provider's webhook); the publisher reads the A/B report and the
"Pages by conversions" report, then ends the test keeping the winner."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from .conftest import manage
from .test_dunning_report import log_in_to_admin

Shot = Callable[[Any, str], Path]

#: Sets up the test, then sends readers through the site with Django's test client: each
#: sees the paywall of a premium article (an exposure); of the control's readers 2 in 12
#: subscribe from it, of the "Urgent" variant's 6 in 12 (a checkout posted from the
#: paywall's own form, the fake payment completed, its webhook delivered).
TRAFFIC = r"""
import re
from html import unescape
from django.contrib.auth import get_user_model
from django.test import Client
from demo.models import ArticlePage
from wagtail_paywall.models import PaywallTest, PaywallVariant
from wagtail_paywall.program import get_program
from wagtail_paywall.tasks import deliver

test = PaywallTest.objects.create(name="Paywall heading", status="running")
PaywallVariant.objects.create(test=test, name="Control", sort_order=0)
PaywallVariant.objects.create(test=test, name="Urgent", sort_order=1,
    heading="Join today: the full analysis, every week")
article = next(p for p in ArticlePage.objects.live().filter(paywall_rule="tier")
               if p.paywall_min_tier and p.paywall_min_tier.slug == "premium")
fake = get_program().providers["fake"]
for n in range(30):  # anonymous readers: exposures only
    Client(HTTP_HOST="127.0.0.1").get(article.url)
wanted = {"Control": 2, "Urgent": 6}
seen = {"Control": 0, "Urgent": 0}
n = 0
while min(seen.values()) < 12:
    n += 1
    user = get_user_model().objects.create_user(f"ab-reader-{n}", f"ab-reader-{n}@example.com")
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    html = client.get(article.url).content.decode()
    variant = "Urgent" if "Join today" in html else "Control"
    if seen[variant] >= 12:
        continue
    seen[variant] += 1
    if seen[variant] <= wanted[variant]:
        source = unescape(re.search(r'name="source" value="([^"]+)"', html).group(1))
        response = client.post("/paywall/checkout/",
            {"price": "premium-monthly-eur", "source": source, "attempt": f"ab-{n}"})
        session_id = response["Location"].rstrip("/").rsplit("/", 1)[-1]
        hook = fake.complete_checkout(session_id)
        deliver("fake", hook.headers, hook.body)
fake.persist()
print(article.title)
"""


def test_publisher_reads_the_ab_test_and_keeps_the_winner(
    page: Any, seeded_demo: dict[str, str], screenshot: Shot
) -> None:
    title = manage(seeded_demo, "shell", "-c", TRAFFIC).strip().splitlines()[-1]

    log_in_to_admin(page)
    page.get_by_role("button", name="Reports").click()
    page.get_by_role("link", name="Paywall A/B tests").click()
    expect(page).to_have_url(re.compile(r"/admin/paywall-ab-tests/$"))
    control = page.locator("tbody tr", has_text="Control")
    urgent = page.locator("tbody tr", has_text="Urgent")
    expect(control.locator("td").nth(2)).to_have_text("2")
    expect(urgent.locator("td").nth(2)).to_have_text("6")
    expect(urgent.locator("td").nth(3)).to_contain_text("%")
    expect(urgent.locator("td").nth(6)).not_to_have_text("—")
    screenshot(page, "42-ab-test-report")

    page.get_by_role("button", name="Reports").click()
    page.get_by_role("link", name="Pages by conversions").click()
    expect(page).to_have_url(re.compile(r"/admin/paywall-page-conversions/$"))
    row = page.locator("tbody tr", has_text=title)
    expect(row.locator("td").nth(2)).to_have_text("8")  # checkouts started from it
    expect(row.locator("td").nth(3)).to_have_text("8")  # all became memberships
    screenshot(page, "43-page-conversions")

    page.get_by_role("button", name="Reports").click()
    page.get_by_role("link", name="Paywall A/B tests").click()
    page.get_by_label("Keep for everyone").select_option(label="Urgent")
    page.get_by_role("button", name="End the test").click()
    expect(page.get_by_text("every visitor now sees “Urgent”")).to_be_visible()

    # The demo is shared by every browser test: delete the test (in the server, so its
    # cached setup follows) and the paywall shows its own copy again.
    page.goto("/admin/snippets/wagtail_paywall/paywalltest/")
    page.get_by_role("link", name="Paywall heading").first.click()
    delete_url = page.url.replace("/edit/", "/delete/")
    page.goto(delete_url)
    page.get_by_role("button", name="Yes, delete").click()
    expect(page.get_by_text("Paywall heading")).to_have_count(0)
