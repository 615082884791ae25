"""Which built-in providers can tell the subscription period a payment paid
(:class:`~membership_sdk.providers.PaymentLookup`), and so take back subscriptions on a
full refund or a lost chargeback (see docs/stripe.md, docs/manual.md)."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sdk_builders import NOW, PROVIDER, make_catalog, purchase_event, sub_event

from membership_sdk import (
    BillingEvent,
    MembershipProgram,
    MemoryStore,
    Outcome,
    PurchaseState,
    Status,
    SubscriptionSnapshot,
)
from membership_sdk.memory import MemoryManualBilling
from membership_sdk.plugins import get_plugin_manager
from membership_sdk.providers import PaidPeriod, PaymentLookup
from membership_sdk.testing import sample_catalog, sample_program


def built_in(name: str, **config: object) -> object:
    program = sample_program(
        sample_catalog(name, monthly="gold-m", yearly="gold-y", one_off="report"),
        config={name: config},
    )
    return program.providers[name]


def test_stripe_tells_which_subscription_period_a_refunded_payment_paid() -> None:
    pytest.importorskip("stripe")
    stripe = built_in("stripe", api_key="sk_test_lookup", webhook_secret="whsec_lookup")
    assert isinstance(stripe, PaymentLookup)


@pytest.mark.parametrize(
    ("name", "config"),
    [("fake", {}), ("manual", {"store": MemoryManualBilling()})],
)
def test_fake_and_manual_declare_they_cannot_so_refunds_never_touch_subscriptions(
    name: str, config: dict[str, object]
) -> None:
    assert not isinstance(built_in(name, **config), PaymentLookup)


# -- which period the refunded payment paid, through the program ---------------------------------


class Lookup:
    """A provider that can place payments: ``paid`` maps a payment id to its period."""

    name = "acme"
    refetch_subscriptions = False

    def __init__(self, paid: dict[str, PaidPeriod]) -> None:
        self.paid = paid
        self.canceled: list[tuple[str, bool]] = []

    def subscription_for_payment(self, payment_id: str) -> PaidPeriod | None:
        return self.paid.get(payment_id)

    def cancel_subscription(
        self, subscription_id: str, *, at_period_end: bool = True
    ) -> SubscriptionSnapshot:
        self.canceled.append((subscription_id, at_period_end))
        return SubscriptionSnapshot(
            id=subscription_id,
            customer_id="cus_1",
            price="p_premium",
            status=Status.ACTIVE if at_period_end else Status.CANCELED,
            version=99,
            current_period_end=CURRENT_END,
            cancel_at_period_end=at_period_end,
        )


CURRENT_END = NOW + timedelta(days=30)
LAST_YEARS_END = NOW - timedelta(days=335)


def paid_member(paid: dict[str, PaidPeriod], **policies: str) -> tuple[MembershipProgram, Lookup]:
    program = MembershipProgram(
        make_catalog(),
        MemoryStore(),
        pm=get_plugin_manager(load_entrypoints=False),
        clock=lambda: NOW,
        **policies,
    )
    lookup = Lookup(paid)
    program.providers = {PROVIDER: lookup}  # type: ignore[assignment]
    program.apply(
        sub_event("evt_paid", version=1, period_end=CURRENT_END, paid_through=CURRENT_END)
    )
    return program, lookup


def taken_back(payment: str, state: PurchaseState, event_id: str = "evt_back") -> BillingEvent:
    return purchase_event(event_id, purchase_id=payment, price="", state=state, version=2)


def test_refunding_the_current_periods_payment_applies_on_refund() -> None:
    program, lookup = paid_member({"pi_now": PaidPeriod("sub_1", CURRENT_END)}, on_refund="end_now")
    result = program.apply(taken_back("pi_now", PurchaseState.REFUNDED))
    assert "end_now" in result.detail
    assert lookup.canceled == [("sub_1", False)]


def test_refunding_last_years_payment_leaves_the_subscription_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    program, lookup = paid_member(
        {"pi_old": PaidPeriod("sub_1", LAST_YEARS_END)}, on_refund="end_now"
    )
    with caplog.at_level(logging.INFO, logger="membership_sdk.program"):
        result = program.apply(taken_back("pi_old", PurchaseState.REFUNDED))
    assert result.outcome is Outcome.APPLIED
    assert "earlier period" in result.detail
    assert lookup.canceled == []
    [membership] = program.store.memberships.for_member("alice")
    assert membership.status is Status.ACTIVE
    assert not membership.cancel_at_period_end
    assert "pi_old" in caplog.text


def test_a_lost_chargeback_of_last_years_payment_still_applies_on_dispute_lost() -> None:
    program, lookup = paid_member({"pi_old": PaidPeriod("sub_1", LAST_YEARS_END)})
    program.apply(taken_back("pi_old", PurchaseState.CHARGED_BACK))
    assert lookup.canceled == [("sub_1", False)]


def test_a_refund_whose_period_the_provider_cannot_say_applies_on_refund() -> None:
    program, lookup = paid_member({"pi_any": PaidPeriod("sub_1")})
    program.apply(taken_back("pi_any", PurchaseState.REFUNDED))
    assert lookup.canceled == [("sub_1", True)]
