"""The admin's "Membership metrics" report: what a publisher reads, who may read it, and
that a busy site computes it once every few minutes, not on every load."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from wagtail_paywall.models import Membership

pytestmark = pytest.mark.django_db

URL = "/admin/paywall-metrics/"


@pytest.fixture
def admin_client(client: Any, editor: Any, program: Any) -> Any:
    client.force_login(editor)
    return client


def _membership(status: str, price_id: str = "premium-monthly", **fields: Any) -> Membership:
    now = timezone.now()
    fields.setdefault("started_at", now - timedelta(days=400))
    fields.setdefault("current_period_end", now + timedelta(days=10))
    tier = "premium" if price_id.startswith("premium") else "supporter"
    return Membership.objects.create(
        id=f"mem_{uuid.uuid4().hex}",
        member_id=uuid.uuid4().hex[:8],
        tier=tier,
        status=status,
        provider="fake",
        price_id=price_id,
        **fields,
    )


def _report(client: Any, **params: Any) -> str:
    response = client.get(reverse("paywall_metrics"), params)
    assert response.status_code == 200
    return response.content.decode()


def test_the_report_is_at_its_admin_address() -> None:
    assert reverse("paywall_metrics") == URL


def test_the_report_shows_mrr_in_the_currencys_minor_units(admin_client: Any) -> None:
    _membership("active", "premium-monthly")  # 12.00 a month
    _membership("past_due", "premium-yearly")  # 120.00 a year: 10.00 a month
    _membership("active", "supporter-monthly")  # 5.00 a month
    assert "27.00 EUR" in _report(admin_client)


def test_canceled_and_expired_memberships_add_no_mrr(admin_client: Any) -> None:
    _membership("active", "supporter-monthly")
    _membership("canceled", "premium-monthly", canceled_at=timezone.now())
    _membership("expired", "premium-yearly", current_period_end=timezone.now())
    assert "5.00 EUR" in _report(admin_client)


def test_the_report_counts_paying_and_trialing_members_per_tier(admin_client: Any) -> None:
    _membership("active", "premium-monthly")
    _membership("trialing", "premium-monthly")
    _membership("expired", "supporter-monthly")
    html = _report(admin_client)
    assert "<tr><td>Premium</td><td>1</td><td>1</td></tr>" in html
    assert "Supporter" not in html.split("Members per tier")[1].split("Churn")[0]


def _ended_days_ago(days: int) -> Membership:
    return _membership(
        "canceled",
        canceled_at=timezone.now() - timedelta(days=days + 20),
        current_period_end=timezone.now() - timedelta(days=days),
    )


def test_churn_counts_memberships_ended_within_the_window(admin_client: Any) -> None:
    _membership("active")
    _ended_days_ago(10)  # within 30 days
    _ended_days_ago(60)  # within 90 days only
    html = _report(admin_client)
    assert "1 of 2 memberships live 30 days ago have ended since: churn 50.0%." in html


def test_a_longer_window_can_be_chosen(admin_client: Any) -> None:
    _membership("active")
    _ended_days_ago(10)
    _ended_days_ago(60)
    html = _report(admin_client, days="90")
    assert "2 of 3 memberships live 90 days ago have ended since: churn 66.7%." in html


def test_an_invalid_window_shows_an_error_and_the_default_window(admin_client: Any) -> None:
    html = _report(admin_client, days="7")
    assert "Select a valid choice. 7 is not one of the available choices." in html
    assert "Showing the last 30 days." in html
    assert "memberships live 30 days ago" in html


def test_trial_conversion_counts_finished_trials_that_paid(admin_client: Any) -> None:
    trial_end = timezone.now() - timedelta(days=5)
    _membership("active", trial_end=trial_end)  # paying after its trial
    _membership("canceled", trial_end=trial_end, current_period_end=trial_end)
    _membership("trialing", trial_end=timezone.now() + timedelta(days=3))  # still running
    html = _report(admin_client)
    assert "1 of 2 finished trials went on to a paid period: 50.0%." in html


def test_a_membership_on_a_deleted_price_shows_an_error_not_a_crash(admin_client: Any) -> None:
    _membership("active", "premium-gone")
    assert "MRR could not be computed" in _report(admin_client)


def _memberships_queried(client: Any) -> bool:
    with CaptureQueriesContext(connection) as queries:
        _report(client)
    return any("paywall_membership" in q["sql"] for q in queries.captured_queries)


def test_the_figures_are_cached_between_loads(admin_client: Any) -> None:
    _membership("active")
    assert _memberships_queried(admin_client)
    assert not _memberships_queried(admin_client)


def test_the_report_says_when_its_figures_were_computed(admin_client: Any) -> None:
    as_of = timezone.localtime(timezone.now()).strftime("%Y-%m-%d %H:%M")
    html = _report(admin_client)
    # The minute may turn between the two readings.
    before = datetime.strptime(as_of, "%Y-%m-%d %H:%M") + timedelta(minutes=1)
    assert f"As of {as_of}" in html or f"As of {before:%Y-%m-%d %H:%M}" in html


def _viewer(make_user: Any, *codenames: str) -> Any:
    user = make_user("viewer")
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


def test_an_editor_without_the_member_permission_is_refused(
    client: Any, make_user: Any, program: Any
) -> None:
    client.force_login(_viewer(make_user, "access_admin"))
    response = client.get(reverse("paywall_metrics"))
    # Wagtail answers a denied admin page by sending the user back to the dashboard.
    assert response.status_code == 302
    assert response["Location"] == reverse("wagtailadmin_home")
    assert "Membership metrics" not in client.get(reverse("wagtailadmin_home")).content.decode()


def test_an_editor_who_may_view_members_sees_the_report_in_the_menu(
    client: Any, make_user: Any, program: Any
) -> None:
    client.force_login(_viewer(make_user, "access_admin", "view_grant"))
    assert "Membership metrics" in client.get(reverse("wagtailadmin_home")).content.decode()
    assert client.get(reverse("paywall_metrics")).status_code == 200
