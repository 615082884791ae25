"""Dunning on the demo: a card payment fails, the daily ``paywall_dunning`` retries it on
the schedule (declined again), the member updates the card, the next retry recovers it;
the publisher reads it in the admin's "Payment recovery" report."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from .conftest import manage

Shot = Callable[[Any, str], Path]
ADMIN = ("admin", "demo-admin-dev-only")  # seed_demo's development-only default

#: Subscribes a new reader by card (the fake provider), declines the card and fails the
#: renewal, each event delivered through the webhook inbox as the provider's would be.
FAIL = """
from django.contrib.auth import get_user_model
from wagtail_paywall.program import get_program
from wagtail_paywall.tasks import deliver
user, _ = get_user_model().objects.get_or_create(
    username="dunning-reader", defaults={"email": "dunning-reader@example.com"})
program = get_program()
fake = program.providers["fake"]
session = program.start_checkout(str(user.pk), "supporter-monthly-eur", provider="fake",
    success_url="http://demo/ok/", cancel_url="http://demo/no/", attempt="dunning-e2e")
hook = fake.complete_checkout(session.id)
deliver("fake", hook.headers, hook.body)
(membership,) = program.store.memberships.for_member(str(user.pk))
fake.decline_card(membership.provider_customer_id)
hook = fake.fail_payment(membership.provider_subscription_id)
deliver("fake", hook.headers, hook.body)
print(program.store.memberships.get(membership.id).status)
"""

#: The member enters a working card at the fake provider (no charge until the next retry).
UPDATE_CARD = """
from wagtail_paywall.program import get_program
fake = get_program().providers["fake"]
fake.declining.clear()
fake.persist()
"""


def log_in_to_admin(page: Any) -> None:
    page.goto("/admin/login/")
    page.locator("input[name=username]").fill(ADMIN[0])
    page.locator("input[name=password]").fill(ADMIN[1])
    page.locator("button[type=submit]").first.click()
    expect(page).to_have_url(re.compile(r"/admin/$"))


def at(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def test_publisher_sees_a_failed_card_payment_recovered_in_the_report(
    page: Any, seeded_demo: dict[str, str], screenshot: Shot
) -> None:
    failed = datetime.now(UTC)
    assert manage(seeded_demo, "shell", "-c", FAIL).strip().endswith("past_due")

    # Day 1: the card is still declined.
    retry = manage(seeded_demo, "paywall_dunning", "--now", at(failed + timedelta(days=1, hours=1)))
    assert "1 retried" in retry
    manage(seeded_demo, "shell", "-c", UPDATE_CARD)
    # Day 3: the updated card pays.
    retry = manage(seeded_demo, "paywall_dunning", "--now", at(failed + timedelta(days=3, hours=1)))
    assert "1 retried" in retry

    log_in_to_admin(page)
    page.get_by_role("button", name="Reports").click()
    page.get_by_role("link", name="Payment recovery").click()
    expect(page).to_have_url(re.compile(r"/admin/paywall-recovery/$"))
    row = page.locator("tbody tr", has_text="fake")
    cells = row.locator("td")
    expect(cells.nth(2)).to_have_text("1")  # failed
    expect(cells.nth(3)).to_have_text("1")  # recovered
    expect(cells.nth(6)).to_have_text("€5.00")  # one month of Supporter recovered
    expect(cells.nth(7)).to_have_text("100.0%")
    screenshot(page, "35-payment-recovery")
