"""Deliveries on the site: the shipping-address page (validation, forged requests), the
manifest frozen once at the cut-off and never changed by what members do later, the
fulfilment CSV (formula-safe, staff only), the account page's upcoming issues, privacy
export and erasure, memberships of every provider, the command, the checks, and freezing
in parallel on PostgreSQL."""

from __future__ import annotations

import csv
import io
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connections
from django.template import Context, Template
from django.test import Client, override_settings
from django.utils import timezone

from membership_sdk import GrantKind, MembershipProgram
from wagtail_paywall import checks
from wagtail_paywall import program as program_module
from wagtail_paywall.models import (
    DeliveryIssue,
    DeliveryProduct,
    DeliveryRecipient,
    Erasure,
    Grant,
    LedgerEntry,
    Membership,
    ShippingAddress,
    Tier,
)
from wagtail_paywall.models.deliveries import freeze
from wagtail_paywall.privacy import erase, export
from wagtail_paywall.tasks import deliver

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.wagtail.journey_fixtures"]

PRINT = "delivery.print-edition"
ADDRESS = "/paywall/account/address/"
ACCOUNT = "/paywall/account/"
BERLIN = {
    "name": "Ada Lovelace",
    "line1": "Hauptstraße 1",
    "line2": "",
    "postcode": "10115",
    "city": "Berlin",
    "country": "DE",
}


@pytest.fixture
def product(catalog: dict[str, Tier]) -> DeliveryProduct:
    """Premium includes the print edition."""
    premium = catalog["premium"]
    premium.entitlements += f"\n{PRINT}"
    premium.save()
    program_module.reset_program()
    return DeliveryProduct.objects.create(key=PRINT, name="Print edition")


def make_issue(product: DeliveryProduct, title: str, *, ships_in: int, cutoff_in: timedelta) -> Any:
    now = timezone.now()
    return DeliveryIssue.objects.create(
        product=product,
        title=title,
        ships_on=timezone.localdate() + timedelta(days=ships_in),
        cutoff=now + cutoff_in,
    )


@pytest.fixture
def due(product: DeliveryProduct) -> DeliveryIssue:
    """An issue whose cut-off passed an hour ago; it ships in five days."""
    return make_issue(product, "May", ships_in=5, cutoff_in=timedelta(hours=-1))


@pytest.fixture
def coming(product: DeliveryProduct) -> DeliveryIssue:
    """An issue whose cut-off is in ten days; it ships in fifteen."""
    return make_issue(product, "June", ships_in=15, cutoff_in=timedelta(days=10))


def keep(user: Any, when: Any = None, **fields: str) -> ShippingAddress:
    values = {**BERLIN, **fields}
    return ShippingAddress.objects.create(
        member_id=str(user.pk),
        valid_from=when or timezone.now() - timedelta(days=30),
        **values,
    )


def backdate(prices: bool = True) -> None:
    """Date every membership and grant a month back, before any cut-off: the fixtures
    make them just now, after the cut-off of an issue due now. With ``prices``, the
    memberships' current prices too (they began with the membership)."""
    month_ago = timezone.now() - timedelta(days=30)
    Grant.objects.update(starts_at=month_ago)
    Membership.objects.filter(started_at__gt=month_ago).update(started_at=month_ago)
    if prices:
        Membership.objects.filter(price_since__gt=month_ago).update(price_since=month_ago)


def freeze_now(issue: DeliveryIssue, *, prices: bool = True) -> bool:
    """Freeze as the scheduled job does, members' access dated before the cut-off (and
    their prices, unless ``prices`` is false: a plan change made after the cut-off)."""
    backdate(prices)
    program = program_module.get_program()
    return freeze(issue, program.catalog, grace=program.grace, now=timezone.now())


def lines(issue: DeliveryIssue) -> dict[str, tuple[str, str]]:
    return {r.member_id: (r.status, r.city) for r in DeliveryRecipient.objects.filter(issue=issue)}


# -- the address page ---------------------------------------------------------------------------
def test_the_address_page_asks_anonymous_visitors_to_sign_in(client: Client) -> None:
    response = client.get(ADDRESS)
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_a_member_keeps_an_address_and_sees_it_on_the_account_page(
    premium: Any, login: Callable[[Any], Client], product: DeliveryProduct, coming: Any
) -> None:
    client = login(premium)
    response = client.post(ADDRESS, {**BERLIN, "postcode": "101 15", "country": "DE"})

    assert response.status_code == 302
    assert response["Location"].endswith("/paywall/account/#deliveries")
    stored = ShippingAddress.objects.get(member_id=str(premium.pk))
    assert (stored.postcode, stored.city, stored.country) == ("10115", "Berlin", "DE")
    page = client.get(ACCOUNT).content.decode()
    assert "Your deliveries" in page
    assert "Hauptstraße 1" in page
    assert "Change address" in page


def test_the_form_shows_the_current_address(premium: Any, login: Callable[[Any], Client]) -> None:
    keep(premium, city="Hamburg", postcode="20095")
    page = login(premium).get(ADDRESS).content.decode()
    assert 'value="Hamburg"' in page
    assert 'value="20095"' in page


@pytest.mark.parametrize(
    ("country", "postcode", "message"),
    [
        ("DE", "1011", "This is not a postcode of Germany; write it like 12345."),
        ("NL", "12345", "This is not a postcode of Netherlands; write it like 1234 AB."),
        ("PL", "1234", "This is not a postcode of Poland; write it like 12-345."),
        ("DK", "123", "This is not a postcode of Denmark; write it like 1234."),
    ],
)
def test_a_postcode_of_the_wrong_format_is_a_form_error_and_nothing_is_kept(
    premium: Any, login: Callable[[Any], Client], country: str, postcode: str, message: str
) -> None:
    response = login(premium).post(ADDRESS, {**BERLIN, "country": country, "postcode": postcode})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ShippingAddress.objects.exists()


def test_missing_fields_and_unknown_countries_are_form_errors(
    premium: Any, login: Callable[[Any], Client]
) -> None:
    response = login(premium).post(ADDRESS, {**BERLIN, "name": "", "country": "XX"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "This field is required." in page
    assert "Select a valid choice. XX is not one of the available choices." in page
    assert not ShippingAddress.objects.exists()


@override_settings(PAYWALL={"DELIVERY_COUNTRIES": ["DE", "AT"]})
def test_only_the_countries_shipped_to_are_offered(
    premium: Any, login: Callable[[Any], Client]
) -> None:
    client = login(premium)
    page = client.get(ADDRESS).content.decode()
    assert 'value="AT"' in page
    assert 'value="NL"' not in page
    assert (
        client.post(ADDRESS, {**BERLIN, "country": "NL", "postcode": "1234 AB"}).status_code == 400
    )


def test_posting_the_same_address_again_keeps_no_new_row(
    premium: Any, login: Callable[[Any], Client]
) -> None:
    client = login(premium)
    client.post(ADDRESS, BERLIN)
    client.post(ADDRESS, BERLIN)
    assert ShippingAddress.objects.filter(member_id=str(premium.pk)).count() == 1


def test_the_address_form_refuses_a_post_without_csrf(premium: Any, strict_client: Client) -> None:
    strict_client.force_login(premium)
    assert strict_client.post(ADDRESS, BERLIN).status_code == 403
    assert not ShippingAddress.objects.exists()


def test_another_member_can_neither_read_nor_change_an_address(
    premium: Any, supporter: Any, login: Callable[[Any], Client]
) -> None:
    keep(premium)
    client = login(supporter)
    assert "Hauptstraße" not in client.get(ADDRESS).content.decode()
    assert "Hauptstraße" not in client.get(f"{ADDRESS}?member={premium.pk}").content.decode()

    client.post(ADDRESS, {**BERLIN, "city": "Bremen", "postcode": "28195", "member_id": premium.pk})

    assert ShippingAddress.objects.get(member_id=str(premium.pk)).city == "Berlin"
    assert ShippingAddress.objects.get(member_id=str(supporter.pk)).city == "Bremen"


# -- the manifest -------------------------------------------------------------------------------
def test_freezing_lists_the_entitled_members_and_those_missing_an_address(
    due: DeliveryIssue, premium: Any, supporter: Any, make_user: Any, program: Any
) -> None:
    keep(premium)
    no_address = make_user("nomad")
    program.grant(str(no_address.pk), GrantKind.COMP, tier="premium", days=30)

    assert freeze_now(due) is True

    assert lines(due) == {
        str(premium.pk): ("receives", "Berlin"),
        str(no_address.pk): ("missing_address", ""),
    }


def test_an_issue_is_not_frozen_before_its_cut_off(coming: DeliveryIssue, premium: Any) -> None:
    from membership_sdk.deliveries import IssueNotDue

    with pytest.raises(IssueNotDue, match="is frozen at its cut-off"):
        freeze_now(coming)
    assert not DeliveryRecipient.objects.exists()
    coming.refresh_from_db()
    assert coming.frozen_at is None


def test_freezing_twice_makes_one_manifest(due: DeliveryIssue, premium: Any) -> None:
    keep(premium)
    assert freeze_now(due) is True
    made_at = DeliveryIssue.objects.get(pk=due.pk).frozen_at

    again = DeliveryIssue.objects.get(pk=due.pk)
    assert freeze_now(again) is False
    assert DeliveryRecipient.objects.filter(issue=due).count() == 1
    assert DeliveryIssue.objects.get(pk=due.pk).frozen_at == made_at


def test_changes_after_the_freeze_leave_the_manifest_as_it_was(
    due: DeliveryIssue,
    premium: Any,
    make_user: Any,
    program: MembershipProgram,
    subscribe: Any,
    login: Callable[[Any], Client],
) -> None:
    keep(premium)
    subscriber = make_user("subscriber")
    membership = subscribe(subscriber)
    keep(subscriber, city="Hamburg", postcode="20095")
    freeze_now(due)
    before = lines(due)

    login(premium).post(ADDRESS, {**BERLIN, "city": "Köln", "postcode": "50667"})
    program.cancel(membership.pk)
    [grant] = program.store.grants.for_member(str(premium.pk))
    program.revoke_grant(grant.id)
    freeze_now(DeliveryIssue.objects.get(pk=due.pk))

    assert lines(due) == before
    assert before[str(subscriber.pk)] == ("receives", "Hamburg")


def test_an_address_changed_after_the_cut_off_counts_from_the_next_issue_even_if_frozen_late(
    due: DeliveryIssue, coming: DeliveryIssue, premium: Any, login: Callable[[Any], Client]
) -> None:
    keep(premium)
    backdate()
    client = login(premium)
    response = client.post(ADDRESS, {**BERLIN, "city": "Köln", "postcode": "50667"}, follow=True)

    page = response.content.decode()
    assert "Print edition, May" in page
    assert "still goes to your previous address" in page
    freeze_now(due)  # the scheduled job ran late: the address valid at the cut-off counts
    assert lines(due)[str(premium.pk)] == ("receives", "Berlin")


def test_a_cancellation_after_the_cut_off_does_not_drop_a_late_frozen_issue(
    due: DeliveryIssue, make_user: Any, subscribe: Any, program: MembershipProgram
) -> None:
    subscriber = make_user("subscriber")
    membership = subscribe(subscriber, "premium-monthly")
    keep(subscriber)
    Membership.objects.filter(pk=membership.pk).update(started_at=due.cutoff - timedelta(days=9))
    program.cancel(membership.pk)  # after the cut-off, before the (late) freeze

    freeze_now(due)

    assert lines(due)[str(subscriber.pk)][0] == "receives"


def member_since_before(issue: DeliveryIssue, membership: Membership) -> None:
    """Date ``membership`` (its start, its price and its ledger history) nine days
    before ``issue``'s cut-off."""
    then = issue.cutoff - timedelta(days=9)
    Membership.objects.filter(pk=membership.pk).update(started_at=then, price_since=then)
    LedgerEntry.objects.filter(membership_id=membership.pk).update(at=then)


def test_an_upgrade_to_a_tier_with_the_product_after_the_cut_off_waits_for_the_next_issue(
    due: DeliveryIssue, make_user: Any, subscribe: Any, program: MembershipProgram
) -> None:
    subscriber = make_user("upgrader")
    membership = subscribe(subscriber, "supporter-monthly")
    keep(subscriber)
    member_since_before(due, membership)
    program.change_plan(membership.pk, "premium-monthly")  # after the cut-off
    assert Membership.objects.get(pk=membership.pk).tier == "premium"

    freeze_now(due, prices=False)  # the job ran late: the tier held at the cut-off counts

    assert str(subscriber.pk) not in lines(due)


def test_a_downgrade_after_the_cut_off_still_gets_a_late_frozen_issue(
    due: DeliveryIssue, make_user: Any, subscribe: Any, program: MembershipProgram, fake: Any
) -> None:
    subscriber = make_user("downgrader")
    membership = subscribe(subscriber, "premium-yearly")
    keep(subscriber)
    member_since_before(due, membership)
    program.change_plan(membership.pk, "supporter-monthly")  # waits for the period's end
    sub = fake.subscription(membership.provider_subscription_id)
    sub.current_period_end = timezone.now() - timedelta(minutes=5)  # after the cut-off
    renewal = fake.renew(sub.id)  # moves it to Supporter now
    deliver("fake", renewal.headers, renewal.body)
    assert Membership.objects.get(pk=membership.pk).tier == "supporter"

    freeze_now(due, prices=False)

    assert lines(due)[str(subscriber.pk)] == ("receives", "Berlin")


def test_before_a_late_freeze_the_account_page_shows_an_upgrade_waits_for_the_next_issue(
    due: DeliveryIssue,
    coming: DeliveryIssue,
    make_user: Any,
    subscribe: Any,
    program: MembershipProgram,
    login: Callable[[Any], Client],
) -> None:
    subscriber = make_user("upgrader")
    membership = subscribe(subscriber, "supporter-monthly")
    keep(subscriber)
    member_since_before(due, membership)
    program.change_plan(membership.pk, "premium-monthly")  # after the cut-off
    started = due.cutoff - timedelta(days=9)
    Membership.objects.filter(pk=membership.pk).update(started_at=started)

    page = login(subscriber).get(ACCOUNT).content.decode()

    assert f'data-issue="{due.pk}" data-status="not_entitled"' in page
    assert f'data-issue="{coming.pk}" data-status="receives"' in page


@pytest.mark.parametrize("provider", ["fake", "manual", "stripe"])
def test_memberships_of_every_provider_get_deliveries(
    due: DeliveryIssue, make_user: Any, provider: str
) -> None:
    member = make_user(f"on-{provider}")
    now = timezone.now()
    Membership.objects.create(
        id=f"{provider}-1",
        member_id=str(member.pk),
        tier="premium",
        status="active",
        provider=provider,
        provider_subscription_id=f"sub_{provider}",
        started_at=now - timedelta(days=40),
        current_period_end=now + timedelta(days=20),
    )
    keep(member)
    freeze_now(due)
    assert lines(due) == {str(member.pk): ("receives", "Berlin")}


def test_a_paused_membership_is_listed_as_skipping_the_issue(
    due: DeliveryIssue, make_user: Any
) -> None:
    member = make_user("resting")
    now = timezone.now()
    Membership.objects.create(
        id="m-paused",
        member_id=str(member.pk),
        tier="premium",
        status="paused",
        provider="fake",
        started_at=now - timedelta(days=60),
        current_period_end=now + timedelta(days=20),
        paused_until=now + timedelta(days=60),
    )
    keep(member)
    freeze_now(due)
    assert lines(due) == {str(member.pk): ("paused", "")}


# -- the fulfilment CSV -------------------------------------------------------------------------
def csv_rows(response: Any) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def manifest_url(issue: DeliveryIssue, missing: bool = False) -> str:
    suffix = "?missing=1" if missing else ""
    return f"/admin/paywall_delivery_issues/manifest/{issue.pk}.csv{suffix}"


def test_staff_download_the_manifest_who_gets_what_where(
    due: DeliveryIssue, premium: Any, editor: Any, client: Client
) -> None:
    backdate()
    keep(premium, line2="Hinterhaus")
    client.force_login(editor)

    response = client.get(manifest_url(due))

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="manifest-')
    rows = csv_rows(response)
    assert rows[0] == [
        "member_id",
        "name",
        "line1",
        "line2",
        "postcode",
        "city",
        "country",
        "product",
        "issue",
        "ships_on",
        "quantity",
    ]
    assert rows[1:] == [
        [
            str(premium.pk),
            "Ada Lovelace",
            "Hauptstraße 1",
            "Hinterhaus",
            "10115",
            "Berlin",
            "DE",
            "Print edition",
            "May",
            due.ships_on.isoformat(),
            "1",
        ]
    ]


def test_cells_a_spreadsheet_would_run_as_formulas_are_defused(
    due: DeliveryIssue, premium: Any, editor: Any, client: Client
) -> None:
    backdate()
    keep(premium, name='=HYPERLINK("http://evil")', line1="+1 Street", line2="@SUM(A1)")
    client.force_login(editor)
    [_header, row] = csv_rows(client.get(manifest_url(due)))
    assert row[1:4] == ['\'=HYPERLINK("http://evil")', "'+1 Street", "'@SUM(A1)"]


def test_members_without_an_address_are_downloaded_apart_to_chase(
    due: DeliveryIssue, premium: Any, editor: Any, client: Client
) -> None:
    backdate()
    client.force_login(editor)
    rows = csv_rows(client.get(manifest_url(due, missing=True)))
    assert rows == [
        ["member_id", "email", "product", "issue", "ships_on"],
        [str(premium.pk), "premium@example.com", "Print edition", "May", due.ships_on.isoformat()],
    ]
    assert csv_rows(client.get(manifest_url(due)))[1:] == []


def test_a_member_cannot_download_a_manifest(
    due: DeliveryIssue, premium: Any, login: Callable[[Any], Client]
) -> None:
    keep(premium)
    response = login(premium).get(manifest_url(due))
    assert response.status_code in (302, 403)
    assert b"Berlin" not in response.content


def test_no_manifest_is_downloaded_before_the_cut_off(
    coming: DeliveryIssue, editor: Any, client: Client
) -> None:
    client.force_login(editor)
    response = client.get(manifest_url(coming))
    assert response.status_code == 409
    assert "is made at its cut-off" in response.content.decode()
    assert not DeliveryRecipient.objects.exists()


def test_the_issue_screen_shows_the_counts_and_the_download_button(
    due: DeliveryIssue, premium: Any, supporter: Any, editor: Any, client: Client
) -> None:
    backdate()
    keep(premium)
    client.force_login(editor)
    page = client.get(f"/admin/paywall_delivery_issues/inspect/{due.pk}/").content.decode()
    assert "Download manifest (CSV)" in page
    assert 'data-count="receives">1<' in page
    assert 'data-count="missing_address">0<' in page
    assert DeliveryIssue.objects.get(pk=due.pk).frozen_at is not None  # opened after the cut-off


def test_the_issue_screen_shows_a_forecast_before_the_cut_off(
    coming: DeliveryIssue, premium: Any, editor: Any, client: Client
) -> None:
    client.force_login(editor)
    page = client.get(f"/admin/paywall_delivery_issues/inspect/{coming.pk}/").content.decode()
    assert "Forecast" in page
    assert 'data-count="missing_address">1<' in page
    assert "Download manifest (CSV)" not in page
    assert not DeliveryRecipient.objects.exists()


def test_staff_schedule_an_issue_with_a_default_cut_off(
    product: DeliveryProduct, editor: Any, client: Client
) -> None:
    client.force_login(editor)
    ships_on = timezone.localdate() + timedelta(days=30)
    response = client.post(
        "/admin/paywall_delivery_issues/new/",
        {"product": product.pk, "title": "July", "number": "7", "ships_on": ships_on.isoformat()},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    issue = DeliveryIssue.objects.get(title="July")
    assert issue.ships_on - timezone.localtime(issue.cutoff).date() >= timedelta(days=6)


def test_a_cut_off_after_the_ship_day_is_refused_in_the_admin(
    product: DeliveryProduct, editor: Any, client: Client
) -> None:
    client.force_login(editor)
    ships_on = timezone.localdate() + timedelta(days=30)
    response = client.post(
        "/admin/paywall_delivery_issues/new/",
        {
            "product": product.pk,
            "title": "July",
            "ships_on": ships_on.isoformat(),
            "cutoff": f"{(ships_on + timedelta(days=1)).isoformat()} 10:00",
        },
    )
    assert response.status_code == 200
    assert "The cut-off must be before the ship day begins." in response.content.decode()
    assert not DeliveryIssue.objects.exists()


# -- the account page ---------------------------------------------------------------------------
def test_the_account_page_shows_the_next_issues_and_whether_the_member_gets_them(
    due: DeliveryIssue, coming: DeliveryIssue, premium: Any, login: Callable[[Any], Client]
) -> None:
    keep(premium)
    freeze_now(due)
    page = login(premium).get(ACCOUNT).content.decode()
    assert "Your deliveries" in page
    assert f'data-issue="{due.pk}" data-status="receives"' in page
    assert f'data-issue="{coming.pk}" data-status="receives"' in page
    assert "cut-off passed; changes apply from the next issue" in page


def test_the_account_page_says_why_an_issue_is_not_sent(
    coming: DeliveryIssue, make_user: Any, login: Callable[[Any], Client]
) -> None:
    member = make_user("resting")
    now = timezone.now()
    Membership.objects.create(
        id="m-paused",
        member_id=str(member.pk),
        tier="premium",
        status="paused",
        provider="fake",
        started_at=now - timedelta(days=60),
        current_period_end=now + timedelta(days=20),
        paused_until=now + timedelta(days=60),
    )
    page = login(member).get(ACCOUNT).content.decode()
    assert "Skipped: your membership is paused until" in page
    assert "We have no shipping address for you yet." in page


def test_the_account_page_asks_for_an_address_before_the_cut_off(
    coming: DeliveryIssue, premium: Any, login: Callable[[Any], Client]
) -> None:
    page = login(premium).get(ACCOUNT).content.decode()
    assert "Add your shipping address by" in page


def test_members_without_deliveries_see_no_section(
    coming: DeliveryIssue, supporter: Any, login: Callable[[Any], Client]
) -> None:
    assert "Your deliveries" not in login(supporter).get(ACCOUNT).content.decode()


def test_the_section_costs_no_query_on_a_site_that_ships_nothing(
    premium: Any, request_for: Any, django_assert_num_queries: Any, program: Any
) -> None:
    template = Template("{% load paywall_deliveries %}{% paywall_deliveries as d %}{{ d }}")
    with django_assert_num_queries(0):
        assert template.render(Context({"request": request_for(premium)})) == "{}"


def test_the_section_costs_a_few_queries_for_a_member_with_deliveries(
    coming: DeliveryIssue, premium: Any, request_for: Any, django_assert_max_num_queries: Any
) -> None:
    keep(premium)
    request = request_for(premium)
    template = Template(
        "{% load paywall_deliveries %}{% paywall_deliveries as d %}{{ d.delivery_rows|length }}"
    )
    with django_assert_max_num_queries(5):
        assert template.render(Context({"request": request})) == "1"


# -- privacy ------------------------------------------------------------------------------------
def test_the_export_holds_the_address_history_and_deliveries(
    due: DeliveryIssue, premium: Any
) -> None:
    keep(premium)
    freeze_now(due)
    data = export(str(premium.pk))["data"]
    [address] = data["shipping_addresses"]
    assert (address["city"], address["postcode"]) == ("Berlin", "10115")
    [line] = data["deliveries"]
    assert (line["status"], line["city"]) == ("receives", "Berlin")


def test_erasure_removes_the_address_and_keeps_only_an_anonymous_count(
    due: DeliveryIssue, premium: Any, supporter: Any
) -> None:
    keep(premium)
    keep(supporter)
    freeze_now(due)

    erase(str(premium.pk), source=Erasure.Source.STAFF)

    assert not ShippingAddress.objects.filter(member_id=str(premium.pk)).exists()
    assert ShippingAddress.objects.filter(member_id=str(supporter.pk)).exists()
    [line] = DeliveryRecipient.objects.filter(issue=due)
    assert line.member_id.startswith("anon-")
    assert (line.name, line.line1, line.postcode, line.city) == ("", "", "", "")


# -- the command and the checks -----------------------------------------------------------------
def test_the_command_freezes_due_issues_once_and_exports_them(
    due: DeliveryIssue, coming: DeliveryIssue, premium: Any, tmp_path: Any
) -> None:
    backdate()
    keep(premium)
    out = StringIO()
    call_command("paywall_fulfilment", "freeze", stdout=out)
    assert "Froze Print edition: May: 1 recipient(s), 0 without an address" in out.getvalue()
    assert "1 manifest(s) made." in out.getvalue()

    again = StringIO()
    call_command("paywall_fulfilment", "freeze", stdout=again)
    assert "0 manifest(s) made." in again.getvalue()

    target = tmp_path / "may.csv"
    call_command(
        "paywall_fulfilment", "export", str(due.pk), "--output", str(target), stderr=StringIO()
    )
    rows = list(csv.reader(target.open(encoding="utf-8")))
    assert rows[1][0] == str(premium.pk)

    listing = StringIO()
    call_command("paywall_fulfilment", "list", stdout=listing)
    assert "frozen: 1 recipient(s)" in listing.getvalue()
    assert "June" in listing.getvalue()


def test_the_command_refuses_an_export_before_the_cut_off(coming: DeliveryIssue) -> None:
    with pytest.raises(CommandError, match="is made at its cut-off"):
        call_command("paywall_fulfilment", "export", str(coming.pk))
    with pytest.raises(CommandError, match="no delivery issue has the id 999"):
        call_command("paywall_fulfilment", "export", "999")


@override_settings(PAYWALL={"DELIVERY_COUNTRIES": ["DE", "XX"], "DELIVERY_CUTOFF_DAYS": 0})
def test_the_checks_refuse_bad_delivery_settings() -> None:
    found = {m.id: m.msg for m in checks.check_delivery_settings()}
    assert set(found) == {"wagtail_paywall.E040", "wagtail_paywall.E041"}
    assert "['XX']" in found["wagtail_paywall.E040"]


def test_the_checks_accept_the_defaults() -> None:
    assert checks.check_delivery_settings() == []


# -- concurrency --------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL"), reason="parallel transactions need PostgreSQL"
)
def test_freezing_in_parallel_makes_one_manifest(
    product: DeliveryProduct, make_user: Callable[..., Any]
) -> None:
    issue = make_issue(product, "May", ships_in=5, cutoff_in=timedelta(hours=-1))
    program = program_module.get_program()
    for n in range(5):
        member = make_user(f"m{n}")
        program.grant(str(member.pk), GrantKind.COMP, tier="premium", days=30)
        keep(member)
    start = threading.Barrier(6)

    def attempt(_n: int) -> bool:
        start.wait()
        try:
            return freeze_now(DeliveryIssue.objects.get(pk=issue.pk))
        finally:
            connections.close_all()

    with ThreadPoolExecutor(6) as pool:
        outcomes = list(pool.map(attempt, range(6)))

    assert sorted(outcomes) == [False] * 5 + [True]
    assert DeliveryRecipient.objects.filter(issue=issue).count() == 5
