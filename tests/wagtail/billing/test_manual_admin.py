"""The "Bank transfers" screen of the paywall's admin: staff see the open invoices and
mark a transfer received, which produces the provider's event through the webhook inbox.
Marking is a CSRF-protected, permission-checked POST, and marking twice is one event."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from membership_sdk import MembershipProgram
from wagtail_paywall import program as program_module
from wagtail_paywall.billing import manual as billing
from wagtail_paywall.models import ManualInvoice, Membership, WebhookEvent

from .manual_helpers import membership_of

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.wagtail.billing.manual_fixtures"]

INDEX = "/admin/paywall_bank_transfers/"


def mark_url(reference: str) -> str:
    return reverse("paywall_bank_transfers:mark_received", args=[reference])


@pytest.fixture
def staff(client: Client, editor: Any) -> Client:
    client.force_login(editor)
    return client


@pytest.fixture
def moderator(make_user: Callable[..., Any]) -> Any:
    """May use the Wagtail admin, but not see or mark bank transfers."""
    user = make_user("moderator", is_staff=True)
    group = Group.objects.create(name="Front desk")
    group.permissions.add(Permission.objects.get(codename="access_admin"))
    user.groups.add(group)
    return user


def test_the_index_url_is_the_one_staff_bookmark() -> None:
    assert reverse("paywall_bank_transfers:index") == INDEX


def test_staff_see_open_invoices_with_member_amount_and_due_date(
    site: MembershipProgram, staff: Client, reader: Any, invoice_for: Callable[..., str]
) -> None:
    reference = invoice_for(reader)
    due = ManualInvoice.objects.get().due_at

    page = staff.get(INDEX).content.decode()

    assert reference in page
    assert "reader" in page
    assert "premium-yearly" in page
    assert "120.00" in page
    assert f"{due:%Y-%m-%d}" in page
    assert "Mark as received" in page


def test_paid_invoices_are_not_listed(
    site: MembershipProgram, staff: Client, make_user: Any, invoice_for: Callable[..., str]
) -> None:
    paid = invoice_for(make_user("ann"))
    staff.post(mark_url(paid), follow=True)  # and read the message it leaves
    waiting = invoice_for(make_user("bob"))

    page = staff.get(INDEX).content.decode()

    assert waiting in page
    assert paid not in page


def test_staff_find_an_invoice_by_its_reference(
    site: MembershipProgram, staff: Client, make_user: Any, invoice_for: Callable[..., str]
) -> None:
    first = invoice_for(make_user("ann"))
    second = invoice_for(make_user("bob"))

    page = staff.get(INDEX, {"q": second}).content.decode()

    assert second in page
    assert first not in page


def test_marking_a_transfer_received_gives_the_reader_the_membership(
    site: MembershipProgram, staff: Client, reader: Any, invoice_for: Callable[..., str]
) -> None:
    reference = invoice_for(reader)

    response = staff.post(mark_url(reference), follow=True)

    assert response.redirect_chain[-1][0] == INDEX
    assert f"Transfer for {reference} recorded" in response.content.decode()
    assert membership_of(reader).status == "active"
    assert ManualInvoice.objects.get().state == "paid"
    (event,) = WebhookEvent.objects.all()
    assert (event.provider, event.event_type, event.status) == (
        "manual",
        "subscription.created",
        "processed",
    )


def test_marking_an_invoice_twice_produces_one_event_and_says_it_is_paid(
    site: MembershipProgram, staff: Client, reader: Any, invoice_for: Callable[..., str]
) -> None:
    reference = invoice_for(reader)
    staff.post(mark_url(reference))

    response = staff.post(mark_url(reference), follow=True)

    assert f"{reference!r} is already paid" in html.unescape(response.content.decode())
    assert WebhookEvent.objects.count() == 1
    assert Membership.objects.count() == 1


def test_the_day_the_transfer_arrived_starts_the_period(
    site: MembershipProgram,
    staff: Client,
    reader: Any,
    invoice_for: Callable[..., str],
    clock: Any,
) -> None:
    clock.now -= timedelta(days=5)  # issued before the transfer arrived
    reference = invoice_for(reader, "supporter-monthly")
    arrived = timezone.localdate() - timedelta(days=3)

    staff.post(mark_url(reference), {f"{reference}-received_on": arrived.isoformat()})

    started = membership_of(reader).started_at
    assert started is not None
    assert timezone.localdate(started) == arrived


def test_a_transfer_dated_in_the_future_is_refused(
    site: MembershipProgram, staff: Client, reader: Any, invoice_for: Callable[..., str]
) -> None:
    reference = invoice_for(reader)
    tomorrow = timezone.localdate() + timedelta(days=1)

    response = staff.post(
        mark_url(reference), {f"{reference}-received_on": tomorrow.isoformat()}, follow=True
    )

    assert "cannot arrive in the future" in response.content.decode()
    assert ManualInvoice.objects.get().state == "open"
    assert not WebhookEvent.objects.exists()


def test_an_unknown_reference_is_named_and_changes_nothing(
    site: MembershipProgram, staff: Client
) -> None:
    response = staff.post(mark_url("INV-1999-000042"), follow=True)

    assert "'INV-1999-000042'" in html.unescape(response.content.decode())
    assert not WebhookEvent.objects.exists()


def test_a_get_cannot_mark_a_transfer(
    site: MembershipProgram, staff: Client, reader: Any, invoice_for: Callable[..., str]
) -> None:
    reference = invoice_for(reader)

    assert staff.get(mark_url(reference)).status_code == 405
    assert ManualInvoice.objects.get().state == "open"


def test_a_post_without_the_csrf_token_is_refused(
    site: MembershipProgram, editor: Any, reader: Any, invoice_for: Callable[..., str]
) -> None:
    reference = invoice_for(reader)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(editor)

    assert browser.post(mark_url(reference)).status_code == 403
    assert ManualInvoice.objects.get().state == "open"


def test_an_admin_user_without_the_permission_is_turned_away_and_nothing_changes(
    site: MembershipProgram,
    client: Client,
    moderator: Any,
    reader: Any,
    invoice_for: Callable[..., str],
) -> None:
    reference = invoice_for(reader)
    client.force_login(moderator)

    # Wagtail answers a refused page with the dashboard and a message, a script with 403.
    listing = client.get(INDEX, follow=True)
    marking = client.post(mark_url(reference), follow=True)
    scripted = client.post(mark_url(reference), headers={"X-Requested-With": "XMLHttpRequest"})

    assert reference not in listing.content.decode()
    assert "do not have permission" in html.unescape(marking.content.decode())
    assert scripted.status_code == 403
    assert ManualInvoice.objects.get().state == "open"
    assert not Membership.objects.exists()
    assert not WebhookEvent.objects.exists()


def test_a_reader_cannot_mark_their_own_transfer(
    site: MembershipProgram, client: Client, reader: Any, invoice_for: Callable[..., str]
) -> None:
    reference = invoice_for(reader)
    client.force_login(reader)

    response = client.post(mark_url(reference))

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert ManualInvoice.objects.get().state == "open"
    assert not Membership.objects.exists()


def test_a_clerk_with_the_invoice_permissions_may_mark_transfers(
    site: MembershipProgram,
    client: Client,
    moderator: Any,
    reader: Any,
    invoice_for: Callable[..., str],
) -> None:
    reference = invoice_for(reader)
    moderator.groups.get().permissions.add(
        *Permission.objects.filter(codename__in=["view_manualinvoice", "change_manualinvoice"])
    )
    client.force_login(moderator)

    client.post(mark_url(reference))

    assert membership_of(reader).status == "active"


def test_the_menu_offers_bank_transfers_when_the_site_takes_them(
    site: MembershipProgram, staff: Client
) -> None:
    assert "Bank transfers" in staff.get(reverse("wagtailadmin_home")).content.decode()


def test_the_menu_hides_bank_transfers_on_a_site_without_them(
    program: MembershipProgram, staff: Client
) -> None:
    with override_settings(PAYWALL={"PROVIDERS": {"fake": {"secret": "s"}}}):
        program_module.reset_program()
        page = staff.get(reverse("wagtailadmin_home")).content.decode()

    assert "Bank transfers" not in page


def test_the_screen_header_names_bank_transfers_not_home(
    site: MembershipProgram, staff: Client
) -> None:
    response = staff.get(INDEX)

    # Wagtail's header shows the last breadcrumb (the h1 is for screen readers only).
    assert [item["label"] for item in response.context["breadcrumbs_items"]] == [
        "Home",
        "Bank transfers",
    ]


def test_a_transfer_dated_before_the_invoice_was_issued_is_refused_naming_both(
    site: MembershipProgram, staff: Client, reader: Any, invoice_for: Callable[..., str]
) -> None:
    # A yearly invoice marked received in 2000 would give a membership that ended in 2001.
    reference = invoice_for(reader)
    issued = timezone.localdate(ManualInvoice.objects.get().issued_at)

    response = staff.post(
        mark_url(reference), {f"{reference}-received_on": "2000-01-01"}, follow=True
    )

    page = html.unescape(response.content.decode())
    assert f"{reference}: The invoice was issued on {issued.isoformat()}" in page
    assert "2000-01-01" in page
    assert ManualInvoice.objects.get().state == "open"
    assert not WebhookEvent.objects.exists()
    assert not Membership.objects.exists()


def test_a_transfer_on_the_day_the_invoice_was_issued_starts_no_earlier_than_the_invoice(
    site: MembershipProgram,
    staff: Client,
    reader: Any,
    invoice_for: Callable[..., str],
    clock: Any,
) -> None:
    clock.now -= timedelta(days=2)  # issued two days ago, in the evening or not
    reference = invoice_for(reader)
    issued = ManualInvoice.objects.get().issued_at

    staff.post(
        mark_url(reference),
        {f"{reference}-received_on": timezone.localdate(issued).isoformat()},
    )

    started = membership_of(reader).started_at
    assert started is not None
    assert started >= issued
    assert timezone.localdate(started) == timezone.localdate(issued)


def test_an_invoice_that_ran_out_unpaid_is_refused_saying_it_grants_nothing(
    site: MembershipProgram,
    staff: Client,
    reader: Any,
    invoice_for: Callable[..., str],
    clock: Any,
) -> None:
    # The transfer came after the invoice was voided (14 days due, 14 more to expire).
    reference = invoice_for(reader)
    clock.now += timedelta(days=28)
    billing.run_schedule()

    response = staff.post(mark_url(reference), follow=True)

    page = html.unescape(response.content.decode())
    assert f"invoice {reference!r} is already void" in page
    assert "refund the transfer, or have the reader check out again" in page
    assert not Membership.objects.exists()


def test_an_open_invoice_paid_after_its_due_date_still_starts_the_period_that_day(
    site: MembershipProgram, staff: Client, reader: Any, clock: Any, invoice_for: Any
) -> None:
    # Until the schedule voids it, an overdue invoice is still payable.
    clock.now -= timedelta(days=20)  # due 6 days ago
    reference = invoice_for(reader, "supporter-monthly")
    arrived = timezone.localdate() - timedelta(days=1)

    staff.post(mark_url(reference), {f"{reference}-received_on": arrived.isoformat()})

    started = membership_of(reader).started_at
    assert started is not None
    assert timezone.localdate(started) == arrived
    assert membership_of(reader).status == "active"


def test_an_invoice_whose_reference_has_a_slash_can_still_be_marked(
    site: MembershipProgram, staff: Client, reader: Any, invoice_for: Callable[..., str]
) -> None:
    # Stored before prefixes were checked: its URL must neither 500 nor miss it.
    reference = invoice_for(reader)
    ManualInvoice.objects.filter(pk=reference).update(reference=f"OLD/{reference}")
    renamed = f"OLD/{reference}"

    listing = staff.get(INDEX)
    response = staff.post(mark_url(renamed), follow=True)

    assert listing.status_code == 200
    assert mark_url(renamed) in listing.content.decode()
    assert f"Transfer for {renamed} recorded" in html.unescape(response.content.decode())
    assert membership_of(reader).status == "active"


def test_a_site_whose_reference_prefix_has_a_slash_is_refused_naming_it(
    site: MembershipProgram, catalog: Any
) -> None:
    from membership_sdk import PluginError

    providers = {"manual": {"secret": "s", "reference_prefix": "INV/"}}
    with override_settings(PAYWALL={"PROVIDERS": providers}):
        program_module.reset_program()
        with pytest.raises(PluginError, match=r"'reference_prefix'.*got 'INV/'"):
            program_module.get_program()
    program_module.reset_program()
