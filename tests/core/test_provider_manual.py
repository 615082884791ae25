"""The ``manual`` provider: the contract suite, then bank transfers against invoices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from membership_sdk import (
    MembershipProgram,
    MinTier,
    Outcome,
    ProviderError,
    Purchase,
    Resource,
    SignatureError,
    Status,
)
from membership_sdk.providers.fake import FakeProvider
from membership_sdk.providers.manual import (
    DEV_SECRET,
    InvoiceClosed,
    InvoiceError,
    ManualProvider,
    UnknownInvoice,
)
from membership_sdk.testing import HookRecorder, ProviderContract, sample_catalog, sample_program

GOLD = Resource("page:1", MinTier("gold"))
REPORT = Resource("report", Purchase())
NOW = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)


class TestManualProviderContract(ProviderContract):
    provider_name = "manual"

    def pay(self, provider: ManualProvider, session: Any) -> Any:
        return provider.confirm_payment(session.id)

    def sign(self, provider: ManualProvider, body: bytes) -> Any:
        return provider.signer.sign(body)

    def break_provider(self, provider: ManualProvider) -> None:
        provider.simulate_outage()


@pytest.fixture
def hooks() -> HookRecorder:
    return HookRecorder()


@pytest.fixture
def program(hooks: HookRecorder) -> MembershipProgram:
    catalog = sample_catalog("manual", monthly="gold-m", yearly="gold-y", one_off="report")
    settings = {
        "account_holder": "Die Zeitung GmbH",
        "iban": "DE89 3704 0044 0532 0130 00",
        "bic": "COBADEFFXXX",
        "secret": "whsec_manual",
        "clock": lambda: NOW,
    }
    program = sample_program(catalog, config={"manual": settings}, plugins=[hooks])
    program.clock = lambda: NOW
    return program


@pytest.fixture
def manual(program: MembershipProgram) -> ManualProvider:
    provider = program.providers["manual"]
    assert isinstance(provider, ManualProvider)
    return provider


def checkout(program: MembershipProgram, price: str = "gold-monthly", member: str = "ann") -> Any:
    return program.start_checkout(
        member, price, provider="manual", success_url="/ok/", cancel_url="/no/", attempt=price
    )


def deliver(program: MembershipProgram, webhook: Any) -> Outcome:
    (result,) = program.handle_webhook("manual", webhook.headers, webhook.body)
    return result.outcome


def membership(program: MembershipProgram, member: str = "ann") -> Any:
    (found,) = program.store.memberships.for_member(member)
    return found


def subscribe(
    program: MembershipProgram, manual: ManualProvider, price: str = "gold-monthly"
) -> str:
    deliver(program, manual.confirm_payment(checkout(program, price).id))
    sub: str = membership(program).provider_subscription_id
    return sub


# -- checkout: an invoice and instructions ---------------------------------------------------


def test_checkout_issues_an_invoice_with_a_reference(program: MembershipProgram) -> None:
    session = checkout(program)

    assert session.id == "INV-000001"
    assert session.url is None


def test_the_instructions_name_amount_account_and_reference(program: MembershipProgram) -> None:
    session = checkout(program)

    assert session.instructions == (
        "Transfer EUR 9.99 to Die Zeitung GmbH, IBAN DE89 3704 0044 0532 0130 00, "
        "BIC COBADEFFXXX, quoting INV-000001 by 2026-03-24. "
        "Access starts when the payment is confirmed."
    )


def test_without_bank_details_the_instructions_show_placeholders() -> None:
    provider = ManualProvider.from_config({})

    assert provider.iban.startswith("XX00")
    assert provider.using_dev_secret
    assert "dev-only" in DEV_SECRET


def test_an_instructions_page_gets_the_reference() -> None:
    program = sample_program(
        sample_catalog("manual", monthly="m"),
        config={"manual": {"instructions_url": "/pay-by-transfer/?ref={reference}"}},
    )

    assert checkout(program).url == "/pay-by-transfer/?ref=INV-000001"


def test_references_use_the_configured_prefix() -> None:
    program = sample_program(
        sample_catalog("manual", monthly="m"), config={"manual": {"reference_prefix": "ZT-"}}
    )

    assert checkout(program).id == "ZT-000001"


def test_nothing_is_granted_before_the_payment_is_confirmed(
    program: MembershipProgram, manual: ManualProvider
) -> None:
    checkout(program)

    assert manual.outbox == []
    assert [i.reference for i in manual.open_invoices()] == ["INV-000001"]
    assert not program.access(GOLD, "ann").allowed


# -- the operator confirms payments -----------------------------------------------------------


def test_a_confirmed_payment_activates_the_membership_for_one_month(
    program: MembershipProgram, manual: ManualProvider, hooks: HookRecorder
) -> None:
    webhook = manual.confirm_payment(checkout(program).id)

    assert deliver(program, webhook) is Outcome.APPLIED
    assert membership(program).status is Status.ACTIVE
    assert membership(program).current_period_end == datetime(2026, 4, 10, 8, 0, tzinfo=UTC)
    assert hooks.names() == ["membership_activated"]


def test_a_yearly_price_runs_for_a_year_from_the_day_paid(
    program: MembershipProgram, manual: ManualProvider
) -> None:
    paid = datetime(2026, 3, 12, 15, 0, tzinfo=UTC)

    deliver(program, manual.confirm_payment(checkout(program, "gold-yearly").id, paid_at=paid))

    assert membership(program).current_period_end == datetime(2027, 3, 12, 15, 0, tzinfo=UTC)


def test_references_are_matched_ignoring_surrounding_spaces(
    program: MembershipProgram, manual: ManualProvider
) -> None:
    checkout(program)

    assert deliver(program, manual.confirm_payment("  INV-000001 ")) is Outcome.APPLIED


def test_confirming_an_unknown_reference_names_it(manual: ManualProvider) -> None:
    with pytest.raises(UnknownInvoice, match="'INV-999999'") as raised:
        manual.confirm_payment("INV-999999")
    assert raised.value.code == "unknown_invoice"
    assert isinstance(raised.value, ProviderError)


def test_confirming_a_paid_invoice_again_is_refused(
    program: MembershipProgram, manual: ManualProvider
) -> None:
    reference = checkout(program).id
    manual.confirm_payment(reference)

    with pytest.raises(InvoiceClosed, match="'INV-000001' is already paid") as raised:
        manual.confirm_payment(reference)
    assert raised.value.code == "invoice_paid"
    assert len(manual.outbox) == 1


def test_a_one_off_invoice_pays_for_the_item(
    program: MembershipProgram, manual: ManualProvider
) -> None:
    deliver(program, manual.confirm_payment(checkout(program, "report").id))

    assert program.access(REPORT, "ann").allowed
    assert manual.invoice("INV-000001").purchase in manual.purchases


def test_a_refunded_one_off_payment_revokes_the_item(
    program: MembershipProgram, manual: ManualProvider
) -> None:
    deliver(program, manual.confirm_payment(checkout(program, "report").id))

    deliver(program, manual.refund(manual.invoice("INV-000001").purchase or ""))

    assert not program.access(REPORT, "ann").allowed


def test_confirmations_are_signed_with_their_own_header(
    program: MembershipProgram, manual: ManualProvider
) -> None:
    webhook = manual.confirm_payment(checkout(program).id)
    fake = FakeProvider(secrets="whsec_manual")

    assert "Manual-Signature" in webhook.headers
    with pytest.raises(SignatureError, match="missing Fake-Signature"):
        fake.parse_webhook(webhook.headers, webhook.body)


# -- renewals, overdue and expiry -------------------------------------------------------------


def test_a_renewal_invoice_extends_the_membership_when_paid(
    program: MembershipProgram, manual: ManualProvider, hooks: HookRecorder
) -> None:
    sub = subscribe(program, manual)
    invoice = manual.issue_renewal(sub)

    deliver(program, manual.confirm_payment(invoice.reference))

    assert invoice.reference == "INV-000002"
    assert membership(program).current_period_end == datetime(2026, 5, 10, 8, 0, tzinfo=UTC)
    assert hooks.names() == ["membership_activated", "membership_renewed"]


def test_issuing_a_renewal_twice_returns_the_open_invoice(
    program: MembershipProgram, manual: ManualProvider
) -> None:
    sub = subscribe(program, manual)

    assert manual.issue_renewal(sub) == manual.issue_renewal(sub)


def test_a_late_renewal_extends_from_the_day_paid(
    program: MembershipProgram, manual: ManualProvider
) -> None:
    sub = subscribe(program, manual)
    invoice = manual.issue_renewal(sub)
    paid = datetime(2026, 6, 1, tzinfo=UTC)

    deliver(program, manual.confirm_payment(invoice.reference, paid_at=paid))

    assert membership(program).current_period_end == datetime(2026, 7, 1, tzinfo=UTC)


def test_an_overdue_renewal_makes_the_membership_past_due_until_paid(
    program: MembershipProgram, manual: ManualProvider, hooks: HookRecorder
) -> None:
    sub = subscribe(program, manual)
    invoice = manual.issue_renewal(sub)

    deliver(program, manual.mark_overdue(sub))
    assert membership(program).status is Status.PAST_DUE
    deliver(program, manual.confirm_payment(invoice.reference))

    assert membership(program).status is Status.ACTIVE
    assert hooks.names() == [
        "membership_activated",
        "membership_payment_failed",
        "membership_renewed",
    ]


def test_expiring_an_unpaid_subscription_voids_its_invoice(
    program: MembershipProgram, manual: ManualProvider
) -> None:
    sub = subscribe(program, manual)
    invoice = manual.issue_renewal(sub)

    deliver(program, manual.expire(sub))

    assert membership(program).status is Status.EXPIRED
    assert not program.access(GOLD, "ann").allowed
    assert invoice.state == "void"
    with pytest.raises(InvoiceClosed, match="already void"):
        manual.confirm_payment(invoice.reference)


def test_canceling_now_voids_the_open_renewal_invoice(
    program: MembershipProgram, manual: ManualProvider
) -> None:
    sub = subscribe(program, manual)
    invoice = manual.issue_renewal(sub)

    program.cancel(membership(program).id, at_period_end=False)

    assert invoice.state == "void"
    assert not program.access(GOLD, "ann").allowed


def test_a_subscription_set_to_cancel_gets_no_renewal_invoice(
    program: MembershipProgram, manual: ManualProvider
) -> None:
    sub = subscribe(program, manual)
    manual.cancel_subscription(sub, at_period_end=True)

    with pytest.raises(ProviderError, match="resume it") as raised:
        manual.issue_renewal(sub)
    assert raised.value.code == "not_renewable"


def test_paying_a_renewal_of_an_ended_subscription_is_refused(
    program: MembershipProgram, manual: ManualProvider
) -> None:
    sub = subscribe(program, manual)
    invoice = manual.issue_renewal(sub)
    manual.subscription(sub).status = "canceled"  # ended by hand at the service

    with pytest.raises(ProviderError, match="it is canceled") as raised:
        manual.confirm_payment(invoice.reference)
    assert raised.value.code == "subscription_ended"
    assert invoice.state == "open"


def test_invoice_errors_share_one_base_class() -> None:
    assert issubclass(UnknownInvoice, InvoiceError)
    assert issubclass(InvoiceClosed, InvoiceError)


def test_an_invoice_is_due_after_the_configured_days() -> None:
    program = sample_program(
        sample_catalog("manual", monthly="m"),
        config={"manual": {"due_days": 30, "clock": lambda: NOW}},
    )
    manual = program.providers["manual"]
    assert isinstance(manual, ManualProvider)

    reference = checkout(program).id

    assert manual.invoice(reference).due_at == NOW + timedelta(days=30)
