"""Dunning on a site: a failed payment opens one recovery episode; the fake card is
charged again on the schedule, a bank-transfer member is reminded; a payment recovers
the episode, an end unpaid loses it; duplicated and reordered webhooks count once; the
"Payment recovery" report sums it up."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.checks import run_checks
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone
from django.utils.formats import date_format

from membership_sdk import BillingEvent, EventType, MembershipProgram, Status
from membership_sdk import SubscriptionSnapshot as Snapshot
from membership_sdk.providers.base import Webhook
from membership_sdk.providers.fake import FakeProvider
from wagtail_paywall.billing.dunning import run_dunning
from wagtail_paywall.models import ManualInvoice, Membership, PaymentRecovery, Price
from wagtail_paywall.tasks import deliver

from .manual_helpers import Clock, membership_of, receive

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.wagtail.journey_fixtures", "tests.wagtail.billing.manual_fixtures"]

PAYMENT_METHOD = "/paywall/account/payment-method/"
REPORT = "/admin/paywall-recovery/"
PREMIUM_YEARLY = 12000  # the test catalog's premium-yearly price, in cents


@pytest.fixture
def committed(django_capture_on_commit_callbacks: Any) -> Any:
    """Run what waits for the transaction to commit (the emails), as production would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def send(webhook: Webhook, provider: str = "fake") -> None:
    deliver(provider, webhook.headers, webhook.body)


def episode() -> PaymentRecovery:
    (only,) = PaymentRecovery.objects.all()
    return only


@pytest.fixture
def declined(reader: Any, subscribe: Callable[..., Membership], fake: FakeProvider) -> Membership:
    """The reader's Premium yearly membership, past due: their card is declined."""
    membership = subscribe(reader, "premium-yearly")
    fake.decline_card(membership.provider_customer_id)
    send(fake.fail_payment(membership.provider_subscription_id))
    return Membership.objects.get(pk=membership.pk)


def days_after_failure(days: float) -> datetime:
    return episode().failed_at + timedelta(days=days)


# -- an episode opens once ----------------------------------------------------------------------


def test_a_failed_payment_opens_an_episode_owing_one_period_with_the_first_retry_a_day_later(
    declined: Membership,
) -> None:
    row = episode()

    assert (row.state, row.provider, row.tier) == ("open", "fake", "premium")
    assert (row.amount, row.currency) == (PREMIUM_YEARLY, "EUR")
    assert row.next_attempt_at == row.failed_at + timedelta(days=1)


def test_a_failure_delivered_twice_and_a_second_failure_of_the_episode_open_it_once(
    declined: Membership, fake: FakeProvider
) -> None:
    again = fake.retry_payment(declined.provider_subscription_id)
    send(again)
    send(again)

    assert PaymentRecovery.objects.count() == 1


def test_a_recovery_delivered_twice_then_a_late_failure_count_one_recovered_episode(
    declined: Membership, fake: FakeProvider
) -> None:
    late_failure = fake.retry_payment(declined.provider_subscription_id)
    (recovery,) = fake.update_payment_method(declined.provider_customer_id)
    send(recovery)
    send(recovery)
    send(late_failure)  # older than the recovery: stale

    row = episode()
    assert row.state == "recovered"
    assert Membership.objects.get(pk=declined.pk).status == Status.ACTIVE


# -- the fake provider: retries on the schedule -------------------------------------------------


def test_no_retry_is_made_before_the_first_scheduled_day(declined: Membership) -> None:
    assert run_dunning(days_after_failure(0.5)) == []
    assert episode().attempts == 0


def test_a_retry_on_the_still_declined_card_fails_and_the_next_one_is_scheduled(
    declined: Membership,
) -> None:
    (attempt,) = run_dunning(days_after_failure(1))
    for row in attempt.rows:
        deliver(row.provider, row.headers, bytes(row.body))

    row = episode()
    assert attempt.action == "retried"
    assert (row.state, row.attempts) == ("open", 1)
    assert row.next_attempt_at == row.failed_at + timedelta(days=3)
    assert Membership.objects.get(pk=declined.pk).status == Status.PAST_DUE


def test_running_the_schedule_twice_the_same_day_retries_once(declined: Membership) -> None:
    call_command("paywall_dunning", now=days_after_failure(1), stdout=io.StringIO())
    out = io.StringIO()
    call_command("paywall_dunning", now=days_after_failure(1.5), stdout=out)

    assert episode().attempts == 1
    assert "0 retried" in out.getvalue()


def test_after_the_card_is_updated_the_next_scheduled_retry_recovers_the_payment(
    declined: Membership, fake: FakeProvider
) -> None:
    call_command("paywall_dunning", now=days_after_failure(1), stdout=io.StringIO())
    fake.declining.clear()  # a working card, entered where the provider keeps it

    call_command("paywall_dunning", now=days_after_failure(3), stdout=io.StringIO())

    row = episode()
    assert (row.state, row.attempts, row.recovered_amount) == ("recovered", 2, PREMIUM_YEARLY)
    assert row.next_attempt_at is None
    assert Membership.objects.get(pk=declined.pk).status == Status.ACTIVE


def test_when_the_last_retry_fails_too_the_subscription_ends_and_the_episode_is_lost(
    declined: Membership,
) -> None:
    out = io.StringIO()
    for day in (1, 3, 5):
        call_command("paywall_dunning", now=days_after_failure(day), stdout=out)

    row = episode()
    assert (row.state, row.attempts) == ("lost", 3)
    assert Membership.objects.get(pk=declined.pk).status == Status.EXPIRED
    assert "1 ended after the last retry" in out.getvalue()
    assert run_dunning(days_after_failure(30)) == []


def test_a_provider_that_is_down_costs_no_attempt_and_the_next_run_makes_it(
    declined: Membership, fake: FakeProvider
) -> None:
    fake.simulate_outage()
    (attempt,) = run_dunning(days_after_failure(1))
    fake.simulate_outage(None)

    assert attempt.action == "failed"
    assert "unreachable" in attempt.error
    assert episode().attempts == 0
    assert [a.action for a in run_dunning(days_after_failure(1))] == ["retried"]


def _open_episode_of(membership: Membership) -> PaymentRecovery:
    failed = timezone.now() - timedelta(days=2)
    return PaymentRecovery.objects.create(
        membership_id=membership.pk,
        member_id=membership.member_id,
        provider=membership.provider,
        failed_at=failed,
        next_attempt_at=failed + timedelta(days=1),
    )


def test_an_episode_whose_payment_arrived_unheard_is_settled_as_recovered_not_retried(
    reader: Any, subscribe: Callable[..., Membership]
) -> None:
    # The dunning plugin was blocked while the payment arrived: the episode stayed open.
    _open_episode_of(subscribe(reader, "premium-yearly"))

    (attempt,) = run_dunning()

    row = episode()
    assert attempt.action == "settled"
    assert (row.state, row.attempts, row.recovered_amount) == ("recovered", 0, PREMIUM_YEARLY)


def test_an_episode_of_a_provider_the_site_no_longer_uses_is_left_to_that_provider(
    reader: Any,
) -> None:
    gone = Membership.objects.create(
        id="m-gone",
        member_id=str(reader.pk),
        tier="premium",
        status="past_due",
        provider="paypal",
        provider_subscription_id="I-PAYPAL",
        current_period_end=timezone.now() + timedelta(days=20),
    )
    _open_episode_of(gone)

    assert run_dunning() == []

    row = episode()
    assert (row.state, row.attempts, row.next_attempt_at) == ("open", 0, None)


def test_the_member_updating_the_card_on_the_hosted_page_recovers_at_once(
    declined: Membership, reader: Any, login: Callable[[Any], Client]
) -> None:
    client = login(reader)
    page = client.get(PAYMENT_METHOD)
    assert "The card on file is declined." in page.content.decode()

    response = client.post(PAYMENT_METHOD, {"action": "update"})

    assert response.status_code == 302
    assert episode().state == "recovered"
    assert Membership.objects.get(pk=declined.pk).status == Status.ACTIVE


def test_the_account_page_of_a_past_due_member_links_to_the_update_page(
    declined: Membership, reader: Any, login: Callable[[Any], Client]
) -> None:
    page = login(reader).get("/paywall/account/").content.decode()

    assert f'<a href="{PAYMENT_METHOD}">Update payment method</a>' in page


def test_the_update_page_asks_an_anonymous_visitor_to_log_in(client: Client) -> None:
    response = client.get(PAYMENT_METHOD)

    assert response.status_code == 302
    assert "login" in response["Location"]


def test_the_update_page_sends_a_member_without_a_membership_back_to_the_account(
    reader: Any, login: Callable[[Any], Client]
) -> None:
    response = login(reader).get(PAYMENT_METHOD)

    assert response.status_code == 302
    assert response["Location"] == "/paywall/account/"


# -- the email ----------------------------------------------------------------------------------


def test_the_payment_failed_email_links_to_the_update_page_and_says_when_access_ends(
    reader: Any, subscribe: Callable[..., Membership], fake: FakeProvider, committed: Any
) -> None:
    membership = subscribe(reader, "premium-yearly")
    mail.outbox.clear()

    with committed():
        send(fake.fail_payment(membership.provider_subscription_id))

    (email,) = mail.outbox
    stored = Membership.objects.get(pk=membership.pk)
    paid = stored.paid_through or stored.current_period_end  # the last paid period's end
    assert paid is not None
    grace_end = date_format(timezone.localtime(paid + timedelta(days=3)), "DATE_FORMAT")
    assert f"Update your payment method here: http://localhost{PAYMENT_METHOD}" in email.body
    assert f"Your access continues until {grace_end}" in email.body


# -- bank transfers: reminders ------------------------------------------------------------------


@pytest.fixture
def overdue(
    site: MembershipProgram, reader: Any, invoice_for: Callable[..., str], clock: Clock
) -> ManualInvoice:
    """The reader's bank-transfer Premium membership, its renewal invoice overdue."""
    receive(invoice_for(reader))
    end = membership_of(reader).current_period_end
    assert end is not None
    clock.now = end - timedelta(days=14)
    call_command("paywall_bank_transfers", stdout=io.StringIO())
    clock.now = end
    call_command("paywall_bank_transfers", stdout=io.StringIO())
    assert membership_of(reader).status == Status.PAST_DUE
    return ManualInvoice.objects.get(state="open")


def test_an_overdue_bank_transfer_emails_its_reference_and_bank_details(
    site: MembershipProgram,
    reader: Any,
    invoice_for: Callable[..., str],
    clock: Clock,
    committed: Any,
) -> None:
    receive(invoice_for(reader))
    end = membership_of(reader).current_period_end
    assert end is not None
    clock.now = end - timedelta(days=14)
    call_command("paywall_bank_transfers", stdout=io.StringIO())
    mail.outbox.clear()
    clock.now = end

    with committed():
        call_command("paywall_bank_transfers", stdout=io.StringIO())

    (email,) = mail.outbox
    renewal = ManualInvoice.objects.get(state="open")
    assert "we have not received the bank transfer" in email.body
    assert f"quoting {renewal.reference}" in email.body
    assert "IBAN" in email.body
    assert PAYMENT_METHOD not in email.body


def test_an_overdue_invoice_is_reminded_on_the_schedule_then_paid_and_recovered(
    overdue: ManualInvoice, reader: Any, committed: Any
) -> None:
    mail.outbox.clear()
    with committed():
        assert run_dunning(days_after_failure(0.9)) == []
        (first,) = run_dunning(days_after_failure(1))
        assert run_dunning(days_after_failure(2)) == []
        (second,) = run_dunning(days_after_failure(3))

    assert [first.action, second.action] == ["reminded", "reminded"]
    assert [m.subject for m in mail.outbox] == ["Reminder: your payment is overdue"] * 2
    assert f"quoting {overdue.reference}" in mail.outbox[0].body

    receive(overdue.reference)

    row = episode()
    assert (row.state, row.attempts, row.provider) == ("recovered", 2, "manual")
    assert row.recovered_amount == PREMIUM_YEARLY
    assert membership_of(reader).status == Status.ACTIVE


def test_an_overdue_invoice_that_runs_out_unpaid_loses_the_episode(
    overdue: ManualInvoice, clock: Clock, reader: Any
) -> None:
    clock.now = overdue.due_at + timedelta(days=14)
    call_command("paywall_bank_transfers", stdout=io.StringIO())

    assert membership_of(reader).status == Status.EXPIRED
    assert episode().state == "lost"
    assert run_dunning(days_after_failure(5)) == []


# -- Stripe: only tracked -----------------------------------------------------------------------


@pytest.fixture
def stripe_priced(program: MembershipProgram) -> MembershipProgram:
    price = Price.objects.get(key="premium-yearly")
    price.provider_ids = {**price.provider_ids, "stripe": "price_premium_yearly"}
    price.save()
    from wagtail_paywall import program as program_module

    program_module.reset_program()
    return program_module.get_program()


def stripe_event(
    member: Any, event_id: str, version: int, kind: EventType, status: Status, **snap: Any
) -> BillingEvent:
    """An event as the Stripe provider translates ``invoice.payment_failed`` and
    ``invoice.paid`` (a past-due snapshot saying where the unpaid period began; a paid
    one saying which period it paid)."""
    return BillingEvent(
        provider="stripe",
        id=event_id,
        type=kind,
        occurred_at=timezone.now().replace(microsecond=0),
        member_id=str(member.pk),
        subscription=Snapshot(
            id="sub_stripe_1",
            customer_id="cus_stripe_1",
            price="price_premium_yearly",
            status=status,
            version=version,
            **snap,
        ),
    )


def stripe_history(member: Any) -> list[BillingEvent]:
    start = timezone.now().replace(microsecond=0) - timedelta(days=365)
    renewal = start + timedelta(days=365)
    return [
        stripe_event(
            member,
            "evt_created",
            1,
            EventType.SUBSCRIPTION_CREATED,
            Status.ACTIVE,
            current_period_end=renewal,
            started_at=start,
            paid_through=renewal,
        ),
        stripe_event(
            member,
            "evt_invoice_payment_failed",
            2,
            EventType.PAYMENT_FAILED,
            Status.PAST_DUE,
            current_period_end=renewal + timedelta(days=365),
            unpaid_since=renewal,
        ),
        stripe_event(
            member,
            "evt_invoice_paid",
            3,
            EventType.PAYMENT_SUCCEEDED,
            Status.ACTIVE,
            current_period_end=renewal + timedelta(days=365),
            paid_through=renewal + timedelta(days=365),
        ),
    ]


def test_stripe_payment_failed_then_invoice_paid_is_one_recovered_episode_never_retried(
    stripe_priced: MembershipProgram, reader: Any
) -> None:
    created, failed, paid = stripe_history(reader)
    stripe_priced.apply(created)
    stripe_priced.apply(failed)

    assert episode().next_attempt_at is None  # Stripe retries by itself
    assert run_dunning(timezone.now() + timedelta(days=30)) == []

    stripe_priced.apply(paid)
    row = episode()
    assert (row.state, row.provider) == ("recovered", "stripe")
    assert row.recovered_amount == PREMIUM_YEARLY


def test_duplicated_and_reordered_stripe_events_count_one_episode(
    stripe_priced: MembershipProgram, reader: Any
) -> None:
    created, failed, paid = stripe_history(reader)
    for event in (created, failed, failed, paid, failed, paid, created):
        stripe_priced.apply(event)

    row = episode()
    assert row.state == "recovered"


def test_a_stripe_subscription_deleted_while_past_due_loses_the_episode(
    stripe_priced: MembershipProgram, reader: Any
) -> None:
    created, failed, _paid = stripe_history(reader)
    stripe_priced.apply(created)
    stripe_priced.apply(failed)

    stripe_priced.apply(
        stripe_event(
            reader,
            "evt_deleted",
            3,
            EventType.SUBSCRIPTION_DELETED,
            Status.CANCELED,
            canceled_at=timezone.now().replace(microsecond=0),
        )
    )

    assert episode().state == "lost"


def test_canceling_now_while_past_due_loses_the_episode(
    declined: Membership, program: MembershipProgram
) -> None:
    program.cancel(declined.pk, at_period_end=False)

    assert episode().state == "lost"


def test_a_cancellation_at_the_period_end_keeps_the_episode_open(
    declined: Membership, program: MembershipProgram
) -> None:
    program.cancel(declined.pk, at_period_end=True)

    assert episode().state == "open"


# -- the report ---------------------------------------------------------------------------------


def _episodes() -> None:
    march = timezone.make_aware(datetime(2026, 3, 10, 12, 0))
    april = timezone.make_aware(datetime(2026, 4, 2, 12, 0))
    for n, (failed_at, provider, state, recovered) in enumerate(
        [
            (march, "fake", "recovered", 500),
            (march, "fake", "recovered", 700),
            (march, "fake", "lost", 0),
            (march, "manual", "open", 0),
            (april, "stripe", "recovered", 9900),
        ]
    ):
        PaymentRecovery.objects.create(
            membership_id=f"m{n}",
            member_id=str(n),
            provider=provider,
            state=state,
            failed_at=failed_at,
            amount=recovered or 300,
            currency="EUR",
            recovered_amount=recovered,
        )


def test_the_report_shows_failed_recovered_lost_revenue_and_rate_per_month_and_provider(
    client: Client, editor: Any
) -> None:
    _episodes()
    client.force_login(editor)

    page = client.get(REPORT).content.decode()

    rows = [r for r in page.split("<tr>") if "<td>2026-" in r]
    cells = [[c.split("</td>")[0].strip() for c in r.split("<td>")[1:]] for r in rows]
    assert cells == [
        ["2026-04", "stripe", "1", "1", "0", "0", "€99.00", "100.0%"],
        ["2026-03", "fake", "3", "2", "1", "0", "€12.00", "66.7%"],
        ["2026-03", "manual", "1", "0", "0", "1", "—", "—"],
    ]
    assert "Payment recovery" in page


def test_the_report_downloads_as_csv_in_minor_units(client: Client, editor: Any) -> None:
    _episodes()
    client.force_login(editor)

    response = client.get(REPORT, {"format": "csv"})

    assert response["Content-Type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(response.content.decode())))
    assert lines[0] == [
        "month",
        "provider",
        "failed",
        "recovered",
        "lost",
        "open",
        "revenue_recovered_EUR",
        "recovery_rate",
    ]
    assert ["2026-03", "fake", "3", "2", "1", "0", "1200", "0.6667"] in lines
    assert ["2026-03", "manual", "1", "0", "0", "1", "0", ""] in lines


def test_the_csv_counts_a_month_once_when_it_recovered_two_currencies(
    client: Client, editor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _episodes()
    client.force_login(editor)
    from wagtail_paywall.admin import dunning

    real = dunning.recovery_figures

    def two_currencies() -> Any:
        rows, total = real()
        rows[0].revenue["PLN"] = 5000
        return rows, total

    monkeypatch.setattr(dunning, "recovery_figures", two_currencies)
    response = client.get(REPORT, {"format": "csv"})
    lines = list(csv.reader(io.StringIO(response.content.decode())))
    assert lines[0][6:8] == ["revenue_recovered_EUR", "revenue_recovered_PLN"]
    assert len(lines) == 1 + 3  # the header, then one line per month and provider


def test_the_report_is_refused_to_an_editor_without_its_permission(
    client: Client, make_user: Callable[..., Any]
) -> None:
    from django.contrib.auth.models import Permission

    user = make_user("moderator")
    user.user_permissions.add(Permission.objects.get(codename="access_admin"))
    client.force_login(user)

    response = client.get(REPORT)

    assert response.status_code in (302, 403)
    assert "Revenue recovered" not in response.content.decode()


def test_an_empty_report_says_no_payment_failed(client: Client, editor: Any) -> None:
    client.force_login(editor)

    assert "No payment has failed yet." in client.get(REPORT).content.decode()


# -- the setting --------------------------------------------------------------------------------


@pytest.mark.parametrize("days", [[3, 1], [0], "1,3,5"])
def test_a_bad_retry_schedule_stops_the_site_naming_it(days: Any) -> None:
    with override_settings(PAYWALL={"DUNNING_RETRY_DAYS": days}):
        errors = [e for e in run_checks() if e.id == "wagtail_paywall.E015"]

    (error,) = errors
    assert "DUNNING_RETRY_DAYS" in error.msg
    assert repr(days) in error.msg or "retry day" in error.msg


def test_the_schedule_setting_decides_when_and_how_often_the_card_is_charged_again(
    reader: Any, subscribe: Callable[..., Membership], fake: FakeProvider
) -> None:
    paywall = {"PROVIDERS": {"fake": {"secret": "tests-webhook-secret"}}, "DUNNING_RETRY_DAYS": [2]}
    with override_settings(PAYWALL=paywall):
        membership = subscribe(reader, "premium-yearly")
        fake.decline_card(membership.provider_customer_id)
        send(fake.fail_payment(membership.provider_subscription_id))

        assert run_dunning(days_after_failure(1)) == []
        out = io.StringIO()
        call_command("paywall_dunning", now=days_after_failure(2), stdout=out)

    assert "1 ended after the last retry" in out.getvalue()
    assert episode().state == "lost"
