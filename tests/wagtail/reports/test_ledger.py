"""The membership ledger: each stored change of a membership is one entry with the right
movement, whatever order or how often its webhooks arrive."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, connections

from membership_sdk import Status
from wagtail_paywall.models import LedgerEntry, Membership
from wagtail_paywall.reports import ledger
from wagtail_paywall.reports import membership as reports

from .conftest import event, months_ago

pytestmark = pytest.mark.django_db


def kinds(sub: str) -> list[str]:
    return list(
        LedgerEntry.objects.filter(
            membership_id__in=Membership.objects.filter(provider_subscription_id=sub).values("id")
        )
        .order_by("seq")
        .values_list("kind", flat=True)
    )


def test_a_first_payment_is_new_mrr(apply: Any) -> None:
    apply("m1", "sub_1", 1, Status.ACTIVE, months_ago(1))
    (entry,) = LedgerEntry.objects.all()
    assert (entry.kind, entry.mrr_before, entry.mrr_after, entry.currency) == (
        "new",
        0,
        1200,
        "EUR",
    )


def test_an_upgrade_is_expansion(apply: Any) -> None:
    apply("m1", "sub_1", 1, Status.ACTIVE, months_ago(2), price="supporter-monthly")
    apply("m1", "sub_1", 2, Status.ACTIVE, months_ago(1), price="premium-monthly")
    assert kinds("sub_1") == ["new", "expansion"]
    assert LedgerEntry.objects.get(kind="expansion").mrr_after == 1200


def test_a_yearly_price_counts_a_twelfth(apply: Any) -> None:
    apply("m1", "sub_1", 1, Status.ACTIVE, months_ago(1), price="premium-yearly")
    assert LedgerEntry.objects.get().mrr_after == 1000


def test_a_100_percent_off_coupon_is_zero_mrr(apply: Any) -> None:
    apply("m1", "sub_1", 1, Status.ACTIVE, months_ago(1), amount=0, coupon="FREE")
    entry = LedgerEntry.objects.get()
    assert (entry.mrr_after, entry.state_after) == (0, "unpaid")
    assert reports.movements(now=months_ago(0, 28)).mrr == {}


def test_a_discount_counts_what_is_paid(apply: Any) -> None:
    apply("m1", "sub_1", 1, Status.ACTIVE, months_ago(1), amount=600, coupon="HALF")
    assert LedgerEntry.objects.get().mrr_after == 600


def test_a_cancellation_taking_effect_is_churn_with_its_reason(apply: Any) -> None:
    apply("m1", "sub_1", 1, Status.ACTIVE, months_ago(3))
    apply("m1", "sub_1", 2, Status.CANCELED, months_ago(1), canceled_at=months_ago(1))
    Membership.objects.update(cancel_reason="too pricey")
    assert kinds("sub_1") == ["new", "churned"]
    assert LedgerEntry.objects.get(kind="churned").mrr_after == 0


def test_a_member_who_returns_is_a_reactivation(apply: Any) -> None:
    apply("m1", "sub_1", 1, Status.ACTIVE, months_ago(4))
    apply("m1", "sub_1", 2, Status.CANCELED, months_ago(3), canceled_at=months_ago(3))
    apply("m1", "sub_2", 1, Status.ACTIVE, months_ago(1))
    assert kinds("sub_2") == ["reactivated"]
    # The member keeps the cohort of the month they first paid.
    assert LedgerEntry.objects.get(kind="reactivated").cohort == months_ago(4).date().replace(day=1)


def test_a_trial_converting_is_new_mrr_after_a_status_change(apply: Any) -> None:
    start = months_ago(2)
    apply("m1", "sub_1", 1, Status.TRIALING, start, trial_end=start + timedelta(days=14))
    apply(
        "m1",
        "sub_1",
        2,
        Status.ACTIVE,
        start + timedelta(days=14),
        trial_end=start + timedelta(days=14),
    )
    assert kinds("sub_1") == ["changed", "new"]


def test_the_same_event_twice_writes_one_entry(program: Any) -> None:
    program.apply(event("m1", "sub_1", 1, Status.ACTIVE, months_ago(1)))
    program.apply(event("m1", "sub_1", 1, Status.ACTIVE, months_ago(1)))
    assert LedgerEntry.objects.count() == 1


def test_events_in_reverse_order_converge_to_the_same_mrr(program: Any) -> None:
    program.apply(event("m1", "sub_1", 2, Status.ACTIVE, months_ago(1), price="premium-monthly"))
    program.apply(event("m1", "sub_1", 1, Status.ACTIVE, months_ago(2), price="supporter-monthly"))
    # The older snapshot is not stored, so it is no change of stored state: no entry.
    assert kinds("sub_1") == ["new"]
    assert reports.movements(now=months_ago(0, 28)).mrr == {"EUR": 1200}


def test_a_change_that_moves_nothing_writes_no_entry(apply: Any) -> None:
    at = months_ago(2)
    apply("m1", "sub_1", 1, Status.ACTIVE, at)
    apply(
        "m1",
        "sub_1",
        2,
        Status.ACTIVE,
        at + timedelta(days=30),
        current_period_end=at + timedelta(days=60),
    )
    assert LedgerEntry.objects.count() == 1


def test_the_backfill_writes_the_history_of_memberships_stored_before_the_ledger(
    apply: Any,
) -> None:
    start = months_ago(5)
    apply("m1", "sub_1", 1, Status.ACTIVE, start)
    apply(
        "m2",
        "sub_2",
        1,
        Status.CANCELED,
        start,
        canceled_at=months_ago(2),
        current_period_end=months_ago(2),
    )
    expected = reports.movements(now=months_ago(0, 28))
    LedgerEntry.objects.all().delete()

    call_command("paywall_backfill_ledger", verbosity=0)

    assert sorted(LedgerEntry.objects.values_list("kind", flat=True)) == ["churned", "new", "new"]
    assert reports.movements(now=months_ago(0, 28)).mrr == expected.mrr == {"EUR": 1200}


def test_the_backfill_run_again_writes_nothing(apply: Any) -> None:
    apply("m1", "sub_1", 1, Status.ACTIVE, months_ago(2))
    LedgerEntry.objects.all().delete()
    call_command("paywall_backfill_ledger", verbosity=0)
    call_command("paywall_backfill_ledger", verbosity=0)
    assert LedgerEntry.objects.count() == 1


def test_changes_before_the_backfill_keep_the_mrr_right(apply: Any) -> None:
    apply("m1", "sub_1", 1, Status.ACTIVE, months_ago(5))
    apply("m2", "sub_2", 1, Status.ACTIVE, months_ago(5))
    LedgerEntry.objects.all().delete()  # stored before the ledger existed
    ended = months_ago(0, 1)
    apply("m1", "sub_1", 2, Status.CANCELED, ended, canceled_at=ended, current_period_end=ended)
    apply("m2", "sub_2", 2, Status.ACTIVE, ended, price="supporter-monthly")

    call_command("paywall_backfill_ledger", verbosity=0)

    assert kinds("sub_1") == ["new", "churned"]
    assert kinds("sub_2") == ["new", "contraction"]
    assert reports.movements(now=months_ago(0, 28)).mrr == {"EUR": 500}


def test_the_first_change_of_a_membership_without_entries_opens_its_history(
    apply: Any,
) -> None:
    apply("m1", "sub_1", 1, Status.ACTIVE, months_ago(5))
    LedgerEntry.objects.all().delete()
    apply("m1", "sub_1", 2, Status.ACTIVE, months_ago(0, 1), price="supporter-monthly")

    opening, change = LedgerEntry.objects.order_by("seq")
    assert (opening.kind, opening.mrr_before, opening.mrr_after) == ("new", 0, 1200)
    assert opening.cohort == months_ago(5).date().replace(day=1)
    assert (change.kind, change.mrr_before, change.mrr_after) == ("contraction", 1200, 500)
    assert change.cohort == opening.cohort


def test_the_backfill_gives_a_member_the_first_month_they_paid_as_cohort(apply: Any) -> None:
    def rows(sub: str) -> Any:
        return LedgerEntry.objects.filter(
            membership_id__in=Membership.objects.filter(provider_subscription_id=sub).values("id")
        )

    apply("m1", "sub_1", 1, Status.ACTIVE, months_ago(5))
    rows("sub_1").delete()  # stored before the ledger existed
    apply("m1", "sub_2", 1, Status.ACTIVE, months_ago(1))
    apply("m1", "sub_3", 1, Status.ACTIVE, months_ago(2))
    rows("sub_3").update(cohort=months_ago(2).date().replace(day=1))

    call_command("paywall_backfill_ledger", verbosity=0)

    assert rows("sub_1").get().cohort == months_ago(2).date().replace(day=1)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="parallel transactions")
def test_two_processes_recording_the_same_change_write_one_entry(program: Any) -> None:
    program.apply(event("m1", "sub_1", 1, Status.ACTIVE, months_ago(1)))
    LedgerEntry.objects.all().delete()
    stored = Membership.objects.get().to_core()
    start = threading.Barrier(4)

    def record() -> int:
        start.wait()
        try:
            return len(ledger.record(None, stored, months_ago(1)))
        finally:
            connections.close_all()

    with ThreadPoolExecutor(4) as pool:
        written = list(pool.map(lambda _: record(), range(4)))

    assert sorted(written) == [0, 0, 0, 1]
    assert LedgerEntry.objects.count() == 1
