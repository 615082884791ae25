"""Services on the site: a member of Premium (``service.consultation: 2 per month``)
requests consultations on ``/paywall/services/``, sees what is left there and on the
account page, cancels an open one; staff redeem or decline them in the admin. Forged
requests are refused, and the quota is never overrun, also by parallel requests."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core import checks
from django.db import connections
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from membership_sdk import Membership as CoreMembership
from membership_sdk import MembershipProgram, Status, hookimpl
from membership_sdk.services import ServiceDesk, ServiceQuotaExhausted
from membership_sdk.services import ServiceRequest as CoreRequest
from wagtail_paywall import program as program_module
from wagtail_paywall.billing import manual as bank
from wagtail_paywall.models import DjangoServices, ManualInvoice, Price, ServiceRequest, Tier
from wagtail_paywall.tasks import deliver

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.wagtail.journey_fixtures"]

SERVICES = "/paywall/services/"
ACCOUNT = "/paywall/account/"
CONSULTATION = "service.consultation"


@pytest.fixture(autouse=True)
def consultations(catalog: dict[str, Tier]) -> None:
    """Premium includes two consultations a month."""
    premium = catalog["premium"]
    premium.entitlements += f"\n{CONSULTATION}: 2 per month"
    premium.save()
    program_module.reset_program()


def rows(user: Any) -> list[ServiceRequest]:
    return list(ServiceRequest.objects.filter(member_id=str(user.pk)))


def ask(client: Client, note: str = "", service: str = CONSULTATION) -> Any:
    return client.post(SERVICES, {"service": service, "note": note})


# -- the member's page ------------------------------------------------------------------------


def test_a_member_sees_what_is_left_this_month_and_when_it_renews(
    premium: Any, login: Callable[[Any], Client]
) -> None:
    page = login(premium).get(SERVICES).content.decode()
    assert "Consultation: 2 of 2 left this month (renews on" in page


def test_a_request_with_a_note_takes_a_slot_and_is_listed(
    premium: Any, login: Callable[[Any], Client]
) -> None:
    client = login(premium)
    response = ask(client, "Tuesday morning, about my pension")
    page = client.get(SERVICES).content.decode()

    assert response.status_code == 302
    (request,) = rows(premium)
    assert (request.service, request.status, request.note) == (
        CONSULTATION,
        "requested",
        "Tuesday morning, about my pension",
    )
    assert "1 of 2 left this month" in page
    assert "Tuesday morning, about my pension" in page
    assert "Requested, waiting for us" in page


def test_the_account_page_shows_what_is_left_and_the_open_requests(
    premium: Any, login: Callable[[Any], Client]
) -> None:
    client = login(premium)
    ask(client)
    page = client.get(ACCOUNT).content.decode()
    assert "Consultation: 1 of 2 left this month" in page
    assert "Consultation, requested on" in page
    assert reverse("paywall:services") in page


def test_the_account_page_has_no_services_section_for_members_without_services(
    reader: Any, login: Callable[[Any], Client]
) -> None:
    page = login(reader).get(ACCOUNT).content.decode()
    assert "data-account-services" not in page


def test_the_account_section_costs_one_query_and_none_without_services(
    premium: Any, reader: Any, django_assert_num_queries: Any
) -> None:
    from wagtail_paywall.access import context_for_member
    from wagtail_paywall.views.services import account_services

    with_services = context_for_member(str(premium.pk))
    without = context_for_member(str(reader.pk))
    with django_assert_num_queries(1):
        shown = account_services(str(premium.pk), with_services)
    with django_assert_num_queries(0):
        hidden = account_services(str(reader.pk), without)
    assert [row["name"] for row in shown["service_rows"]] == ["Consultation"]
    assert hidden == {"service_rows": [], "open_requests": []}


def test_a_request_past_the_quota_is_refused_and_nothing_is_stored(
    premium: Any, login: Callable[[Any], Client]
) -> None:
    client = login(premium)
    ask(client)
    ask(client)
    response = ask(client)
    page = response.content.decode()
    assert response.status_code in (400, 409)
    assert "0 of 2 left this month" in page
    assert len(rows(premium)) == 2


def test_a_member_without_the_service_cannot_request_it(
    supporter: Any, login: Callable[[Any], Client]
) -> None:
    client = login(supporter)
    page = client.get(SERVICES).content.decode()
    response = ask(client)
    assert "Your membership includes no services." in page
    assert response.status_code == 400
    assert rows(supporter) == []


def test_a_lapsed_comp_gives_no_more_requests(
    premium: Any, login: Callable[[Any], Client], program: MembershipProgram
) -> None:
    for grant in program.store.grants.for_member(str(premium.pk)):
        program.revoke_grant(grant.id)
    response = ask(login(premium))
    assert response.status_code == 400
    assert rows(premium) == []


def test_a_note_longer_than_2000_characters_is_a_form_error(
    premium: Any, login: Callable[[Any], Client]
) -> None:
    response = ask(login(premium), "x" * 2001)
    assert response.status_code == 400
    assert rows(premium) == []


def test_an_anonymous_visitor_is_sent_to_log_in(client: Client) -> None:
    response = client.get(SERVICES)
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_a_request_without_the_csrf_token_is_refused(premium: Any, strict_client: Client) -> None:
    strict_client.force_login(premium)
    response = strict_client.post(SERVICES, {"service": CONSULTATION})
    assert response.status_code == 403
    assert rows(premium) == []


def test_services_can_be_given_names_members_read(
    premium: Any, login: Callable[[Any], Client]
) -> None:
    with override_settings(PAYWALL={"SERVICES": {CONSULTATION: "Consultations with an editor"}}):
        page = login(premium).get(SERVICES).content.decode()
    assert "Consultations with an editor: 2 of 2 left" in page


class StaffMail:
    """A site's plugin telling staff of each request (``PAYWALL["PLUGINS"]``)."""

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.fail = False

    @hookimpl
    def membership_service_requested(self, request: CoreRequest) -> None:
        if self.fail:
            raise RuntimeError("the mail server is down")
        self.notes.append(request.note)


STAFF_MAIL = StaffMail()


@pytest.fixture
def staff_mail() -> Any:
    STAFF_MAIL.notes.clear()
    STAFF_MAIL.fail = False
    with override_settings(PAYWALL={"PLUGINS": ["tests.wagtail.test_services.STAFF_MAIL"]}):
        program_module.reset_program()
        yield STAFF_MAIL
    program_module.reset_program()


def test_a_sites_plugin_is_told_of_each_request(
    staff_mail: StaffMail, premium: Any, login: Callable[[Any], Client]
) -> None:
    ask(login(premium), "Call me after five")
    assert staff_mail.notes == ["Call me after five"]


def test_a_request_whose_hook_fails_is_not_kept(
    staff_mail: StaffMail, premium: Any, login: Callable[[Any], Client]
) -> None:
    staff_mail.fail = True
    with pytest.raises(RuntimeError, match="mail server"):
        ask(login(premium))
    assert rows(premium) == []


# -- cancelling ------------------------------------------------------------------------------


def test_a_member_cancels_an_open_request_and_gets_the_slot_back(
    premium: Any, login: Callable[[Any], Client]
) -> None:
    client = login(premium)
    ask(client)
    (request,) = rows(premium)
    response = client.post(reverse("paywall:service_cancel", args=[request.id]))
    request.refresh_from_db()
    assert response.status_code == 302
    assert request.status == "canceled"
    assert "2 of 2 left this month" in client.get(SERVICES).content.decode()


def test_a_member_cannot_cancel_another_members_request(
    premium: Any, make_user: Callable[..., Any], login: Callable[[Any], Client]
) -> None:
    ask(login(premium))
    (request,) = rows(premium)
    intruder = make_user("intruder")
    response = login(intruder).post(reverse("paywall:service_cancel", args=[request.id]))
    request.refresh_from_db()
    assert response.status_code == 404
    assert request.status == "requested"


def test_cancelling_an_unknown_request_is_a_404(
    premium: Any, login: Callable[[Any], Client]
) -> None:
    response = login(premium).post(reverse("paywall:service_cancel", args=["srv_nope"]))
    assert response.status_code == 404


def test_a_redeemed_request_cannot_be_canceled(
    premium: Any, login: Callable[[Any], Client], program: MembershipProgram
) -> None:
    client = login(premium)
    ask(client)
    (request,) = rows(premium)
    ServiceDesk(program).redeem(request.id)
    response = client.post(reverse("paywall:service_cancel", args=[request.id]), follow=True)
    request.refresh_from_db()
    assert request.status == "redeemed"
    assert "already redeemed" in response.content.decode()


def test_cancelling_needs_a_post(premium: Any, login: Callable[[Any], Client]) -> None:
    client = login(premium)
    ask(client)
    (request,) = rows(premium)
    assert client.get(reverse("paywall:service_cancel", args=[request.id])).status_code == 405


# -- staff in the admin ------------------------------------------------------------------------


@pytest.fixture
def requested(premium: Any, login: Callable[[Any], Client]) -> ServiceRequest:
    ask(login(premium), "Any afternoon")
    (request,) = rows(premium)
    return request


def close(client: Client, request: ServiceRequest, action: str, note: str = "") -> Any:
    return client.post(
        reverse("paywall_services:close", args=[request.id]),
        {"action": action, "note": note},
        follow=True,
    )


def test_staff_see_open_requests_with_the_members_note(
    client: Client, editor: Any, requested: ServiceRequest
) -> None:
    client.force_login(editor)
    page = client.get(reverse("paywall_services:index")).content.decode()
    assert "Any afternoon" in page
    assert f'data-request="{requested.id}"' in page


def test_staff_redeem_a_request_with_a_note(
    client: Client, editor: Any, requested: ServiceRequest
) -> None:
    client.force_login(editor)
    response = close(client, requested, "redeem", "Talked 40 minutes")
    requested.refresh_from_db()
    assert (requested.status, requested.staff_note, requested.closed_by) == (
        "redeemed",
        "Talked 40 minutes",
        str(editor.pk),
    )
    assert "Redeemed: Consultation" in response.content.decode()


def test_redeeming_twice_is_refused_with_a_clear_message(
    client: Client, editor: Any, requested: ServiceRequest
) -> None:
    client.force_login(editor)
    close(client, requested, "redeem", "first")
    response = close(client, requested, "redeem", "second")
    requested.refresh_from_db()
    assert f"Request {requested.id} was redeemed on" in response.content.decode()
    assert requested.staff_note == "first"


def test_a_request_the_member_canceled_cannot_be_redeemed(
    client: Client, editor: Any, requested: ServiceRequest, premium: Any
) -> None:
    member = Client()
    member.force_login(premium)
    member.post(reverse("paywall:service_cancel", args=[requested.id]))
    client.force_login(editor)
    response = close(client, requested, "redeem")
    requested.refresh_from_db()
    assert requested.status == "canceled"
    assert "was canceled on" in response.content.decode()


def test_a_declined_request_gives_the_member_the_slot_back_and_shows_the_note(
    client: Client, editor: Any, requested: ServiceRequest, premium: Any
) -> None:
    client.force_login(editor)
    close(client, requested, "decline", "Out of office that week")
    member = Client()
    member.force_login(premium)
    page = member.get(SERVICES).content.decode()
    assert "2 of 2 left this month" in page
    assert "Out of office that week" in page


def test_staff_see_per_member_what_is_used_and_left(
    client: Client, editor: Any, requested: ServiceRequest, premium: Any
) -> None:
    client.force_login(editor)
    page = client.get(reverse("paywall_services:index"), {"member": str(premium.pk)})
    text = page.content.decode()
    assert "1 / 2" in text
    assert f'data-service="{CONSULTATION}"' in text


def test_staff_filter_the_requests_by_status(
    client: Client, editor: Any, requested: ServiceRequest, premium: Any, program: Any
) -> None:
    done = ServiceDesk(program).request(str(premium.pk), CONSULTATION, "Already done")
    ServiceDesk(program).redeem(done.id)
    client.force_login(editor)
    page = client.get(reverse("paywall_services:index"), {"status": "redeemed"})
    text = page.content.decode()
    assert f'data-request="{done.id}"' in text
    assert f'data-request="{requested.id}"' not in text


def test_a_bad_filter_is_a_form_error_not_a_500(
    client: Client, editor: Any, requested: ServiceRequest
) -> None:
    client.force_login(editor)
    page = client.get(reverse("paywall_services:index"), {"status": "lost", "service": "x"})
    assert page.status_code == 200
    assert "Select a valid choice" in page.content.decode()


def test_a_member_cannot_redeem_through_the_admin(
    requested: ServiceRequest, premium: Any, login: Callable[[Any], Client]
) -> None:
    response = login(premium).post(
        reverse("paywall_services:close", args=[requested.id]), {"action": "redeem"}
    )
    requested.refresh_from_db()
    assert response.status_code in (302, 403)
    assert requested.status == "requested"


def test_staff_who_may_only_view_cannot_redeem(
    client: Client, make_user: Callable[..., Any], requested: ServiceRequest
) -> None:
    viewer = make_user("viewer", is_staff=True)
    viewer.user_permissions.add(
        Permission.objects.get(codename="access_admin"),
        Permission.objects.get(codename="view_servicerequest"),
    )
    client.force_login(viewer)
    listed = client.get(reverse("paywall_services:index"))
    response = close(client, requested, "redeem")
    requested.refresh_from_db()
    assert listed.status_code == 200
    assert "Redeem</button>" not in listed.content.decode()
    assert response.status_code in (200, 403)
    assert requested.status == "requested"


def test_the_list_needs_its_permission(
    client: Client, make_user: Callable[..., Any], requested: ServiceRequest
) -> None:
    staff = make_user("staff", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="access_admin"))
    client.force_login(staff)
    response = client.get(reverse("paywall_services:index"))
    assert response.status_code == 302
    assert "Any afternoon" not in response.content.decode()


def test_a_bad_action_is_refused_and_changes_nothing(
    client: Client, editor: Any, requested: ServiceRequest
) -> None:
    client.force_login(editor)
    response = close(client, requested, "refund")
    requested.refresh_from_db()
    assert response.status_code == 200
    assert requested.status == "requested"
    assert "Say whether to redeem or decline" in response.content.decode()


# -- memberships of each provider --------------------------------------------------------------


def test_a_member_paying_through_the_fake_provider_gets_the_service(
    make_user: Callable[..., Any], subscribe: Callable[..., Any], login: Callable[[Any], Client]
) -> None:
    user = make_user("payer")
    subscribe(user, "premium-monthly")
    assert ask(login(user)).status_code == 302
    assert len(rows(user)) == 1


def test_a_member_paying_by_bank_transfer_gets_the_service(
    make_user: Callable[..., Any], program: MembershipProgram, login: Callable[[Any], Client]
) -> None:
    user = make_user("transfer")
    price = Price.objects.get(key="premium-monthly")
    price.provider_ids = {"manual": "manual_premium_monthly"}
    price.save()
    with override_settings(
        PAYWALL={
            "PROVIDERS": {"manual": {"secret": "tests-manual-secret"}},
            "DEFAULT_PROVIDER": "manual",
        }
    ):
        program_module.reset_program()
        program_module.get_program().start_checkout(
            str(user.pk),
            "premium-monthly",
            provider="manual",
            success_url="http://testserver/ok/",
            cancel_url="http://testserver/no/",
        )
        (invoice,) = ManualInvoice.objects.all()
        row = bank.mark_received(invoice.reference)
        deliver(row.provider, row.headers, bytes(row.body))
        response = ask(login(user))
    assert response.status_code == 302
    assert len(rows(user)) == 1


def test_a_member_paying_through_stripe_gets_the_service(
    make_user: Callable[..., Any], program: MembershipProgram, login: Callable[[Any], Client]
) -> None:
    # As the Stripe webhook stores an active subscription: services follow the tier.
    user = make_user("stripe")
    now = timezone.now()
    program.store.memberships.save(
        CoreMembership(
            id=program.store.memberships.new_id(),
            member_id=str(user.pk),
            tier="premium",
            status=Status.ACTIVE,
            provider="stripe",
            price_id="premium-monthly",
            provider_subscription_id="sub_123",
            started_at=now - timedelta(days=3),
            current_period_end=now + timedelta(days=27),
            paid_through=now + timedelta(days=27),
        )
    )
    assert ask(login(user)).status_code == 302
    assert len(rows(user)) == 1


# -- the quota under concurrency --------------------------------------------------------------


def test_the_store_refuses_the_request_past_the_quota(
    premium: Any, program: MembershipProgram
) -> None:
    desk = ServiceDesk(program)
    desk.request(str(premium.pk), CONSULTATION)
    desk.request(str(premium.pk), CONSULTATION)
    with pytest.raises(ServiceQuotaExhausted):
        desk.request(str(premium.pk), CONSULTATION)
    assert len(rows(premium)) == 2


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL"),
    reason="threads of SQLite's in-memory test database share one cache whose table locks "
    "fail at once; parallel transactions need PostgreSQL (SQLite: see the test below)",
)
def test_parallel_requests_never_take_more_than_the_quota(premium: Any) -> None:
    member = str(premium.pk)
    start = threading.Barrier(10)

    def attempt(_: int) -> str:
        start.wait()
        try:
            ServiceDesk(program_module.get_program()).request(member, CONSULTATION)
        except ServiceQuotaExhausted:
            return "refused"
        finally:
            connections.close_all()
        return "taken"

    with ThreadPoolExecutor(10) as pool:
        outcomes = sorted(pool.map(attempt, range(10)))

    assert outcomes == ["refused"] * 8 + ["taken"] * 2
    assert ServiceRequest.objects.filter(member_id=member).count() == 2


class _ToFile:
    """Sends service requests to the SQLite file ``alias`` (the test database is in memory)."""

    def __init__(self, alias: str) -> None:
        self.alias = alias

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        return self.alias if model is ServiceRequest else None

    db_for_write = db_for_read


def test_parallel_requests_on_an_sqlite_file_never_take_more_than_the_quota(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The in-memory test database cannot be shared by threads that wait for its lock:
    # the requests go to an SQLite file, each thread with a connection of its own (as
    # each worker process of a site has), made here without entering the settings.
    if connections["default"].vendor != "sqlite":
        pytest.skip("the SQLite variant of the test above")
    from django.db.backends.sqlite3.base import DatabaseWrapper
    from django.db.models import QuerySet

    # Each count takes a while, so the requests surely overlap between counting and
    # storing: only the reservation's lock keeps them from all seeing a free slot.
    counted = QuerySet.count

    def slow_count(self: Any) -> int:
        found = counted(self)
        time.sleep(0.05)
        return found

    monkeypatch.setattr(QuerySet, "count", slow_count)

    alias = "services_file"
    path = str(tmp_path / "services.sqlite3")
    options = {**connections.settings["default"], "NAME": path, "TEST": {"NAME": path}}

    def connect() -> Any:
        connection = DatabaseWrapper(options, alias)
        setattr(connections._connections, alias, connection)  # this thread's
        return connection

    main = connect()
    with main.schema_editor() as editor:
        editor.create_model(ServiceRequest)
    period = timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = threading.Barrier(10)

    def attempt(n: int) -> int | None:
        request = CoreRequest(f"srv_{n}", "42", CONSULTATION, timezone.now(), period)
        connection = connect()
        start.wait()
        try:
            return DjangoServices().reserve(request, 2)
        finally:
            connection.close()

    try:
        with override_settings(DATABASE_ROUTERS=[_ToFile(alias)]):
            with ThreadPoolExecutor(10) as pool:
                outcomes = list(pool.map(attempt, range(10)))
            stored = ServiceRequest.objects.using(alias).count()
    finally:
        main.close()
        delattr(connections._connections, alias)

    assert sorted(o for o in outcomes if o is not None) == [1, 2]
    assert outcomes.count(None) == 8
    assert stored == 2


def test_the_services_setting_is_checked(settings: Any) -> None:
    from wagtail_paywall.checks import check_service_names

    settings.PAYWALL = {"SERVICES": {"content.premium": "Premium", CONSULTATION: ""}}
    (error,) = check_service_names()
    assert error.id == "wagtail_paywall.E043"
    assert "'content.premium' is no service key" in error.msg
    assert "'service.consultation' has no name" in error.msg
    assert isinstance(error, checks.Error)
