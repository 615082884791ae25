"""Bank transfers (the ``manual`` provider) on a real site: its records live in the
database, so a restarted site keeps its invoices, numbers and subscriptions; reconcile
ends nothing live; the schedule expires what was not paid; forged webhooks change nothing.

They run on SQLite and, with ``DATABASE_URL`` set, on PostgreSQL (the concurrent numbering
test only there: SQLite serialises every writer anyway).
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.test import Client, override_settings

from membership_sdk import MembershipProgram, Status, SubscriptionSnapshot
from membership_sdk.providers.manual import DEV_SECRET, InvoiceClosed
from membership_sdk.providers.webhooks import WebhookSigner, encode_event
from wagtail_paywall import program as program_module
from wagtail_paywall.access import context_for_member
from wagtail_paywall.billing import manual as billing
from wagtail_paywall.models import (
    ManualInvoice,
    ManualInvoiceCounter,
    ManualSubscription,
    Membership,
    WebhookEvent,
)

from .manual_helpers import (
    MANUAL_SECRET,
    Clock,
    manual_provider,
    membership_of,
    receive,
    restart,
)

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.wagtail.billing.manual_fixtures"]

WEBHOOK = "/paywall/webhooks/manual/"


def reference(clock: Clock, number: int) -> str:
    return f"INV-{clock.now.year}-{number:06d}"


# -- the records outlive the process ---------------------------------------------------------


def test_a_checkout_stores_its_invoice_in_the_database(
    site: MembershipProgram, reader: Any, invoice_for: Callable[..., str], clock: Clock
) -> None:
    ref = invoice_for(reader)

    row = ManualInvoice.objects.get()
    assert ref == row.reference == reference(clock, 1)
    assert (row.member_id, row.state, row.amount) == (str(reader.pk), "open", 12000)


def test_after_a_restart_invoice_numbers_continue(
    site: MembershipProgram, make_user: Any, invoice_for: Callable[..., str], clock: Clock
) -> None:
    invoice_for(make_user("ann"))
    restart()

    assert invoice_for(make_user("bob")) == reference(clock, 2)


def test_a_transfer_confirmed_after_a_restart_is_applied(
    site: MembershipProgram, reader: Any, invoice_for: Callable[..., str]
) -> None:
    ref = invoice_for(reader)
    restart()

    row = receive(ref)

    assert row.status == WebhookEvent.Status.PROCESSED
    assert membership_of(reader).status == "active"
    assert "premium" in context_for_member(str(reader.pk)).tiers


def test_transfers_confirmed_in_two_runs_of_the_site_are_both_applied(
    site: MembershipProgram, make_user: Any, invoice_for: Callable[..., str]
) -> None:
    ann, bob = make_user("ann"), make_user("bob")
    receive(invoice_for(ann))
    ref = invoice_for(bob)
    restart()

    receive(ref)

    assert WebhookEvent.objects.filter(status="processed").count() == 2
    assert membership_of(ann).status == membership_of(bob).status == "active"


def test_an_invoice_the_site_knew_before_a_restart_can_be_renewed_after_it(
    site: MembershipProgram, reader: Any, invoice_for: Callable[..., str], clock: Clock
) -> None:
    receive(invoice_for(reader, "supporter-monthly"))
    provider = restart()

    renewal = provider.issue_renewal(membership_of(reader).provider_subscription_id or "")
    receive(renewal.reference)

    assert renewal.reference == reference(clock, 2)
    assert ManualSubscription.objects.get().version == 2


def test_marking_an_invoice_received_twice_produces_one_event(
    site: MembershipProgram, reader: Any, invoice_for: Callable[..., str]
) -> None:
    ref = invoice_for(reader)
    receive(ref)

    with pytest.raises(InvoiceClosed, match="already paid"):
        billing.mark_received(ref)

    assert WebhookEvent.objects.count() == 1


def test_the_site_without_bank_transfers_says_so() -> None:
    with pytest.raises(billing.NotConfigured, match="PAYWALL\\['PROVIDERS'\\]\\['manual'\\]"):
        billing.mark_received("INV-2026-000001")


# -- reconcile --------------------------------------------------------------------------------


def test_reconciling_after_a_restart_ends_no_live_membership(
    site: MembershipProgram, reader: Any, invoice_for: Callable[..., str], tmp_path: Path
) -> None:
    receive(invoice_for(reader))
    restart()
    out = io.StringIO()

    call_command(
        "paywall_reconcile",
        "--provider",
        "manual",
        "--state-file",
        str(tmp_path / "state.json"),
        stdout=out,
        stderr=io.StringIO(),
    )

    assert membership_of(reader).status == "active"
    assert "1 unchanged" in out.getvalue()
    assert "vanished" not in out.getvalue().replace("0 vanished", "")


def test_reconcile_applies_a_confirmed_transfer_whose_event_was_lost(
    site: MembershipProgram, reader: Any, invoice_for: Callable[..., str], tmp_path: Path
) -> None:
    manual_provider().confirm_payment(invoice_for(reader))  # its webhook never arrives
    restart()

    call_command(
        "paywall_reconcile",
        "--provider",
        "manual",
        "--state-file",
        str(tmp_path / "state.json"),
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )

    assert membership_of(reader).status == "active"


# -- invoice numbers -------------------------------------------------------------------------


def test_invoice_numbers_are_sequential_within_a_year_and_restart_each_year(
    site: MembershipProgram, make_user: Any, invoice_for: Callable[..., str], clock: Clock
) -> None:
    clock.now = datetime(2026, 12, 31, 23, 0, tzinfo=UTC)
    first = [invoice_for(make_user(name)) for name in ("ann", "bob")]
    clock.now = datetime(2027, 1, 1, 0, 30, tzinfo=UTC)

    assert first == ["INV-2026-000001", "INV-2026-000002"]
    assert invoice_for(make_user("cem")) == "INV-2027-000001"
    assert dict(ManualInvoiceCounter.objects.values_list("year", "last")) == {2026: 2, 2027: 1}


@pytest.mark.postgres
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="row locks need PostgreSQL; SQLite serialises writers",
)
# serialized_rollback like every transactional test here: its flush then leaves no content
# types behind for the next serialized test to collide with.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_invoices_created_at_once_get_distinct_consecutive_numbers(
    bank_transfers: None, make_user: Any, clock: Clock
) -> None:
    users = [make_user(f"reader{n}") for n in range(12)]
    provider = manual_provider()
    start = threading.Barrier(len(users))
    references: list[str] = []
    errors: list[BaseException] = []

    def checkout(user: Any) -> None:
        try:
            start.wait()
            session = program_module.get_program().start_checkout(
                str(user.pk), "premium-yearly", provider="manual", success_url="/", cancel_url="/"
            )
            references.append(session.id)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=checkout, args=(u,)) for u in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(references) == [reference(clock, n) for n in range(1, 13)]
    assert provider.store.next_invoice_number(clock.now.year) == 13


# -- the schedule ---------------------------------------------------------------------------


def schedule() -> str:
    out = io.StringIO()
    call_command("paywall_bank_transfers", stdout=out)
    return out.getvalue()


def test_the_schedule_issues_the_renewal_then_makes_it_past_due_then_expires_it(
    site: MembershipProgram, reader: Any, invoice_for: Callable[..., str], clock: Clock
) -> None:
    receive(invoice_for(reader, "supporter-monthly"))
    end = membership_of(reader).current_period_end
    assert end is not None

    clock.now = end - timedelta(days=14)
    assert "0 event(s) sent; 1 invoice(s) open" in schedule()
    renewal = ManualInvoice.objects.get(state="open")
    assert renewal.renewal
    assert renewal.due_at == end

    clock.now = end
    schedule()
    assert membership_of(reader).status == "past_due"

    clock.now = end + timedelta(days=14)
    assert "1 event(s) sent; 0 invoice(s) open" in schedule()
    assert membership_of(reader).status == "expired"
    assert ManualInvoice.objects.get(pk=renewal.pk).state == "void"


def test_running_the_schedule_twice_sends_nothing_more(
    site: MembershipProgram, reader: Any, invoice_for: Callable[..., str], clock: Clock
) -> None:
    receive(invoice_for(reader, "supporter-monthly"))
    clock.now = (membership_of(reader).current_period_end or clock.now) + timedelta(days=1)
    schedule()
    events = WebhookEvent.objects.count()

    assert "0 event(s) sent" in schedule()
    assert WebhookEvent.objects.count() == events


def test_an_unpaid_first_invoice_lapses_and_grants_nothing(
    site: MembershipProgram, reader: Any, invoice_for: Callable[..., str], clock: Clock
) -> None:
    ref = invoice_for(reader)
    clock.now += timedelta(days=28)

    schedule()

    assert ManualInvoice.objects.get(pk=ref).state == "void"
    assert not Membership.objects.exists()
    with pytest.raises(InvoiceClosed, match="already void"):
        billing.mark_received(ref)


def test_the_schedule_on_a_site_without_bank_transfers_fails_saying_why(program: Any) -> None:
    with pytest.raises(CommandError, match="manual"):
        schedule()


# -- forged webhooks ------------------------------------------------------------------------


def forged_confirmation(reader: Any, secret: str) -> dict[str, Any]:
    """The request an attacker would send: a year of Premium for ``reader``, "confirmed"
    by bank transfer and signed with ``secret``; keyword arguments for ``client.post``."""
    now = datetime.now(UTC).replace(microsecond=0)
    snapshot = SubscriptionSnapshot(
        id="sub_forged",
        customer_id="cus_forged",
        price="manual_premium_yearly",
        status=Status.ACTIVE,
        version=1,
        current_period_end=now + timedelta(days=365),
        started_at=now,
    )
    body = encode_event(
        "evt_forged", "subscription.created", now, snapshot, member_id=str(reader.pk)
    )
    webhook = WebhookSigner([secret], header="Manual-Signature").sign(body)
    headers = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in webhook.headers.items()}
    return {"data": body, "content_type": "application/json", **headers}


@pytest.mark.parametrize("secret", ["a-secret-the-site-never-set", DEV_SECRET])
def test_a_confirmation_signed_with_another_secret_is_400_and_grants_nothing(
    site: MembershipProgram, client: Client, reader: Any, secret: str
) -> None:
    response = client.post(WEBHOOK, **forged_confirmation(reader, secret))

    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()
    assert not Membership.objects.exists()


def test_the_same_confirmation_signed_with_the_sites_secret_is_accepted(
    site: MembershipProgram, client: Client, reader: Any
) -> None:
    # The control for the tests around it: only the signature makes them fail.
    response = client.post(WEBHOOK, **forged_confirmation(reader, MANUAL_SECRET))

    assert response.status_code == 200
    assert membership_of(reader).status == "active"


def test_a_webhook_without_a_signature_is_400_and_grants_nothing(
    site: MembershipProgram, client: Client, reader: Any, invoice_for: Callable[..., str]
) -> None:
    # A real confirmation's body, replayed without its signature header.
    webhook = manual_provider().confirm_payment(invoice_for(reader))

    response = client.post(WEBHOOK, data=webhook.body, content_type="application/json")

    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()
    assert not Membership.objects.exists()


def test_the_sites_own_confirmation_is_accepted_at_the_endpoint(
    site: MembershipProgram, client: Client, reader: Any, invoice_for: Callable[..., str]
) -> None:
    webhook = manual_provider().confirm_payment(invoice_for(reader))
    headers = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in webhook.headers.items()}

    response = client.post(WEBHOOK, data=webhook.body, content_type="application/json", **headers)

    assert response.status_code == 200
    assert membership_of(reader).status == "active"


@pytest.mark.parametrize(
    "manual_settings",
    [pytest.param({}, id="no-secret"), pytest.param({"secret": DEV_SECRET}, id="public-secret")],
)
def test_without_a_secret_of_its_own_a_confirmation_signed_with_the_public_one_gives_nothing(
    client: Client, catalog: Any, reader: Any, manual_settings: dict[str, Any]
) -> None:
    paywall = {"PROVIDERS": {"manual": manual_settings}, "DEFAULT_PROVIDER": "manual"}

    with override_settings(DEBUG=False, PAYWALL=paywall):
        response = client.post(WEBHOOK, **forged_confirmation(reader, DEV_SECRET))

    assert response.status_code == 404
    assert not WebhookEvent.objects.exists()
    assert not Membership.objects.exists()
