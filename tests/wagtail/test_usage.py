"""Usage-based add-ons on the site: recording use from a view, the account page's usage
section, billing on the fake provider (the next renewal) and by bank transfer (an invoice
when the period ends, once), the admin, the system checks, and parallel records on
PostgreSQL."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.management import call_command
from django.db import connection, connections
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from membership_sdk import MembershipProgram
from membership_sdk.providers.fake import FakeProvider
from membership_sdk.providers.manual import ManualProvider
from wagtail_paywall import program as program_module
from wagtail_paywall.admin.usage import bill_state
from wagtail_paywall.billing import manual as bank
from wagtail_paywall.models import (
    ManualInvoice,
    Membership,
    Price,
    Tier,
    UsagePeriod,
    UsageRate,
    UsageRecord,
)
from wagtail_paywall.tasks import deliver
from wagtail_paywall.usage import (
    MAX_QUANTITY,
    NotEntitled,
    PeriodClosed,
    UnknownMeter,
    UsageError,
    UsageLimitReached,
    check_settings,
    close_periods,
    record_usage,
)

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.wagtail.journey_fixtures"]

ACCOUNT = "/paywall/account/"
DOWNLOADS = "datasets.download"
KEYS = iter(range(10**9))


def add_on(catalog: dict[str, Tier], **rate: Any) -> UsageRate:
    """Supporter includes 10 dataset downloads a month; each further one costs €0.50."""
    supporter = catalog["supporter"]
    supporter.entitlements = f"content.supporter\n{DOWNLOADS}: 10 per month"
    supporter.save()
    row, _ = UsageRate.objects.update_or_create(
        meter=DOWNLOADS,
        defaults={"name": "dataset downloads", "unit_amount": 50, "currency": "EUR", **rate},
    )
    program_module.reset_program()
    return row


@pytest.fixture
def downloads(catalog: dict[str, Tier]) -> UsageRate:
    return add_on(catalog)


@pytest.fixture
def site(downloads: UsageRate) -> MembershipProgram:
    return program_module.get_program()


@pytest.fixture
def fake(site: MembershipProgram) -> FakeProvider:
    provider = site.providers["fake"]
    assert isinstance(provider, FakeProvider)
    return provider


@pytest.fixture
def committed(django_capture_on_commit_callbacks: Any) -> Any:
    """Run what waits for the transaction to commit, as production would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def member(
    site: MembershipProgram, reader: Any, subscribe: Callable[..., Membership]
) -> Iterator[Any]:
    """A member paying for Supporter monthly at the fake provider."""
    subscribe(reader, "supporter-monthly")
    return reader


def use(user: Any, quantity: int = 1, **options: Any) -> Any:
    return record_usage(user, DOWNLOADS, quantity, idempotency_key=f"k{next(KEYS)}", **options)


# -- recording from a view ------------------------------------------------------------------------


def test_a_member_records_use_and_sees_it_on_the_account_page(
    member: Any, login: Callable[[Any], Client], committed: Any
) -> None:
    with committed():
        use(member, 8)
        use(member, 4)

    page = login(member).get(ACCOUNT).content.decode()
    assert "Usage this period" in page
    assert "12 of 10 included, 2 extra \u00d7 €0.50 = €1.00 so far" in page
    period_end = Membership.objects.get(member_id=str(member.pk)).current_period_end
    assert period_end is not None
    assert f"the period ends on {date_format(period_end, 'DATE_FORMAT')}." in page


def test_use_within_the_quota_shows_what_is_left(
    member: Any, login: Callable[[Any], Client]
) -> None:
    use(member, 3)

    page = login(member).get(ACCOUNT).content.decode()
    assert "3 of 10 included, 7 included units left" in page


def test_a_retried_request_is_counted_once(member: Any) -> None:
    first = record_usage(member, DOWNLOADS, 2, idempotency_key="download-17")
    again = record_usage(member, DOWNLOADS, 2, idempotency_key="download-17")

    assert again == first
    assert UsageRecord.objects.count() == 1
    assert UsagePeriod.objects.get().used == 2


@pytest.mark.parametrize("quantity", [0, -3, 2.5, "1"])
def test_bad_quantities_are_refused_and_nothing_is_recorded(member: Any, quantity: Any) -> None:
    with pytest.raises(UsageError, match=r"must be a whole number from 1 to \d+"):
        record_usage(member, DOWNLOADS, quantity, idempotency_key="k")

    assert not UsagePeriod.objects.exists()


def test_an_unknown_meter_is_refused(member: Any) -> None:
    with pytest.raises(UnknownMeter, match=r"'ai.summary'"):
        record_usage(member, "ai.summary", idempotency_key="k")


def test_members_without_the_add_on_and_visitors_cannot_record_use(
    site: MembershipProgram, premium: Any
) -> None:
    with pytest.raises(NotEntitled, match=r"has no membership whose tier includes"):
        use(premium)
    with pytest.raises(NotEntitled, match=r"not a signed-in member"):
        use(AnonymousUser())
    assert not UsageRecord.objects.exists()


def test_a_cap_refuses_use_beyond_it(downloads: UsageRate, member: Any) -> None:
    downloads.max_extra = 2
    downloads.save()
    use(member, 11)

    with pytest.raises(UsageLimitReached, match=r"1 left"):
        use(member, 2)
    assert UsagePeriod.objects.get().used == 11


def test_the_section_costs_members_without_an_add_on_no_query(
    site: MembershipProgram, reader: Any, subscribe: Callable[..., Membership], login: Any
) -> None:
    subscribe(reader, "premium-yearly")
    client = login(reader)
    client.get(ACCOUNT)  # warm the caches
    with CaptureQueriesContext(connection) as with_rate:
        page = client.get(ACCOUNT).content.decode()
    UsageRate.objects.all().delete()
    program_module.reset_program()
    client.get(ACCOUNT)
    with CaptureQueriesContext(connection) as without:
        client.get(ACCOUNT)

    assert "Usage this period" not in page
    assert len(with_rate) == len(without)


# -- the fake provider: the next renewal --------------------------------------------------------


def test_extra_use_is_reported_once_committed_and_billed_with_the_next_renewal(
    member: Any, fake: FakeProvider, committed: Any
) -> None:
    with committed():
        use(member, 9)
        use(member, 4)
    (record,) = UsageRecord.objects.filter(extra__gt=0)
    assert record.extra == 3
    assert record.reported_at is not None

    membership = Membership.objects.get(member_id=str(member.pk))
    webhook = fake.renew(str(membership.provider_subscription_id))
    deliver("fake", webhook.headers, webhook.body)

    (invoice,) = fake.usage_invoices
    assert invoice.amount == 150
    assert fake.latest_payment[str(membership.provider_subscription_id)] == 500 + 150


def test_a_retried_report_bills_the_rate_the_member_was_shown_not_todays(
    member: Any, fake: FakeProvider, committed: Any, downloads: UsageRate
) -> None:
    fake.simulate_outage()
    with committed():
        use(member, 12)  # 2 extra at €0.50, as the account page showed
    fake.simulate_outage(None)
    downloads.unit_amount = 500
    downloads.save()  # the catalog reloads on save
    assert program_module.get_program().catalog.usage_rate(DOWNLOADS).unit_amount == 500  # type: ignore[union-attr]

    call_command("paywall_usage", "--report-only", stdout=StringIO())
    membership = Membership.objects.get(member_id=str(member.pk))
    webhook = fake.renew(str(membership.provider_subscription_id))
    deliver("fake", webhook.headers, webhook.body)

    (invoice,) = fake.usage_invoices
    assert invoice.amount == 100


def test_extra_use_of_the_last_period_of_a_canceled_fake_subscription_is_billed(
    member: Any, fake: FakeProvider, committed: Any
) -> None:
    with committed():
        use(member, 20)  # 10 extra
    membership = Membership.objects.get(member_id=str(member.pk))
    sub = str(membership.provider_subscription_id)
    fake.cancel_subscription(sub, at_period_end=True)
    webhook = fake.expire(sub)
    deliver("fake", webhook.headers, webhook.body)
    end = membership.current_period_end
    assert end is not None

    close_periods(end + timedelta(days=1))

    (invoice,) = fake.usage_invoices
    assert (invoice.amount, invoice.final) == (500, True)


def test_a_large_quantity_is_a_clear_usage_error_not_a_database_error(member: Any) -> None:
    with pytest.raises(UsageError, match=rf"from 1 to {MAX_QUANTITY}, got {2**30}"):
        use(member, 2**30)

    assert not UsageRecord.objects.exists()


def test_a_periods_count_goes_past_32_bits(member: Any) -> None:
    for _ in range(3):
        use(member, MAX_QUANTITY)

    assert UsagePeriod.objects.get().used == 3 * MAX_QUANTITY


def test_a_report_that_failed_is_sent_by_the_command(
    member: Any, fake: FakeProvider, committed: Any
) -> None:
    fake.simulate_outage()
    with committed():
        use(member, 12)
    record = UsageRecord.objects.get()
    assert record.reported_at is None
    assert "unreachable" in record.report_error

    fake.simulate_outage(None)
    out = StringIO()
    call_command("paywall_usage", "--report-only", stdout=out)
    call_command("paywall_usage", "--report-only", stdout=StringIO())

    assert "Usage reports: 1 sent, 0 failed" in out.getvalue()
    record.refresh_from_db()
    assert record.reported_at is not None
    assert len(fake.usage_reported) == 1


# -- bank transfer: an invoice of its own when the period ends ----------------------------------


@pytest.fixture
def by_transfer(site: MembershipProgram, reader: Any) -> Iterator[Any]:
    """``reader`` pays Supporter monthly by bank transfer."""
    price = Price.objects.get(key="supporter-monthly")
    price.provider_ids = {"manual": "manual_supporter_monthly"}
    price.save()
    with override_settings(
        PAYWALL={
            "PROVIDERS": {"manual": {"secret": "tests-manual-secret"}},
            "DEFAULT_PROVIDER": "manual",
        }
    ):
        program_module.reset_program()
        program = program_module.get_program()
        session = program.start_checkout(
            str(reader.pk), "supporter-monthly", provider="manual", success_url="/", cancel_url="/"
        )
        row = bank.mark_received(session.id)
        deliver(row.provider, row.headers, bytes(row.body))
        yield reader


def test_a_periods_extra_use_is_invoiced_once_when_it_ends(by_transfer: Any) -> None:
    use(by_transfer, 14)
    program = program_module.get_program()
    manual = program.providers["manual"]
    assert isinstance(manual, ManualProvider)
    end = Membership.objects.get(member_id=str(by_transfer.pk)).current_period_end
    assert end is not None
    assert close_periods(timezone.now()).closed == 0  # the period still runs

    program.clock = lambda: end + timedelta(minutes=5)
    first, second = StringIO(), StringIO()
    call_command("paywall_usage", "--close-only", stdout=first)
    call_command("paywall_usage", "--close-only", stdout=second)

    (invoice,) = ManualInvoice.objects.filter(price=f"usage:{DOWNLOADS}")
    assert (invoice.amount, invoice.currency, invoice.member_id) == (
        200,
        "EUR",
        str(by_transfer.pk),
    )
    assert f"1 invoice(s) issued ({invoice.reference})" in first.getvalue()
    assert "0 closed, 0 invoice(s) issued" in second.getvalue()
    assert UsagePeriod.objects.get().invoice == invoice.reference


def test_late_use_in_an_already_invoiced_manual_period_is_refused(by_transfer: Any) -> None:
    use(by_transfer, 14)
    end = Membership.objects.get(member_id=str(by_transfer.pk)).current_period_end
    assert end is not None
    program_module.get_program().clock = lambda: end + timedelta(minutes=5)
    (first,) = close_periods(end + timedelta(minutes=5)).invoices

    with pytest.raises(PeriodClosed, match=rf"closed and invoiced as {first}"):
        use(by_transfer, 6, when=end - timedelta(minutes=1))

    assert UsagePeriod.objects.get().used == 14
    invoices = ManualInvoice.objects.filter(price=f"usage:{DOWNLOADS}")
    assert [i.amount for i in invoices] == [200]


def test_paying_the_usage_invoice_changes_no_membership(by_transfer: Any) -> None:
    use(by_transfer, 14)
    program = program_module.get_program()
    end = Membership.objects.get(member_id=str(by_transfer.pk)).current_period_end
    assert end is not None
    (reference,) = close_periods(end + timedelta(minutes=5)).invoices
    before = Membership.objects.get(member_id=str(by_transfer.pk))

    row = bank.mark_received(reference)
    deliver(row.provider, row.headers, bytes(row.body))

    after = Membership.objects.get(member_id=str(by_transfer.pk))
    assert (after.status, after.current_period_end) == (before.status, before.current_period_end)
    assert ManualInvoice.objects.get(reference=reference).state == "paid"
    assert program.providers["manual"] is not None


# -- the admin ------------------------------------------------------------------------------------


def test_staff_see_each_members_usage_and_its_bill(
    member: Any, editor: Any, client: Client
) -> None:
    use(member, 12)
    period = UsagePeriod.objects.get()
    client.force_login(editor)

    listing = client.get(reverse("paywall_usage:index")).content.decode()
    detail = client.get(reverse("paywall_usage:inspect", args=[period.pk])).content.decode()

    assert DOWNLOADS in listing
    assert "Open" in listing
    assert "2 extra unit(s), €1.00" in detail
    assert 'data-record="' in detail


def test_members_cannot_see_the_usage_admin(member: Any, login: Callable[[Any], Client]) -> None:
    use(member, 2)

    response = login(member).get(reverse("paywall_usage:index"))

    assert response.status_code in (302, 403)


def test_usage_cannot_be_edited_in_the_admin(member: Any, editor: Any, client: Client) -> None:
    use(member, 2)
    period = UsagePeriod.objects.get()
    client.force_login(editor)

    response = client.post(f"/admin/paywall_usage/edit/{period.pk}/", {"used": 0})

    assert response.status_code == 404
    period.refresh_from_db()
    assert period.used == 2


def test_a_rate_with_a_bad_provider_mapping_is_refused_by_the_admin(
    site: MembershipProgram, editor: Any, client: Client
) -> None:
    client.force_login(editor)

    response = client.post(
        reverse("paywall_usage_rates:add"),
        {"meter": "ai.summary", "unit_amount": "10", "currency": "EUR",
         "provider_ids": '["price_1"]', "provider_meters": "{}"},
    )  # fmt: skip

    assert response.status_code == 200
    assert not UsageRate.objects.filter(meter="ai.summary").exists()


# -- system checks --------------------------------------------------------------------------------


def ids(messages: list[Any]) -> list[str]:
    return sorted({m.id for m in messages})


def test_checks_pass_for_a_rate_every_provider_can_bill(site: MembershipProgram) -> None:
    assert check_settings(["default"]) == []
    assert check_settings(None) == []


def test_a_rate_in_another_currency_than_its_tiers_stripe_prices_is_an_error(
    downloads: UsageRate,
) -> None:
    pytest.importorskip("stripe")  # the site configures Stripe: the package is needed
    downloads.currency = "USD"
    downloads.provider_ids = {"stripe": "price_metered"}
    downloads.provider_meters = {"stripe": "dataset_downloads"}
    downloads.save()
    assert check_settings(["default"]) == []  # the fake provider bills it on its own
    price = Price.objects.get(key="supporter-monthly")
    price.provider_ids = {"stripe": "price_sup"}
    price.save()
    with override_settings(
        PAYWALL={"PROVIDERS": {"stripe": {"api_key": "sk_test_x", "webhook_secret": "whsec_x"}}}
    ):
        program_module.reset_program()
        assert ids(check_settings(["default"])) == ["wagtail_paywall.E047"]


def test_a_weekly_quota_is_an_error(catalog: dict[str, Tier], downloads: UsageRate) -> None:
    supporter = catalog["supporter"]
    supporter.entitlements = f"{DOWNLOADS}: 3 per week"
    supporter.save()

    assert ids(check_settings(["default"])) == ["wagtail_paywall.E049"]


def test_a_tier_sold_on_a_provider_that_cannot_bill_usage_is_an_error(
    downloads: UsageRate, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Vouchers:
        """A third-party provider written before usage billing: no report, no invoice."""

        name = "vouchers"

    price = Price.objects.get(key="supporter-monthly")
    price.provider_ids = {**price.provider_ids, "vouchers": "voucher-supporter"}
    price.save()
    program_module.reset_program()
    program = program_module.get_program()
    providers = {"fake": program.providers["fake"], "vouchers": Vouchers()}
    monkeypatch.setattr(program, "providers", providers)

    [error] = check_settings(["default"])

    assert error.id == "wagtail_paywall.E048"
    assert "'vouchers'" in error.msg
    assert "'supporter-monthly'" in error.msg


def test_a_tier_sold_on_stripe_needs_the_rates_metered_price(downloads: UsageRate) -> None:
    pytest.importorskip("stripe")  # the site configures Stripe: the package is needed
    price = Price.objects.get(key="supporter-monthly")
    price.provider_ids = {"stripe": "price_sup"}
    price.save()
    with override_settings(
        PAYWALL={"PROVIDERS": {"stripe": {"api_key": "sk_test_x", "webhook_secret": "whsec_x"}}}
    ):
        program_module.reset_program()
        assert ids(check_settings(["default"])) == ["wagtail_paywall.E046"]
        downloads.provider_ids = {"stripe": "price_metered"}
        downloads.provider_meters = {"stripe": "dataset_downloads"}
        downloads.save()
        assert check_settings(["default"]) == []


# -- parallel records on PostgreSQL ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL"), reason="parallel transactions need PostgreSQL"
)
def test_parallel_records_are_all_counted_and_never_pass_the_cap(
    downloads: UsageRate, member: Any
) -> None:
    downloads.max_extra = 15
    downloads.save()
    reader = member
    start = threading.Barrier(8)

    def attempt(i: int) -> str:
        if i < 8:
            start.wait()
        try:
            record_usage(reader, DOWNLOADS, 1, idempotency_key=f"parallel-{i}")
        except UsageLimitReached:
            return "refused"
        finally:
            connections.close_all()
        return "recorded"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(attempt, range(30)))

    period = UsagePeriod.objects.get()
    assert period.used == 25 == UsageRecord.objects.count()
    assert outcomes.count("refused") == 5


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL"), reason="parallel transactions need PostgreSQL"
)
def test_use_recorded_while_the_period_closes_is_either_invoiced_or_refused(
    by_transfer: Any,
) -> None:
    use(by_transfer, 10)  # the included units
    end = Membership.objects.get(member_id=str(by_transfer.pk)).current_period_end
    assert end is not None
    program_module.get_program().clock = lambda: end + timedelta(minutes=5)
    start = threading.Barrier(9)

    def attempt(i: int) -> str:
        start.wait()
        try:
            if i == 8:
                close_periods(end + timedelta(minutes=5))
                return "closed"
            use(by_transfer, 1, when=end - timedelta(minutes=1))
        except PeriodClosed:
            return "refused"
        finally:
            connections.close_all()
        return "recorded"

    with ThreadPoolExecutor(9) as pool:
        outcomes = list(pool.map(attempt, range(9)))

    period = UsagePeriod.objects.get()
    recorded = outcomes.count("recorded")
    assert recorded + outcomes.count("refused") == 8
    assert period.used == 10 + recorded
    assert UsageRecord.objects.count() == 1 + recorded
    invoices = ManualInvoice.objects.filter(price=f"usage:{DOWNLOADS}")
    assert [i.amount for i in invoices] == ([recorded * 50] if recorded else [])


def test_the_admin_shows_a_period_whose_bill_is_retried_as_closing_not_open() -> None:
    now = timezone.now()
    period = UsagePeriod(
        membership_id="m1", member_id="1", meter=DOWNLOADS, period_end=now, included=10,
        used=12, unit_amount=50, currency="EUR", provider="manual", frozen_at=now,
    )  # fmt: skip

    assert bill_state(period) == "Closing: count frozen, the bill is retried"
    period.frozen_at = None
    assert bill_state(period) == "Open"
