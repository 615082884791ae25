"""The membership report in the Wagtail admin: its charts with their data tables and CSV
exports, the home page's panel, who may see them, and the cache."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from membership_sdk import Status
from wagtail_paywall.formats import money

from .conftest import months_ago

pytestmark = pytest.mark.django_db

URL = "/admin/paywall-metrics/"


@pytest.fixture
def admin_client(client: Any, editor: Any, program: Any) -> Any:
    client.force_login(editor)
    return client


@pytest.fixture
def history(apply: Any) -> None:
    apply("m1", "sub_1", 1, Status.ACTIVE, months_ago(3), price="supporter-monthly")
    apply("m1", "sub_1", 2, Status.ACTIVE, months_ago(2), price="premium-monthly")
    apply("m2", "sub_2", 1, Status.ACTIVE, months_ago(2))
    apply("m2", "sub_2", 2, Status.CANCELED, months_ago(1), canceled_at=months_ago(1))


def _viewer(make_user: Any, *codenames: str) -> Any:
    user = make_user("viewer")
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


def test_the_report_keeps_its_admin_address() -> None:
    assert reverse("paywall_metrics") == URL


def test_the_report_shows_mrr_and_members_now(admin_client: Any, history: None) -> None:
    html = admin_client.get(URL).content.decode()
    assert money(1200, "EUR") in html
    assert "<dt>Paid memberships</dt><dd>1</dd>" in html


def test_every_chart_has_its_data_table(admin_client: Any, history: None) -> None:
    html = admin_client.get(URL).content.decode()
    for title in (
        "MRR movements per month (EUR)",
        "Active members at each month&#x27;s end",
        "Retention by month of joining",
        "Churn by reason since",
    ):
        assert f'aria-label="{title}' in html, title
    assert (
        html.count('class="paywall-chart"') == html.count('class="listing paywall-chart-data"') == 4
    )
    assert "<summary>Data table</summary>" in html


def test_a_chart_exports_its_data_as_csv(admin_client: Any, history: None) -> None:
    response = admin_client.get(reverse("paywall_metrics_csv", args=["mrr-eur"]), {"months": 6})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="membership-mrr-eur-6m.csv"' in response["Content-Disposition"]
    lines = response.content.decode().splitlines()
    assert lines[0].startswith("Month,MRR at start,New,Reactivated,Expansion")
    assert len(lines) == 1 + 6


def test_each_chart_of_the_report_links_its_csv(admin_client: Any, history: None) -> None:
    html = admin_client.get(URL).content.decode()
    for slug in ("mrr-eur", "members", "cohorts", "reasons"):
        assert reverse("paywall_metrics_csv", args=[slug]) + "?months=12" in html
        assert admin_client.get(reverse("paywall_metrics_csv", args=[slug])).status_code == 200


def test_an_unknown_chart_is_not_found(admin_client: Any) -> None:
    assert admin_client.get(reverse("paywall_metrics_csv", args=["nope"])).status_code == 404


def test_an_invalid_period_shows_an_error_and_the_default_period(admin_client: Any) -> None:
    html = admin_client.get(URL, {"months": "7"}).content.decode()
    assert "Showing the last 12 months." in html


def test_the_figures_are_cached_until_the_ledger_changes(
    admin_client: Any, history: None, apply: Any
) -> None:
    admin_client.get(URL)
    with CaptureQueriesContext(connection) as queries:
        admin_client.get(URL)
    assert not any("wagtail_paywall_ledgerentry" in q["sql"] for q in queries.captured_queries)
    apply("m3", "sub_3", 1, Status.ACTIVE, months_ago(0, 1))
    assert money(2400, "EUR") in admin_client.get(URL).content.decode()


def test_the_home_page_shows_the_membership_panel(admin_client: Any, history: None) -> None:
    html = admin_client.get(reverse("wagtailadmin_home")).content.decode()
    assert "paywall-membership-panel" in html
    assert money(1200, "EUR") in html
    assert 'aria-label="MRR movements per month (EUR)"' in html


def test_the_home_panel_is_absent_for_a_user_without_the_member_permission(
    client: Any, make_user: Any, program: Any, history: None
) -> None:
    client.force_login(_viewer(make_user, "access_admin"))
    html = client.get(reverse("wagtailadmin_home")).content.decode()
    assert "paywall-membership-panel" not in html
    assert "Membership metrics" not in html


def test_an_editor_without_the_member_permission_is_refused(
    client: Any, make_user: Any, program: Any
) -> None:
    client.force_login(_viewer(make_user, "access_admin"))
    for url in (URL, reverse("paywall_metrics_csv", args=["members"])):
        response = client.get(url)
        # Wagtail answers a denied admin page by sending the user back to the dashboard.
        assert response.status_code == 302, url
        assert response["Location"] == reverse("wagtailadmin_home")


def test_an_editor_who_may_view_members_sees_the_report_in_the_menu(
    client: Any, make_user: Any, program: Any
) -> None:
    client.force_login(_viewer(make_user, "access_admin", "view_grant"))
    assert "Membership metrics" in client.get(reverse("wagtailadmin_home")).content.decode()
    assert client.get(URL).status_code == 200
