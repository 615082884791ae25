"""Staff refunds through Stripe: the latest paid invoice's payment of a subscription, and a
one-off payment (the optional ``SubscriptionRefunds`` and ``PurchaseRefunds``)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from membership_sdk import ProviderError
from membership_sdk.providers import PurchaseRefunds, SubscriptionRefunds
from membership_sdk.providers.stripe import StripeProvider

from .replay import ReplayClient, error

pytestmark = pytest.mark.stripe_replay

PERIOD_END = 1_800_000_000


def paid_invoice(**fields: object) -> dict[str, object]:
    return {
        "id": "in_Latest",
        "object": "invoice",
        "amount_paid": 999,
        "currency": "eur",
        "lines": {"data": [{"period": {"start": PERIOD_END - 2_592_000, "end": PERIOD_END}}]},
        **fields,
    }


def test_stripe_has_both_refund_capabilities(stripe_provider: StripeProvider) -> None:
    assert isinstance(stripe_provider, SubscriptionRefunds)
    assert isinstance(stripe_provider, PurchaseRefunds)


def test_the_latest_paid_invoice_payment_is_refunded_once_per_invoice(
    stripe_provider: StripeProvider, replay: ReplayClient
) -> None:
    replay.on("GET /v1/invoices", {"object": "list", "data": [paid_invoice()]})
    replay.on(
        "GET /v1/invoice_payments",
        {
            "object": "list",
            "data": [{"payment": {"type": "payment_intent", "payment_intent": "pi_9"}}],
        },
    )
    replay.on("POST /v1/refunds", {"id": "re_9", "amount": 999, "currency": "eur"})

    refund = stripe_provider.refund_latest_payment("sub_9")

    assert (refund.payment_id, refund.amount, refund.currency) == ("pi_9", 999, "eur")
    assert refund.subscription_id == "sub_9"
    assert refund.period_end == datetime.fromtimestamp(PERIOD_END, UTC)
    [listed] = replay.sent("GET /v1/invoices")
    assert (listed.params["subscription"], listed.params["status"]) == ("sub_9", "paid")
    [sent] = replay.sent("POST /v1/refunds")
    assert sent.params == {"payment_intent": "pi_9"}
    assert sent.idempotency_key == "refund-in_Latest"


def test_an_older_api_versions_invoice_names_its_charge(
    stripe_provider: StripeProvider, replay: ReplayClient
) -> None:
    replay.on("GET /v1/invoices", {"object": "list", "data": [paid_invoice(charge="ch_old")]})
    replay.on("POST /v1/refunds", {"id": "re_old", "amount": 999, "currency": "eur"})

    refund = stripe_provider.refund_latest_payment("sub_9")

    assert refund.payment_id == "ch_old"
    assert replay.sent("POST /v1/refunds")[0].params == {"charge": "ch_old"}
    assert replay.sent("GET /v1/invoice_payments") == []


@pytest.mark.parametrize(
    "invoices", [[], [paid_invoice(amount_paid=0)]], ids=["no paid invoice", "a free invoice"]
)
def test_nothing_paid_is_nothing_to_refund(
    stripe_provider: StripeProvider, replay: ReplayClient, invoices: list[object]
) -> None:
    replay.on("GET /v1/invoices", {"object": "list", "data": invoices})

    with pytest.raises(ProviderError) as raised:
        stripe_provider.refund_latest_payment("sub_9")

    assert raised.value.code == "nothing_to_refund"
    assert replay.sent("POST /v1/refunds") == []


def test_a_refund_stripe_refuses_is_translated(
    stripe_provider: StripeProvider, replay: ReplayClient
) -> None:
    replay.on("GET /v1/invoices", {"object": "list", "data": [paid_invoice(payment_intent="pi_9")]})
    replay.on(
        "POST /v1/refunds",
        error(400, "invalid_request_error", "Charge already refunded.", "charge_already_refunded"),
    )

    with pytest.raises(ProviderError) as raised:
        stripe_provider.refund_latest_payment("sub_9")

    assert raised.value.code == "charge_already_refunded"
    assert raised.value.provider_message == "Charge already refunded."


def test_a_one_off_payment_is_refunded_by_its_payment_intent(
    stripe_provider: StripeProvider, replay: ReplayClient
) -> None:
    replay.on("POST /v1/refunds", {"id": "re_1", "amount": 450, "currency": "eur"})

    refund = stripe_provider.refund_purchase("pi_report")

    assert (refund.payment_id, refund.amount, refund.currency) == ("pi_report", 450, "eur")
    [sent] = replay.sent("POST /v1/refunds")
    assert sent.params == {"payment_intent": "pi_report"}
    assert sent.idempotency_key == "refund-pi_report"
