"""Retention offers: the settings that describe them, which offer a cancelling member
sees for their reason, what accepting does, and when an accepted offer counts as a save."""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sdk_builders import NOW, PROVIDER, make_catalog

from membership_sdk import Status
from membership_sdk.membership import Membership
from membership_sdk.retention import (
    SAVE_WINDOW,
    RetentionConfigError,
    RetentionKind,
    accept,
    can_honour,
    cheaper_price,
    offer_for,
    parse_offers,
    saved,
)

REASONS = {"too_expensive", "temporary", "content", "other"}
OFFERS = {
    "half-price": {
        "kind": "discount",
        "reasons": ["too_expensive"],
        "percent_off": 50,
        "months": 3,
    },
    "downgrade": {"kind": "cheaper_plan", "reasons": ["too_expensive", "content"]},
    "break": {"kind": "pause", "reasons": ["temporary"], "months": 3},
}


def member(**changes: Any) -> Membership:
    base = Membership(
        id="m1",
        member_id="u1",
        tier="premium",
        status=Status.ACTIVE,
        provider=PROVIDER,
        price_id="premium-monthly",
        provider_subscription_id="sub_1",
        current_period_end=NOW + timedelta(days=20),
    )
    return base.replace(**changes)


class Everything:
    """A provider with every optional capability."""

    def apply_discount(self, subscription_id: str, **kw: Any) -> Any: ...
    def pause_subscription(self, subscription_id: str, *, resumes_at: datetime) -> Any: ...
    def unpause_subscription(self, subscription_id: str) -> Any: ...
    def preview_plan_change(self, subscription_id: str, price: str, **kw: Any) -> Any: ...
    def change_plan(self, subscription_id: str, price: str, **kw: Any) -> Any: ...


class Nothing:
    """A provider that declines every optional capability."""


class Program(SimpleNamespace):
    """A program stand-in recording what an accepted offer asks of it."""

    def __init__(self, provider: object) -> None:
        super().__init__(
            providers={PROVIDER: provider}, catalog=make_catalog(), clock=lambda: NOW, calls=[]
        )

    def apply_discount(self, membership_id: str, **kw: Any) -> Membership:
        self.calls.append(("apply_discount", membership_id, kw))
        return member(coupon=kw["code"])

    def pause(self, membership_id: str, *, months: int, reason: str = "") -> Membership:
        self.calls.append(("pause", membership_id, {"months": months, "reason": reason}))
        return member(status=Status.PAUSED)

    def change_plan(self, membership_id: str, price_id: str, **kw: Any) -> Membership:
        self.calls.append(("change_plan", membership_id, {"price_id": price_id}))
        return member(price_id=price_id)


# -- settings ---------------------------------------------------------------------------------
def test_offers_keep_the_order_they_are_configured_in() -> None:
    offers = parse_offers(OFFERS, reasons=REASONS)

    assert [o.id for o in offers] == ["half-price", "downgrade", "break"]
    assert offers[0].kind is RetentionKind.DISCOUNT
    assert offers[0].code == "retention-half-price"
    assert offers[2].months == 3


@pytest.mark.parametrize(
    ("spec", "culprit"),
    [
        ({"kind": "gift", "reasons": ["other"]}, "'gift'"),
        ({"kind": "pause", "reasons": ["bored"], "months": 1}, "'bored'"),
        ({"kind": "pause", "reasons": "other", "months": 1}, "reasons"),
        ({"kind": "pause", "reasons": ["other"], "months": 4}, "at most 3"),
        ({"kind": "discount", "reasons": ["other"]}, "exactly one of"),
        ({"kind": "discount", "reasons": ["other"], "percent_off": 150}, "at most 100"),
        ({"kind": "discount", "reasons": ["other"], "percent_off": 0}, "at least 1"),
        ({"kind": "cheaper_plan", "reasons": ["other"], "months": 2}, "'months'"),
    ],
)
def test_a_wrong_offer_is_refused_naming_the_offer_and_the_culprit(
    spec: dict[str, Any], culprit: str
) -> None:
    with pytest.raises(RetentionConfigError, match="'bad'") as refused:
        parse_offers({"bad": spec}, reasons=REASONS)

    assert culprit in str(refused.value)


# -- which offer ------------------------------------------------------------------------------
def test_the_reason_chooses_the_offer() -> None:
    offers = parse_offers(OFFERS, reasons=REASONS)
    program = Program(Everything())

    assert offer_for(offers, "too_expensive", program, member()).id == "half-price"  # type: ignore[union-attr]
    assert offer_for(offers, "temporary", program, member()).id == "break"  # type: ignore[union-attr]
    assert offer_for(offers, "content", program, member()).id == "downgrade"  # type: ignore[union-attr]
    assert offer_for(offers, "other", program, member()) is None


def test_no_offer_is_made_that_the_provider_cannot_honour() -> None:
    offers = parse_offers(OFFERS, reasons=REASONS)
    program = Program(Nothing())

    assert [offer_for(offers, r, program, member()) for r in sorted(REASONS)] == [None] * 4


def test_the_next_offer_for_the_reason_stands_in_when_the_first_cannot_be_honoured() -> None:
    offers = parse_offers(OFFERS, reasons=REASONS)
    program = Program(Everything())
    discounted = member(coupon="WELCOME", discount_ends_at=NOW + timedelta(days=40))

    assert offer_for(offers, "too_expensive", program, discounted).id == "downgrade"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "changes",
    [
        {"cancel_at_period_end": True},
        {"status": Status.PAST_DUE},
        {"status": Status.PAUSED},
        {"provider_subscription_id": None},
    ],
)
def test_a_membership_that_is_not_running_is_offered_nothing(changes: dict[str, Any]) -> None:
    offers = parse_offers(OFFERS, reasons=REASONS)

    for reason in REASONS:
        assert offer_for(offers, reason, Program(Everything()), member(**changes)) is None


def test_a_cheaper_plan_is_the_dearest_price_below_the_members() -> None:
    (offer,) = parse_offers({"down": {"kind": "cheaper_plan", "reasons": ["other"]}})
    catalog = make_catalog()

    assert cheaper_price(offer, catalog, member()).id == "basic-monthly"  # type: ignore[union-attr]
    # Premium yearly is cheaper by the month, but asks a year up front: not offered.
    assert cheaper_price(offer, catalog, member(price_id="premium-yearly")) is None
    assert cheaper_price(offer, catalog, member(price_id="basic-monthly")) is None


def test_a_configured_price_that_is_not_cheaper_is_not_offered() -> None:
    (offer,) = parse_offers(
        {"up": {"kind": "cheaper_plan", "reasons": ["other"], "price": "premium-yearly"}}
    )

    assert cheaper_price(offer, make_catalog(), member(price_id="basic-monthly")) is None
    assert not can_honour(offer, Program(Everything()), member(price_id="basic-monthly"))


# -- accepting --------------------------------------------------------------------------------
def test_accepting_each_kind_asks_the_program_for_it() -> None:
    half, down, pause = parse_offers(OFFERS, reasons=REASONS)
    program = Program(Everything())

    accept(program, half, member())
    accept(program, pause, member(), months=2, reason="temporary")
    accept(program, down, member())

    assert program.calls == [
        (
            "apply_discount",
            "m1",
            {"code": "retention-half-price", "percent_off": 50, "amount_off": None, "months": 3},
        ),
        ("pause", "m1", {"months": 2, "reason": "temporary"}),
        ("change_plan", "m1", {"price_id": "basic-monthly"}),
    ]


def test_a_pause_longer_than_offered_is_refused_and_asks_nothing() -> None:
    (pause,) = parse_offers({"break": {"kind": "pause", "reasons": ["other"], "months": 2}})
    program = Program(Everything())

    with pytest.raises(RetentionConfigError, match="1 to 2 months"):
        accept(program, pause, member(), months=3)
    assert program.calls == []


# -- saves ------------------------------------------------------------------------------------
def test_an_accepted_offer_is_no_save_before_thirty_days() -> None:
    assert saved(member(), NOW, NOW + SAVE_WINDOW - timedelta(seconds=1)) is None


def test_a_member_still_there_after_thirty_days_is_a_save() -> None:
    assert saved(member(), NOW, NOW + SAVE_WINDOW) is True


def test_a_paused_member_is_still_a_member() -> None:
    assert saved(member(status=Status.PAUSED), NOW, NOW + SAVE_WINDOW) is True


def test_a_cancellation_asked_within_thirty_days_is_lost_even_while_the_period_runs() -> None:
    leaving = member(cancel_at_period_end=True, canceled_at=NOW + timedelta(days=10))

    assert saved(leaving, NOW, NOW + timedelta(days=11)) is False
    assert saved(leaving, NOW, NOW + SAVE_WINDOW) is False


def test_a_cancellation_after_thirty_days_still_counts_the_save() -> None:
    later = member(cancel_at_period_end=True, canceled_at=NOW + timedelta(days=45))

    assert saved(later, NOW, NOW + timedelta(days=50)) is True


def test_a_membership_that_ended_within_thirty_days_is_lost() -> None:
    ended = member(status=Status.EXPIRED, current_period_end=NOW + timedelta(days=5))

    assert saved(ended, NOW, NOW + SAVE_WINDOW) is False


def test_a_cancellation_undone_before_the_window_ends_is_still_a_save() -> None:
    # canceled_at is cleared by a resume; one left behind with the membership running
    # is not a departure.
    resumed = member(canceled_at=NOW + timedelta(days=3))

    assert saved(resumed, NOW, NOW + SAVE_WINDOW) is True
