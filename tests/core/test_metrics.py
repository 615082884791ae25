"""Business metrics: MRR per currency, churn over a period, trial conversion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from membership_sdk import (
    Catalog,
    Interval,
    Membership,
    MembershipError,
    Price,
    Status,
    Tier,
    UnknownPrice,
)
from membership_sdk.metrics import churn, churn_rate, ended_at, mrr, trial_conversion

JAN = datetime(2026, 1, 1, tzinfo=UTC)
FEB = datetime(2026, 2, 1, tzinfo=UTC)
MAR = datetime(2026, 3, 1, tzinfo=UTC)

CATALOG = Catalog(
    tiers=[Tier("basic", "Basic", rank=1), Tier("pass", "Day pass", rank=1)],
    prices=[
        Price("eur-m", 500, "EUR", tier="basic"),
        Price("eur-y", 5000, "EUR", Interval.YEAR, tier="basic"),
        Price("pln-m", 2000, "PLN", tier="basic"),
        Price("jpy-y", 10000, "JPY", Interval.YEAR, tier="basic"),
        Price("old-m", 400, "EUR", tier="basic", archived=True),
        Price("pass", 300, "EUR", Interval.ONE_OFF, tier="pass"),
    ],
)


def member(
    n: int,
    status: Status = Status.ACTIVE,
    price: str | None = "eur-m",
    started: datetime = JAN - timedelta(days=40),
    **changes: object,
) -> Membership:
    return Membership(
        id=f"mem_{n}",
        member_id=f"m{n}",
        tier="basic",
        status=status,
        provider="fake",
        price_id=price,
        started_at=started,
        current_period_end=MAR + timedelta(days=10),
    ).replace(**changes)


# -- MRR ------------------------------------------------------------------------------------
def test_mrr_sums_monthly_prices_per_currency_in_minor_units() -> None:
    rows = [member(1), member(2), member(3, price="pln-m")]
    assert mrr(rows, CATALOG, FEB) == {"EUR": 1000, "PLN": 2000}


def test_mrr_counts_a_yearly_price_as_a_twelfth_rounded_once_per_currency() -> None:
    rows = [member(1, price="eur-y"), member(2, price="eur-y"), member(3, price="jpy-y")]
    assert mrr(rows, CATALOG, FEB) == {"EUR": 833, "JPY": 833}  # 10000/12*2, 10000/12


def test_mrr_counts_paying_members_only() -> None:
    rows = [
        member(1, Status.PAST_DUE),
        member(2, Status.TRIALING),
        member(3, Status.CANCELED),
        member(4, Status.PAUSED),
        member(5, Status.INCOMPLETE),
        member(6, price=None),
    ]
    assert mrr(rows, CATALOG, FEB) == {"EUR": 500}


def test_mrr_still_counts_a_membership_set_to_cancel_at_period_end() -> None:
    assert mrr([member(1, cancel_at_period_end=True)], CATALOG, FEB) == {"EUR": 500}


def test_mrr_ignores_memberships_not_yet_started_and_one_off_prices() -> None:
    rows = [member(1, started=MAR), member(2, price="pass")]
    assert mrr(rows, CATALOG, FEB) == {}


def test_mrr_keeps_members_on_an_archived_price() -> None:
    assert mrr([member(1, price="old-m")], CATALOG, FEB) == {"EUR": 400}


def test_mrr_of_an_unknown_price_raises_naming_it() -> None:
    with pytest.raises(UnknownPrice, match="'gone'"):
        mrr([member(1, price="gone")], CATALOG, FEB)


# -- churn ----------------------------------------------------------------------------------
def test_churn_is_the_share_of_memberships_live_at_the_start_that_ended_in_the_period() -> None:
    rows = [
        member(1),  # stays
        member(2, Status.CANCELED, current_period_end=FEB + timedelta(days=3)),  # churns
        member(3, Status.EXPIRED, current_period_end=FEB + timedelta(days=20)),  # churns
        member(4, Status.CANCELED, current_period_end=MAR + timedelta(days=5)),  # ends later
    ]
    result = churn(rows, FEB, MAR)
    assert (result.live_at_start, result.ended, result.rate) == (4, 2, 0.5)


def test_churn_leaves_out_sign_ups_during_the_period_and_those_gone_before_it() -> None:
    rows = [
        member(1),
        member(2, started=FEB + timedelta(days=2)),
        member(3, Status.CANCELED, current_period_end=JAN + timedelta(days=10)),
        member(4, Status.INCOMPLETE),
    ]
    assert churn(rows, FEB, MAR).live_at_start == 1


def test_churn_rate_without_live_memberships_is_none() -> None:
    assert churn_rate([], FEB, MAR) is None


def test_churn_period_must_end_after_it_starts() -> None:
    with pytest.raises(MembershipError, match="must end after it starts"):
        churn([], MAR, FEB)


def test_an_ended_membership_ends_at_its_period_end_or_else_its_cancellation() -> None:
    assert ended_at(member(1)) is None
    assert ended_at(member(2, Status.CANCELED)) == MAR + timedelta(days=10)
    assert ended_at(member(3, Status.CANCELED, current_period_end=None, canceled_at=FEB)) == FEB


# -- trial conversion -----------------------------------------------------------------------
def test_trial_conversion_counts_finished_trials_that_paid_a_period() -> None:
    trial_end = FEB
    rows = [
        member(1, trial_end=trial_end),  # paid on: period reaches past the trial
        member(2, Status.CANCELED, trial_end=trial_end, current_period_end=trial_end),
        member(3, Status.PAST_DUE, trial_end=trial_end, current_period_end=trial_end),
        member(4, Status.TRIALING, trial_end=MAR + timedelta(days=1)),  # still running
        member(5),  # never trialed
    ]
    result = trial_conversion(rows, MAR)
    assert (result.trials, result.converted) == (3, 1)
    assert result.rate == pytest.approx(1 / 3)


def test_trial_conversion_without_finished_trials_is_none() -> None:
    assert trial_conversion([member(1)], MAR).rate is None
