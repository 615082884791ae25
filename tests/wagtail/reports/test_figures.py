"""Each figure of the membership report on a hand-made history with a known answer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from membership_sdk import Status
from wagtail_paywall.models import CancellationFeedback, Grant, Membership
from wagtail_paywall.reports import membership as reports

from .conftest import months_ago

pytestmark = pytest.mark.django_db


def now() -> Any:
    return months_ago(0, 28)


def test_mrr_sums_what_each_currency_is_paid(apply: Any) -> None:
    apply("m1", "sub_1", 1, Status.ACTIVE, months_ago(2), price="premium-monthly")
    apply("m2", "sub_2", 1, Status.PAST_DUE, months_ago(2), price="premium-yearly")
    apply("m3", "sub_3", 1, Status.ACTIVE, months_ago(1), price="supporter-monthly")
    assert reports.movements(now=now()).mrr == {"EUR": 1200 + 1000 + 500}


def test_the_months_movements_add_up_from_the_start_mrr_to_the_end(apply: Any) -> None:
    apply("m1", "sub_1", 1, Status.ACTIVE, months_ago(2), price="supporter-monthly")
    apply("m2", "sub_2", 1, Status.ACTIVE, months_ago(2), price="premium-monthly")
    apply("m1", "sub_1", 2, Status.ACTIVE, months_ago(1), price="premium-monthly")
    apply("m2", "sub_2", 2, Status.CANCELED, months_ago(1, 20), canceled_at=months_ago(1, 20))
    last = reports.movements(3, now=now()).by_currency["EUR"][-2]
    assert (last.mrr_start, last.mrr_end) == (1700, 1200)
    assert last.moved == {
        "new": 0,
        "reactivated": 0,
        "expansion": 700,
        "contraction": 0,
        "churned": 1200,
    }
    assert (last.paid_start, last.churned, last.member_churn) == (2, 1, 0.5)
    assert last.revenue_churn == pytest.approx(1200 / 1700)


def test_a_gift_or_a_comp_is_a_member_who_is_not_paid(apply: Any) -> None:
    at = timezone.now()
    Grant.objects.create(
        id="g1",
        member_id="m9",
        kind="gift",
        tier="premium",
        starts_at=at - timedelta(days=3),
        ends_at=at + timedelta(days=30),
    )
    Grant.objects.create(
        id="g2", member_id="m8", kind="comp", tier="premium", starts_at=at - timedelta(days=3)
    )
    members = reports.members_now(now=at)
    assert (members.paid, members.gift, members.comp) == (0, 1, 1)
    assert reports.movements(now=at).mrr == {}


def test_members_now_are_split_into_paid_trialing_and_paying_nothing(apply: Any) -> None:
    at = months_ago(1)
    apply("m1", "sub_1", 1, Status.ACTIVE, at)
    apply("m2", "sub_2", 1, Status.TRIALING, at, trial_end=at + timedelta(days=60))
    apply("m3", "sub_3", 1, Status.ACTIVE, at, amount=0, coupon="FREE")
    members = reports.members_now(now=now())
    assert (members.paid, members.trialing, members.unpaid) == (1, 1, 1)


def test_the_cohorts_form_a_triangle(apply: Any) -> None:
    apply("m1", "sub_1", 1, Status.ACTIVE, months_ago(2))
    apply("m2", "sub_2", 1, Status.ACTIVE, months_ago(2))
    apply("m2", "sub_2", 2, Status.CANCELED, months_ago(1), canceled_at=months_ago(1))
    apply("m3", "sub_3", 1, Status.ACTIVE, months_ago(1))
    apply("m4", "sub_4", 1, Status.ACTIVE, months_ago(0, 5))
    result = reports.cohorts(3, now=now()).cohorts
    assert [(c.size, c.retained) for c in result] == [
        (2, [1.0, 0.5, 0.5]),
        (1, [1.0, 1.0]),
        (1, [1.0]),
    ]


def test_realised_ltv_is_what_the_cohort_paid_per_member(apply: Any) -> None:
    apply("m1", "sub_1", 1, Status.ACTIVE, months_ago(2))
    apply("m2", "sub_2", 1, Status.ACTIVE, months_ago(2))
    apply("m2", "sub_2", 2, Status.CANCELED, months_ago(1), canceled_at=months_ago(1))
    (first, *_rest) = reports.cohorts(3, now=now()).cohorts
    # 2400 in its first month, 1200 in each of the two after: 4800 over 2 members.
    assert first.realised == {"EUR": 2400}


def test_expected_ltv_is_arpu_over_monthly_revenue_churn(apply: Any) -> None:
    for i in range(4):
        apply(f"m{i}", f"sub_{i}", 1, Status.ACTIVE, months_ago(5))
    apply("m0", "sub_0", 2, Status.CANCELED, months_ago(2), canceled_at=months_ago(2))
    (ltv,) = reports.lifetime_value(reports.movements(now=now()))
    # MRR at the start of the three complete months: 4800, 4800, 3600; 1200 lost.
    assert ltv.arpu == 1200
    assert ltv.revenue_churn == pytest.approx(1200 / 13200)
    assert ltv.expected_months == pytest.approx(11)
    assert ltv.ltv == 13200


def test_trial_conversion_counts_ended_trials_that_paid(apply: Any) -> None:
    start = months_ago(2)
    end = start + timedelta(days=14)
    apply("m1", "sub_1", 1, Status.TRIALING, start, trial_end=end)
    apply("m1", "sub_1", 2, Status.ACTIVE, end, trial_end=end)
    apply("m2", "sub_2", 1, Status.TRIALING, start, trial_end=end)
    apply("m2", "sub_2", 2, Status.CANCELED, end, trial_end=end, canceled_at=end)
    apply("m3", "sub_3", 1, Status.TRIALING, months_ago(0, 1), trial_end=now() + timedelta(days=9))
    report = reports.movements(now=now())
    assert report.trial_conversion == 0.5


def test_churn_is_counted_by_the_reason_members_gave(apply: Any) -> None:
    for i, reason in enumerate(["too_expensive", "too_expensive", "content", None]):
        apply(f"m{i}", f"sub_{i}", 1, Status.ACTIVE, months_ago(3))
        apply(f"m{i}", f"sub_{i}", 2, Status.CANCELED, months_ago(1), canceled_at=months_ago(1))
        if reason:
            membership = Membership.objects.get(provider_subscription_id=f"sub_{i}")
            CancellationFeedback.objects.create(
                membership_id=membership.id, member_id=f"m{i}", reason=reason
            )
    assert reports.churn_reasons(now=now()).counts == {
        "too_expensive": 2,
        "content": 1,
        "unknown": 1,
    }
