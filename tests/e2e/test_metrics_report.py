"""The membership report on the demo: a year of members joining, upgrading, trying and
leaving (with their reasons), applied as the provider's webhooks would be; the publisher
reads the figures, the charts with their data tables, and downloads a chart's CSV."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from .conftest import manage

Shot = Callable[[Any, str], Path]
ADMIN = ("admin", "demo-admin-dev-only")  # seed_demo's development-only default

#: Forty members over twelve months: monthly and yearly, some upgrading, some on a trial,
#: a fifth leaving with a reason; each change applied through the program as a webhook.
HISTORY = """
from datetime import timedelta
from django.utils import timezone
from membership_sdk import BillingEvent, EventType, Status, SubscriptionSnapshot
from wagtail_paywall.models import CancellationFeedback, Membership
from wagtail_paywall.program import get_program
program = get_program()
now = timezone.now()
reasons = ["too_expensive", "not_enough_time", "content", "too_expensive"]
def apply(member, version, status, at, price, **snap):
    snap.setdefault("current_period_end", at + timedelta(days=30))
    program.apply(BillingEvent(provider="fake", id=f"evt_metrics_{member}_{version}",
        type=EventType.SUBSCRIPTION_UPDATED, occurred_at=at, member_id=f"metrics-{member}",
        subscription=SubscriptionSnapshot(id=f"sub_metrics_{member}",
            customer_id=f"cus_metrics_{member}", price=price, status=status, version=version,
            started_at=start, **snap)))
for i in range(40):
    start = now - timedelta(days=360 - i * 9)
    price = ["fake_supporter_monthly_eur", "fake_premium_monthly_eur",
             "fake_premium_yearly_eur"][i % 3]
    apply(i, 1, Status.ACTIVE, start, price)
    if i % 7 == 0 and i < 30:
        apply(i, 2, Status.ACTIVE, start + timedelta(days=60), "fake_premium_monthly_eur")
    if i % 5 == 2 and i < 35:
        end = start + timedelta(days=40 + i)
        apply(i, 3, Status.CANCELED, end, price, canceled_at=end)
        m = Membership.objects.get(provider_subscription_id=f"sub_metrics_{i}")
        CancellationFeedback.objects.create(membership_id=m.id, member_id=m.member_id,
            tier=m.tier, reason=reasons[i % 4])
print(Membership.objects.filter(member_id__startswith="metrics-").count())
"""


def log_in_to_admin(page: Any) -> None:
    page.goto("/admin/login/")
    page.locator("input[name=username]").fill(ADMIN[0])
    page.locator("input[name=password]").fill(ADMIN[1])
    page.locator("button[type=submit]").first.click()
    expect(page).to_have_url(re.compile(r"/admin/$"))


def test_publisher_reads_the_membership_report_with_its_charts(
    page: Any, seeded_demo: dict[str, str], screenshot: Shot
) -> None:
    assert manage(seeded_demo, "shell", "-c", HISTORY).strip().endswith("40")
    manage(seeded_demo, "paywall_backfill_ledger")  # the demo's own seeded memberships

    log_in_to_admin(page)
    panel = page.locator(".paywall-membership-panel")
    expect(panel).to_contain_text("Paid memberships")
    panel.get_by_role("link", name="Membership metrics").click()
    expect(page).to_have_url(re.compile(r"/admin/paywall-metrics/$"))
    expect(page.get_by_role("img", name="MRR movements per month (EUR)")).to_be_visible()
    expect(page.get_by_role("img", name="Retention by month of joining")).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("^Churn by reason"))).to_be_visible()

    page.set_viewport_size({"width": 1100, "height": 2000})  # the headline and first charts
    screenshot(page, "40-membership-report")

    reasons = page.locator("#chart-reasons")
    expect(reasons.locator("table")).to_be_hidden()
    reasons.get_by_text("Data table").click()
    expect(reasons.locator("table")).to_contain_text("It costs too much")

    with page.expect_download() as download:
        reasons.get_by_role("link", name=re.compile("^Download CSV")).click()
    csv_text = Path(download.value.path()).read_text(encoding="utf-8")
    assert csv_text.splitlines()[0] == "Reason,Churned memberships"
