"""Segments on the admin's Members screen: memberships filtered by tier, status, currency,
billing country, join cohort, source page, paywall variant and at-risk reason; counted,
paged, and exported as a CSV a spreadsheet cannot be tricked by."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from wagtail.models import Page

from wagtail_paywall.models import MemberCountry, Membership, Price, SavedSegment, Tier
from wagtail_paywall.models.at_risk import AtRisk
from wagtail_paywall.models.attribution import Attribution
from wagtail_paywall.models.experiments import PaywallTest, PaywallVariant
from wagtail_paywall.program import reset_program

pytestmark = pytest.mark.django_db

INDEX = "/admin/paywall_members/"
EXPORT = "/admin/paywall_members/export.csv"


@pytest.fixture
def admin_client(client: Any, editor: Any, program: Any) -> Any:
    client.force_login(editor)
    return client


@pytest.fixture
def dollars(catalog: dict[str, Tier]) -> None:
    """Premium is also sold in US dollars."""
    Price.objects.create(
        key="premium-monthly-usd",
        tier=catalog["premium"],
        amount=1300,
        currency="USD",
        interval=Price.Interval.MONTH,
        provider_ids={"fake": "fake_price_premium_monthly_usd"},
    )
    reset_program()


def joined(
    name: str,
    *,
    tier: str = "premium",
    status: str = "active",
    price: str = "premium-monthly",
    started: datetime | None = None,
    country: str = "",
    email: str | None = None,
) -> Membership:
    """A user ``name`` with a membership that started ``started`` (default: 2026-01-15)."""
    user = get_user_model().objects.create_user(
        username=name, email=email if email is not None else f"{name}@example.com"
    )
    membership = Membership.objects.create(
        id=f"mem_{uuid.uuid4().hex[:12]}",
        member_id=str(user.pk),
        tier=tier,
        status=status,
        provider="fake",
        price_id=price,
        started_at=started or timezone.make_aware(datetime(2026, 1, 15)),
    )
    if country:
        MemberCountry.record(str(user.pk), country, "fake")
    return membership


def listed(client: Any, **filters: Any) -> str:
    response = client.get(INDEX, filters)
    assert response.status_code == 200
    return response.content.decode()


def names_in(html: str) -> set[str]:
    """The users the segment's table lists."""
    if "paywall-segment-list" not in html:
        return set()
    table = html.split("paywall-segment-list", 1)[1].split("</table>", 1)[0]
    return {cell.split(">", 1)[1].split("<", 1)[0] for cell in table.split('<td><a href="')[1:]}


def exported(client: Any, **filters: Any) -> list[list[str]]:
    response = client.get(EXPORT, filters)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


# -- each filter ------------------------------------------------------------------------------
def test_the_tier_filter_lists_only_that_tiers_members(admin_client: Any) -> None:
    joined("ada", tier="premium")
    joined("bob", tier="supporter", price="supporter-monthly")

    assert names_in(listed(admin_client, tier="premium")) == {"ada"}


def test_the_status_filter_lists_only_members_in_that_status(admin_client: Any) -> None:
    joined("ada", status="active")
    joined("bob", status="past_due")

    assert names_in(listed(admin_client, status="past_due")) == {"bob"}


def test_the_currency_filter_follows_the_price_the_member_pays(
    dollars: None, admin_client: Any
) -> None:
    joined("ada", price="premium-monthly")
    joined("bob", price="premium-monthly-usd")

    assert names_in(listed(admin_client, currency="USD")) == {"bob"}
    assert names_in(listed(admin_client, currency="EUR")) == {"ada"}


def test_the_country_filter_lists_members_billed_there(admin_client: Any) -> None:
    joined("ada", country="DE")
    joined("bob", country="FR")
    joined("cy")

    assert names_in(listed(admin_client, country="de")) == {"ada"}


def test_the_cohort_filter_lists_members_who_joined_in_that_month(admin_client: Any) -> None:
    joined("ada", started=timezone.make_aware(datetime(2026, 1, 31, 23, 59)))
    joined("bob", started=timezone.make_aware(datetime(2026, 2, 1, 0, 0)))
    joined("cy", started=timezone.make_aware(datetime(2025, 12, 31, 23, 59)))

    assert names_in(listed(admin_client, cohort="2026-01")) == {"ada"}
    assert names_in(listed(admin_client, cohort="2026-02")) == {"bob"}


def test_the_source_page_filter_lists_members_whose_checkout_started_there(
    admin_client: Any,
) -> None:
    home = Page.objects.get(depth=2)
    ada, bob = joined("ada"), joined("bob")
    for membership, page in ((ada, home), (bob, None)):
        Attribution.objects.create(
            member_id=membership.member_id,
            page=page,
            price_id="premium-monthly",
            provider="fake",
            started_at=timezone.now(),
            membership_id=membership.pk,
            converted_at=timezone.now(),
        )

    assert names_in(listed(admin_client, page=home.pk)) == {"ada"}


def test_the_variant_filter_lists_members_who_converted_on_that_paywall(
    admin_client: Any,
) -> None:
    test = PaywallTest.objects.create(name="Spring copy")
    a = PaywallVariant.objects.create(test=test, name="A", sort_order=0)
    b = PaywallVariant.objects.create(test=test, name="B", sort_order=1)
    for name, variant in (("ada", a), ("bob", b)):
        membership = joined(name)
        Attribution.objects.create(
            member_id=membership.member_id,
            variant=variant,
            price_id="premium-monthly",
            provider="fake",
            started_at=timezone.now(),
            membership_id=membership.pk,
        )

    html = listed(admin_client, variant=b.pk)
    assert names_in(html) == {"bob"}
    assert "Spring copy: B" in html


def test_the_at_risk_filter_lists_open_marks_of_that_reason_only(admin_client: Any) -> None:
    ada, bob, cy = joined("ada"), joined("bob"), joined("cy")
    now = timezone.now()
    AtRisk.objects.create(
        member_id=ada.member_id, membership=ada, reason="sleeper", detected_at=now
    )
    AtRisk.objects.create(
        member_id=bob.member_id, membership=bob, reason="payment_failed", detected_at=now
    )
    AtRisk.objects.create(
        member_id=cy.member_id,
        membership=cy,
        reason="sleeper",
        detected_at=now,
        resolved_at=now,
        outcome="saved",
    )

    assert names_in(listed(admin_client, at_risk="sleeper")) == {"ada"}


# -- combined, count, paging ------------------------------------------------------------------
def test_filters_combine_and_the_count_says_how_many_match(admin_client: Any) -> None:
    joined("ada", status="active", country="DE")
    joined("bob", status="past_due", country="DE")
    joined("cy", status="active", country="FR")
    joined("dee", tier="supporter", price="supporter-monthly", country="DE")

    html = listed(admin_client, tier="premium", status="active", country="DE", cohort="2026-01")

    assert names_in(html) == {"ada"}
    assert "1 membership matches." in html
    assert "Export CSV" in html


def test_a_segment_with_no_match_says_so(admin_client: Any) -> None:
    joined("ada", country="DE")

    html = listed(admin_client, country="JP")

    assert names_in(html) == set()
    assert "0 memberships match." in html
    assert "No membership matches these filters." in html


def test_the_segment_is_paged_newest_first_keeping_its_filters(admin_client: Any) -> None:
    for day in range(1, 28):
        joined(f"m{day:02d}", started=timezone.make_aware(datetime(2026, 3, day)))
    for day in range(1, 28):
        joined(f"n{day:02d}", started=timezone.make_aware(datetime(2026, 4, day)))
    joined("x", status="canceled", started=timezone.make_aware(datetime(2026, 3, 2)))

    first = listed(admin_client, status="active")
    second = listed(admin_client, status="active", p=2)

    assert "54 memberships match." in first
    assert "n27" in names_in(first)
    assert "m01" not in names_in(first)
    assert names_in(second) == {"m01", "m02", "m03", "m04"}
    assert "status=active&amp;p=2" in first


def test_the_list_is_a_fixed_number_of_queries_however_many_match(admin_client: Any) -> None:
    for n in range(5):
        joined(f"a{n}", country="DE")
    with CaptureQueriesContext(connection) as few:
        listed(admin_client, country="DE")
    for n in range(20):
        joined(f"b{n}", country="DE")
    with CaptureQueriesContext(connection) as many:
        listed(admin_client, country="DE")

    assert len(many.captured_queries) == len(few.captured_queries)


def test_without_filters_the_members_screen_lists_users_as_before(
    admin_client: Any, premium: Any
) -> None:
    html = listed(admin_client)

    assert "paywall-segment-list" not in html
    assert "Search all users" in html
    assert "Show segment" in html


# -- CSV --------------------------------------------------------------------------------------
def test_the_csv_holds_the_filtered_segment(admin_client: Any) -> None:
    ada = joined("ada", country="DE")
    joined("bob", country="FR")

    rows = exported(admin_client, country="DE")

    assert rows[0] == [
        "Member id",
        "User",
        "Email",
        "Tier",
        "Status",
        "Currency",
        "Billing country",
        "Joined",
        "Provider",
    ]
    assert rows[1][:7] == [
        ada.member_id,
        "ada",
        "ada@example.com",
        "premium",
        "active",
        "EUR",
        "DE",
    ]
    assert rows[1][7].startswith("2026-01-15")
    assert len(rows) == 2


def test_the_csv_is_streamed_as_an_attachment_nobody_caches(admin_client: Any) -> None:
    joined("ada")

    response = admin_client.get(EXPORT, {"tier": "premium"})

    assert response.streaming
    assert response["Content-Disposition"] == 'attachment; filename="members.csv"'
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize("formula", ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)"])
def test_csv_cells_that_a_spreadsheet_would_run_are_escaped(
    admin_client: Any, formula: str
) -> None:
    joined(formula, email="ada@example.com")

    rows = exported(admin_client, tier="premium")

    assert rows[1][1] == f"'{formula}"


def test_the_csv_of_a_large_segment_reads_in_chunks(admin_client: Any) -> None:
    from wagtail_paywall.admin import segments

    for n in range(5):
        joined(f"u{n}")
    lines = list(segments.csv_lines(segments.memberships({"tier": "premium"}), chunk=2))

    assert len(lines) == 6
    assert sorted(line.split(",")[1] for line in lines[1:]) == [f"u{n}" for n in range(5)]


# -- permissions ------------------------------------------------------------------------------
@pytest.fixture
def moderator(client: Any, program: Any) -> Any:
    """A Wagtail editor who may use the admin but not see members."""
    user = get_user_model().objects.create_user(username="moderator", password="x")
    group = Group.objects.create(name="Editors without members")
    group.permissions.add(Permission.objects.get(codename="access_admin"))
    user.groups.add(group)
    client.force_login(user)
    return client


def test_the_csv_export_is_refused_to_editors_who_may_not_see_members(moderator: Any) -> None:
    joined("ada")

    response = moderator.get(EXPORT, {"tier": "premium"})

    assert response.status_code == 403
    assert b"ada" not in b"".join(getattr(response, "streaming_content", [response.content]))


def test_the_segment_list_is_refused_to_editors_who_may_not_see_members(moderator: Any) -> None:
    joined("ada")

    response = moderator.get(INDEX, {"tier": "premium"})

    assert response.status_code in (302, 403)
    assert b"ada@example.com" not in response.content


# -- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("filters", "culprit"),
    [
        ({"tier": "platinum"}, "platinum is not one of the available choices"),
        ({"status": "happy"}, "happy"),
        ({"currency": "XXX"}, "XXX"),
        ({"country": "Germany"}, "“Germany” is not a two-letter country code"),
        ({"cohort": "2026-13"}, "“2026-13” is not a month"),
        ({"cohort": "January"}, "“January” is not a month"),
        ({"page": "home"}, "Select a valid choice"),
        ({"variant": "999999"}, "Select a valid choice"),
        ({"at_risk": "bored"}, "bored"),
    ],
)
def test_a_bad_filter_shows_its_error_and_lists_nothing(
    admin_client: Any, filters: dict[str, str], culprit: str
) -> None:
    joined("ada")

    html = listed(admin_client, **filters)

    assert culprit in html
    assert names_in(html) == set()
    assert "Correct the filters marked above" in html


def test_a_bad_filter_exports_nothing_and_names_it(admin_client: Any) -> None:
    joined("ada")

    response = admin_client.get(EXPORT, {"cohort": "2026-00"})

    body = b"".join(response.streaming_content).decode()
    assert response.status_code == 400
    assert "2026-00" in body
    assert "ada" not in body


def test_a_page_number_past_the_end_shows_the_last_page(admin_client: Any) -> None:
    joined("ada")

    assert names_in(listed(admin_client, tier="premium", p="99")) == {"ada"}
    assert names_in(listed(admin_client, tier="premium", p="x")) == {"ada"}


# -- where the country comes from -------------------------------------------------------------
def test_a_later_country_report_replaces_the_earlier_one() -> None:
    MemberCountry.record("7", "de", "manual", at=timezone.make_aware(datetime(2026, 1, 1)))
    MemberCountry.record("7", "FR", "stripe", at=timezone.make_aware(datetime(2026, 2, 1)))

    row = MemberCountry.objects.get(member_id="7")
    assert (row.country, row.source) == ("FR", "stripe")


def test_a_late_older_country_report_changes_nothing() -> None:
    MemberCountry.record("7", "FR", "stripe", at=timezone.make_aware(datetime(2026, 2, 1)))

    assert (
        MemberCountry.record("7", "DE", "stripe", at=timezone.make_aware(datetime(2026, 1, 1)))
        is None
    )
    assert MemberCountry.objects.get(member_id="7").country == "FR"


@pytest.mark.parametrize("bad", ["", "D", "DEU", "1A", None, 49])
def test_something_that_is_no_country_code_is_not_kept(bad: object) -> None:
    assert MemberCountry.record("7", bad, "fake") is None
    assert not MemberCountry.objects.exists()


# -- saved segments ---------------------------------------------------------------------------
SAVE = "/admin/paywall_members/segments/save/"


def test_a_saved_segment_is_listed_and_opens_with_its_filters(admin_client: Any) -> None:
    joined("ada", country="DE")
    joined("bob", country="FR")

    response = admin_client.post(SAVE, {"name": "Germany", "filters": "country=de&tier=premium"})

    assert response.status_code == 302
    saved = SavedSegment.objects.get()
    assert (saved.name, saved.query, saved.created_by) == (
        "Germany",
        "tier=premium&country=DE",
        "editor",
    )
    html = listed(admin_client)
    assert '<a href="?tier=premium&amp;country=DE">Germany</a>' in html
    assert names_in(listed(admin_client, tier="premium", country="DE")) == {"ada"}


def test_a_shown_segment_offers_to_save_its_filters(admin_client: Any) -> None:
    joined("ada", country="DE")

    html = listed(admin_client, country="de", status="")

    assert 'name="filters" value="country=DE"' in html
    assert "Save segment" in html


def test_a_segment_name_in_use_is_refused_naming_it(admin_client: Any) -> None:
    SavedSegment.objects.create(name="Germany", query="country=DE")

    response = admin_client.post(SAVE, {"name": "Germany", "filters": "country=FR"}, follow=True)

    assert "A segment named “Germany” exists already" in response.content.decode()
    assert SavedSegment.objects.get().query == "country=DE"


@pytest.mark.parametrize("filters", ["", "cohort=2026-13", "tier=platinum", "p=2"])
def test_a_segment_with_bad_or_no_filters_is_not_saved(admin_client: Any, filters: str) -> None:
    response = admin_client.post(SAVE, {"name": "Broken", "filters": filters}, follow=True)

    assert response.status_code == 200
    assert "Only a segment with valid filters can be saved." in response.content.decode()
    assert not SavedSegment.objects.exists()


def test_a_saved_segment_can_be_deleted(admin_client: Any) -> None:
    saved = SavedSegment.objects.create(name="Germany", query="country=DE")

    admin_client.post(f"/admin/paywall_members/segments/{saved.pk}/delete/")

    assert not SavedSegment.objects.exists()


def test_saving_needs_the_change_permission(client: Any, program: Any) -> None:
    viewer = get_user_model().objects.create_user(username="viewer", password="x")
    group = Group.objects.create(name="Member viewers")
    group.permissions.add(
        Permission.objects.get(codename="access_admin"),
        Permission.objects.get(codename="view_grant"),
    )
    viewer.groups.add(group)
    client.force_login(viewer)
    saved = SavedSegment.objects.create(name="Germany", query="country=DE")

    assert "Save segment" not in listed(client, country="DE")
    client.post(SAVE, {"name": "France", "filters": "country=FR"})
    client.post(f"/admin/paywall_members/segments/{saved.pk}/delete/")

    assert list(SavedSegment.objects.values_list("name", flat=True)) == ["Germany"]


def test_saving_is_post_only(admin_client: Any) -> None:
    assert admin_client.get(SAVE).status_code == 405


def test_the_members_page_shows_the_billing_country_and_who_reported_it(
    admin_client: Any,
) -> None:
    ada = joined("ada", country="NL")

    html = admin_client.get(f"/admin/paywall_members/{ada.member_id}/").content.decode()

    assert "Billing country: NL (reported by fake)" in html
