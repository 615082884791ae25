"""Members at risk on the demo: three readers deviate (a failed payment, a cancellation at
the period's end, a paying member who stopped reading), the daily ``paywall_at_risk`` job
marks them, and the publisher finds and filters them in the admin."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from .conftest import manage
from .test_dunning_report import log_in_to_admin

Shot = Callable[[Any, str], Path]

#: Three members as their providers' webhooks would have left them, one healthy reader.
SEED = """
from datetime import timedelta
from django.contrib.auth import get_user_model
from django.utils import timezone
from wagtail_paywall.models import Membership, ReadingActivity
now = timezone.now()
people = {
    "risk-late-payer": dict(status="past_due", tier="supporter"),
    "risk-leaving": dict(status="active", tier="premium", cancel_at_period_end=True),
    "risk-sleeper": dict(status="active", tier="premium"),
    "risk-keen-reader": dict(status="active", tier="premium"),
}
for name, fields in people.items():
    user, _ = get_user_model().objects.get_or_create(
        username=name, defaults={"email": f"{name}@example.com"})
    Membership.objects.update_or_create(
        id=f"mem-{name}",
        defaults=dict(member_id=str(user.pk), provider="fake",
            provider_subscription_id=f"sub-{name}", started_at=now - timedelta(days=60),
            current_period_end=now + timedelta(days=12), **fields))
    if name != "risk-sleeper":
        for n in range(0, 30, 2):
            ReadingActivity.objects.get_or_create(
                member_id=str(user.pk), day=(now - timedelta(days=n)).date(),
                defaults={"reads": 1})
"""


def test_publisher_finds_the_members_at_risk_and_filters_them(
    page: Any, seeded_demo: dict[str, str], screenshot: Shot
) -> None:
    manage(seeded_demo, "shell", "-c", SEED)
    out = manage(seeded_demo, "paywall_at_risk")
    assert "At risk:" in out
    assert "payment_failed: 1 new" in out or "payment_failed: 0 new" in out  # a re-run

    log_in_to_admin(page)
    page.get_by_role("button", name="Paywall").click()
    page.get_by_role("link", name="Members at risk").click()
    expect(page).to_have_url(re.compile(r"/admin/paywall_at_risk/$"))
    table = page.locator("table.listing")
    for member, reason in [
        ("risk-late-payer", "Payment failed"),
        ("risk-leaving", "Cancels at period end"),
        ("risk-sleeper", "Paying, not reading"),
    ]:
        rows = table.locator("tbody tr", has_text=member).filter(has_text=reason)
        expect(rows).to_have_count(1)
    expect(table).not_to_contain_text("risk-keen-reader")
    screenshot(page, "41-members-at-risk")

    page.get_by_label("Reason").select_option("payment_failed")
    page.get_by_role("button", name="Filter").click()
    expect(table.locator("tbody tr", has_text="risk-late-payer")).to_have_count(1)
    expect(table).not_to_contain_text("risk-sleeper")
    expect(page.get_by_role("link", name="Download CSV")).to_have_attribute(
        "href", re.compile(r"reason=payment_failed.*format=csv")
    )
