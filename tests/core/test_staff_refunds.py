"""Refunds a publisher's staff make through the program: a subscription's latest payment
(the optional ``SubscriptionRefunds`` capability, then the ``on_refund`` policy) and a
one-off purchase (``PurchaseRefunds``, then the purchase is revoked)."""

from __future__ import annotations

from typing import Any

import pytest

from membership_sdk import GrantKind, MembershipError, MembershipProgram, ProviderError, Status
from membership_sdk.providers import PurchaseRefunds, SubscriptionRefunds
from membership_sdk.providers.fake import FakeProvider
from membership_sdk.providers.manual import REFUNDED, ManualProvider
from membership_sdk.testing import sample_catalog, sample_program


def program_on(provider: str, *, trial_days: int = 0, **options: Any) -> MembershipProgram:
    catalog = sample_catalog(
        provider, monthly=f"{provider}_gold", one_off=f"{provider}_report", trial_days=trial_days
    )
    program = sample_program(catalog)
    for name, value in options.items():
        setattr(program, name, value)
    return program


def subscribe_fake(program: MembershipProgram, price: str = "gold-monthly") -> str:
    fake = program.providers["fake"]
    assert isinstance(fake, FakeProvider)
    session = program.start_checkout("m1", price, provider="fake", success_url="/", cancel_url="/")
    webhook = fake.complete_checkout(session.id)
    program.handle_webhook("fake", webhook.headers, webhook.body)
    [membership] = program.store.memberships.for_member("m1")
    return membership.id


def test_the_built_in_providers_can_refund() -> None:
    for provider in (FakeProvider(), ManualProvider()):
        assert isinstance(provider, SubscriptionRefunds)
        assert isinstance(provider, PurchaseRefunds)


def test_a_refund_keeps_access_to_the_period_end_by_default() -> None:
    program = program_on("fake")
    membership_id = subscribe_fake(program)

    refund, after = program.refund(membership_id)

    assert (refund.amount, refund.currency) == (999, "EUR")
    assert refund.period_end == after.current_period_end
    assert after.status is Status.ACTIVE
    assert after.cancel_at_period_end


def test_with_end_now_a_refund_ends_the_membership_now() -> None:
    program = program_on("fake", on_refund="end_now")
    membership_id = subscribe_fake(program)

    _, after = program.refund(membership_id)

    assert after.status is Status.CANCELED


def test_a_payment_is_refunded_only_once() -> None:
    program = program_on("fake")
    membership_id = subscribe_fake(program)
    program.refund(membership_id)

    with pytest.raises(ProviderError) as raised:
        program.refund(membership_id)
    assert raised.value.code == "already_refunded"


def test_a_trial_has_nothing_to_refund_and_nothing_changes() -> None:
    program = program_on("fake", trial_days=7)
    membership_id = subscribe_fake(program)

    with pytest.raises(ProviderError) as raised:
        program.refund(membership_id)

    assert raised.value.code == "nothing_to_refund"
    membership = program.store.memberships.get(membership_id)
    assert membership is not None
    assert not membership.cancel_at_period_end


def test_an_outage_refunds_nothing() -> None:
    program = program_on("fake")
    membership_id = subscribe_fake(program)
    fake = program.providers["fake"]
    assert isinstance(fake, FakeProvider)
    fake.simulate_outage()

    with pytest.raises(ProviderError, match="unreachable"):
        program.refund(membership_id)

    fake.simulate_outage(None)
    assert fake.refunded == {}


def test_a_bank_transfer_refund_marks_the_latest_paid_invoice_refunded() -> None:
    program = program_on("manual")
    manual = program.providers["manual"]
    assert isinstance(manual, ManualProvider)
    session = program.start_checkout(
        "m1", "gold-monthly", provider="manual", success_url="/", cancel_url="/"
    )
    webhook = manual.confirm_payment(session.id)
    program.handle_webhook("manual", webhook.headers, webhook.body)
    [membership] = program.store.memberships.for_member("m1")

    refund, after = program.refund(membership.id)

    assert refund.payment_id == session.id
    assert manual.invoice(session.id).state == REFUNDED
    assert after.cancel_at_period_end
    with pytest.raises(ProviderError, match="already refunded"):
        program.refund(membership.id)


def test_a_purchase_refund_revokes_what_it_bought() -> None:
    program = program_on("fake")
    fake = program.providers["fake"]
    assert isinstance(fake, FakeProvider)
    session = program.start_checkout(
        "m1", "report", provider="fake", success_url="/", cancel_url="/"
    )
    webhook = fake.complete_checkout(session.id)
    program.handle_webhook("fake", webhook.headers, webhook.body)
    [grant] = program.store.grants.for_member("m1")

    refund, revoked = program.refund_purchase(grant.id)

    assert (refund.amount, refund.currency) == (450, "EUR")
    assert revoked.revoked_at is not None
    # The provider's own refund webhook, delivered later, changes nothing more.
    late = fake.outbox[-1]
    program.handle_webhook("fake", late.headers, late.body)
    assert program.store.grants.get(grant.id).revoked_at is not None  # type: ignore[union-attr]


def test_only_a_purchase_paid_through_a_provider_can_be_refunded() -> None:
    program = program_on("fake")
    comp = program.grant("m1", GrantKind.COMP, tier="gold", days=3)

    with pytest.raises(MembershipError, match="not a purchase"):
        program.refund_purchase(comp.id)
