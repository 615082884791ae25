"""The ``manual`` provider: the contract suite, then bank transfers against invoices."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from membership_sdk import (
    MembershipProgram,
    MinTier,
    Outcome,
    PluginError,
    ProviderError,
    Purchase,
    Resource,
    SignatureError,
    Status,
)
from membership_sdk.memory import MemoryManualBilling, MemoryStore
from membership_sdk.providers.fake import FakeProvider
from membership_sdk.providers.manual import (
    DEV_SECRET,
    InvoiceClosed,
    InvoiceError,
    ManualProvider,
    UnknownInvoice,
)
from membership_sdk.reconcile import reconcile
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


class Clock:
    """The time of the provider and the program; a test moves it on."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def billing() -> MemoryManualBilling:
    """The provider's records: a new provider over the same one is a restarted site."""
    return MemoryManualBilling()


def settings(clock: Clock, billing: MemoryManualBilling, **extra: Any) -> dict[str, Any]:
    return {
        "account_holder": "Die Zeitung GmbH",
        "iban": "DE89 3704 0044 0532 0130 00",
        "bic": "COBADEFFXXX",
        "secret": "whsec_manual",
        "clock": clock,
        "store": billing,
        **extra,
    }


def make_program(
    clock: Clock,
    billing: MemoryManualBilling,
    hooks: HookRecorder | None = None,
    store: MemoryStore | None = None,
) -> MembershipProgram:
    catalog = sample_catalog("manual", monthly="gold-m", yearly="gold-y", one_off="report")
    program = sample_program(
        catalog,
        config={"manual": settings(clock, billing)},
        plugins=[hooks] if hooks else [],
        store=store,
    )
    program.clock = clock
    return program


@pytest.fixture
def program(hooks: HookRecorder, clock: Clock, billing: MemoryManualBilling) -> MembershipProgram:
    return make_program(clock, billing, hooks)


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

    assert session.id == "INV-2026-000001"
    assert session.url is None


def test_the_instructions_name_amount_account_and_reference(program: MembershipProgram) -> None:
    session = checkout(program)

    assert session.instructions == (
        "Transfer EUR 9.99 to Die Zeitung GmbH, IBAN DE89 3704 0044 0532 0130 00, "
        "BIC COBADEFFXXX, quoting INV-2026-000001 by 2026-03-24. "
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
        config={
            "manual": {"instructions_url": "/pay-by-transfer/?ref={reference}", "clock": Clock()}
        },
    )

    assert checkout(program).url == "/pay-by-transfer/?ref=INV-2026-000001"


def test_references_use_the_configured_prefix() -> None:
    program = sample_program(
        sample_catalog("manual", monthly="m"),
        config={"manual": {"reference_prefix": "ZT-", "clock": Clock()}},
    )

    assert checkout(program).id == "ZT-2026-000001"


def test_nothing_is_granted_before_the_payment_is_confirmed(
    program: MembershipProgram, manual: ManualProvider
) -> None:
    checkout(program)

    assert [i.reference for i in manual.open_invoices()] == ["INV-2026-000001"]
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

    assert deliver(program, manual.confirm_payment("  INV-2026-000001 ")) is Outcome.APPLIED


def test_confirming_an_unknown_reference_names_it(manual: ManualProvider) -> None:
    with pytest.raises(UnknownInvoice, match="'INV-2026-999999'") as raised:
        manual.confirm_payment("INV-2026-999999")
    assert raised.value.code == "unknown_invoice"
    assert isinstance(raised.value, ProviderError)


def test_confirming_a_paid_invoice_again_is_refused(
    program: MembershipProgram, manual: ManualProvider
) -> None:
    reference = checkout(program).id
    manual.confirm_payment(reference)

    with pytest.raises(InvoiceClosed, match="'INV-2026-000001' is already paid") as raised:
        manual.confirm_payment(reference)
    assert raised.value.code == "invoice_paid"
    assert [i.state for i in manual.store.invoices()] == ["paid"]


def test_a_one_off_invoice_pays_for_the_item(
    program: MembershipProgram, manual: ManualProvider
) -> None:
    deliver(program, manual.confirm_payment(checkout(program, "report").id))

    assert program.access(REPORT, "ann").allowed
    purchase = manual.invoice("INV-2026-000001").purchase
    assert purchase is not None
    assert manual.store.purchase(purchase) is not None


def test_a_refunded_one_off_payment_revokes_the_item(
    program: MembershipProgram, manual: ManualProvider
) -> None:
    deliver(program, manual.confirm_payment(checkout(program, "report").id))

    deliver(program, manual.refund(manual.invoice("INV-2026-000001").purchase or ""))

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

    assert invoice.reference == "INV-2026-000002"
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
    assert manual.invoice(invoice.reference).state == "void"
    with pytest.raises(InvoiceClosed, match="already void"):
        manual.confirm_payment(invoice.reference)


def test_canceling_now_voids_the_open_renewal_invoice(
    program: MembershipProgram, manual: ManualProvider
) -> None:
    sub = subscribe(program, manual)
    invoice = manual.issue_renewal(sub)

    program.cancel(membership(program).id, at_period_end=False)

    assert manual.invoice(invoice.reference).state == "void"
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
    ended = manual.subscription(sub)
    ended.status = "canceled"  # ended by hand at the service
    manual.store.save_subscription(ended)

    with pytest.raises(ProviderError, match="it is canceled") as raised:
        manual.confirm_payment(invoice.reference)
    assert raised.value.code == "subscription_ended"
    assert manual.invoice(invoice.reference).state == "open"


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


# -- invoice numbers ---------------------------------------------------------------------------


def test_invoice_numbers_count_up_within_a_year(program: MembershipProgram) -> None:
    references = [checkout(program, member=m).id for m in ("ann", "bob", "cem")]

    assert references == ["INV-2026-000001", "INV-2026-000002", "INV-2026-000003"]


def test_invoice_numbers_start_again_at_one_in_a_new_year(
    program: MembershipProgram, clock: Clock
) -> None:
    checkout(program, member="ann")
    clock.now = datetime(2027, 1, 1, 0, 0, tzinfo=UTC)

    assert checkout(program, member="bob").id == "INV-2027-000001"


def test_concurrent_checkouts_get_distinct_consecutive_numbers(
    program: MembershipProgram, manual: ManualProvider
) -> None:
    members = [f"reader-{n}" for n in range(20)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        references = list(pool.map(lambda m: checkout(program, member=m).id, members))

    assert sorted(references) == [f"INV-2026-{n:06d}" for n in range(1, 21)]


def test_concurrent_checkouts_with_one_idempotency_key_issue_one_invoice(
    program: MembershipProgram, manual: ManualProvider
) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        references = set(pool.map(lambda _: checkout(program).id, range(10)))

    assert references == {"INV-2026-000001"}
    assert len(manual.store.invoices()) == 1


# -- a restarted site ---------------------------------------------------------------------------


def test_a_restarted_provider_knows_the_invoices_and_continues_their_numbers(
    program: MembershipProgram, clock: Clock, billing: MemoryManualBilling
) -> None:
    checkout(program, member="ann")

    restarted = make_program(clock, billing, store=program.store)

    assert checkout(restarted, member="bob").id == "INV-2026-000002"
    assert [i.reference for i in restarted.providers["manual"].open_invoices()] == [  # type: ignore[attr-defined]
        "INV-2026-000001",
        "INV-2026-000002",
    ]


def test_a_transfer_confirmed_after_a_restart_is_applied(
    program: MembershipProgram, manual: ManualProvider, clock: Clock, billing: MemoryManualBilling
) -> None:
    deliver(program, manual.confirm_payment(checkout(program, member="bob").id))
    reference = checkout(program).id
    restarted = make_program(clock, billing, store=program.store)
    provider = restarted.providers["manual"]
    assert isinstance(provider, ManualProvider)

    assert deliver(restarted, provider.confirm_payment(reference)) is Outcome.APPLIED
    assert restarted.access(GOLD, "ann").allowed


def test_reconciling_after_a_restart_ends_nothing_that_is_live(
    program: MembershipProgram, manual: ManualProvider, clock: Clock, billing: MemoryManualBilling
) -> None:
    subscribe(program, manual)
    restarted = make_program(clock, billing, store=program.store)

    state = reconcile(restarted, "manual")

    assert state.counts == {"unchanged": 1}
    assert membership(restarted).status is Status.ACTIVE


def test_reconcile_repairs_a_confirmation_whose_webhook_was_lost(
    program: MembershipProgram, manual: ManualProvider
) -> None:
    manual.confirm_payment(checkout(program).id)  # never delivered

    state = reconcile(program, "manual")

    assert state.counts == {"created": 1}
    assert program.access(GOLD, "ann").allowed


def test_the_listing_pages_through_every_subscription(
    program: MembershipProgram, manual: ManualProvider
) -> None:
    for member in ("ann", "bob", "cem"):
        manual.confirm_payment(checkout(program, member=member).id)

    first = manual.list_subscriptions(limit=2)
    second = manual.list_subscriptions(after=first.next_cursor, limit=2)

    assert [s.member_id for s in (*first.subscriptions, *second.subscriptions)] == [
        "ann",
        "bob",
        "cem",
    ]
    assert first.total == 3
    assert second.next_cursor is None


def test_a_failed_confirmation_changes_nothing(
    program: MembershipProgram, manual: ManualProvider
) -> None:
    sub = subscribe(program, manual)
    invoice = manual.issue_renewal(sub)
    ended = manual.subscription(sub)
    ended.status = "expired"
    manual.store.save_subscription(ended)
    before = manual.subscription(sub)

    with pytest.raises(ProviderError):
        manual.confirm_payment(invoice.reference)

    assert manual.subscription(sub) == before
    assert manual.invoice(invoice.reference).paid_at is None


def test_an_invoice_confirmed_twice_at_once_is_paid_once(
    program: MembershipProgram, manual: ManualProvider
) -> None:
    reference = checkout(program).id

    def confirm(_: int) -> str:
        try:
            manual.confirm_payment(reference)
        except InvoiceClosed:
            return "refused"
        return "paid"

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = sorted(pool.map(confirm, range(4)))

    assert results == ["paid", "refused", "refused", "refused"]
    assert manual.store.count_subscriptions() == 1


# -- the schedule -------------------------------------------------------------------------------


def run(program: MembershipProgram, manual: ManualProvider, clock: Clock, when: datetime) -> int:
    """Move the clock to ``when``, run the schedule and deliver what it sent."""
    clock.now = when
    webhooks = manual.run_schedule()
    for webhook in webhooks:
        deliver(program, webhook)
    return len(webhooks)


def test_a_renewal_invoice_is_issued_due_days_before_the_period_ends(
    program: MembershipProgram, manual: ManualProvider, clock: Clock
) -> None:
    sub = subscribe(program, manual)  # paid 2026-03-10, runs until 2026-04-10

    run(program, manual, clock, datetime(2026, 3, 26, 8, 0, tzinfo=UTC))
    assert manual.store.invoices(state="open", subscription=sub) == []
    run(program, manual, clock, datetime(2026, 3, 27, 8, 0, tzinfo=UTC))

    (renewal,) = manual.store.invoices(state="open", subscription=sub)
    assert renewal.reference == "INV-2026-000002"
    assert renewal.due_at == datetime(2026, 4, 10, 8, 0, tzinfo=UTC)


def test_an_unpaid_renewal_makes_the_membership_past_due_on_its_due_date(
    program: MembershipProgram, manual: ManualProvider, clock: Clock, hooks: HookRecorder
) -> None:
    subscribe(program, manual)
    run(program, manual, clock, datetime(2026, 3, 27, 8, 0, tzinfo=UTC))

    assert run(program, manual, clock, datetime(2026, 4, 10, 8, 0, tzinfo=UTC)) == 1

    assert membership(program).status is Status.PAST_DUE
    assert hooks.names() == ["membership_activated", "membership_payment_failed"]


def test_an_unpaid_renewal_expires_the_membership_expire_days_after_its_due_date(
    program: MembershipProgram, manual: ManualProvider, clock: Clock
) -> None:
    sub = subscribe(program, manual)
    run(program, manual, clock, datetime(2026, 3, 27, 8, 0, tzinfo=UTC))
    run(program, manual, clock, datetime(2026, 4, 10, 8, 0, tzinfo=UTC))

    run(program, manual, clock, datetime(2026, 4, 24, 8, 0, tzinfo=UTC))

    assert membership(program).status is Status.EXPIRED
    assert not program.access(GOLD, "ann").allowed
    assert [i.state for i in manual.store.invoices(subscription=sub)] == ["paid", "void"]


def test_a_renewal_paid_late_but_before_it_expires_renews(
    program: MembershipProgram, manual: ManualProvider, clock: Clock
) -> None:
    sub = subscribe(program, manual)
    run(program, manual, clock, datetime(2026, 3, 27, 8, 0, tzinfo=UTC))
    run(program, manual, clock, datetime(2026, 4, 10, 8, 0, tzinfo=UTC))
    (renewal,) = manual.store.invoices(state="open", subscription=sub)

    deliver(program, manual.confirm_payment(renewal.reference))
    run(program, manual, clock, datetime(2026, 4, 24, 8, 0, tzinfo=UTC))

    assert membership(program).status is Status.ACTIVE
    assert membership(program).current_period_end == datetime(2026, 5, 10, 8, 0, tzinfo=UTC)


def test_an_unpaid_first_invoice_lapses_without_any_event(
    program: MembershipProgram, manual: ManualProvider, clock: Clock
) -> None:
    reference = checkout(program).id

    sent = run(program, manual, clock, datetime(2026, 4, 7, 8, 0, tzinfo=UTC))

    assert sent == 0
    assert manual.invoice(reference).state == "void"
    assert program.store.memberships.for_member("ann") == []


def test_a_first_invoice_can_be_paid_until_it_lapses(
    program: MembershipProgram, manual: ManualProvider, clock: Clock
) -> None:
    reference = checkout(program).id
    run(program, manual, clock, datetime(2026, 4, 6, 8, 0, tzinfo=UTC))

    assert deliver(program, manual.confirm_payment(reference)) is Outcome.APPLIED


def test_a_subscription_set_to_cancel_ends_with_its_period(
    program: MembershipProgram, manual: ManualProvider, clock: Clock
) -> None:
    subscribe(program, manual)
    program.cancel(membership(program).id)

    run(program, manual, clock, datetime(2026, 4, 9, 8, 0, tzinfo=UTC))
    assert membership(program).status is Status.ACTIVE
    assert manual.open_invoices() == []
    run(program, manual, clock, datetime(2026, 4, 10, 8, 0, tzinfo=UTC))

    assert membership(program).status is Status.CANCELED


def test_running_the_schedule_again_changes_nothing_more(
    program: MembershipProgram, manual: ManualProvider, clock: Clock
) -> None:
    subscribe(program, manual)
    run(program, manual, clock, datetime(2026, 4, 10, 8, 0, tzinfo=UTC))

    assert run(program, manual, clock, datetime(2026, 4, 10, 8, 0, tzinfo=UTC)) == 0
    assert len(manual.open_invoices()) == 1


def test_the_schedule_hands_each_webhook_to_send_inside_its_transaction(
    program: MembershipProgram, manual: ManualProvider, clock: Clock
) -> None:
    subscribe(program, manual)
    run(program, manual, clock, datetime(2026, 3, 27, 8, 0, tzinfo=UTC))
    clock.now = datetime(2026, 4, 10, 8, 0, tzinfo=UTC)

    def refuse(webhook: Any) -> None:
        raise RuntimeError("the inbox is down")

    with pytest.raises(RuntimeError):
        manual.run_schedule(send=refuse)

    assert membership(program).status is Status.ACTIVE
    assert manual.subscription(membership(program).provider_subscription_id).status == "active"


# -- settings -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"), [("due_days", 0), ("due_days", "14"), ("expire_days", -1)]
)
def test_a_number_of_days_that_is_not_one_is_refused_naming_its_key(key: str, value: Any) -> None:
    with pytest.raises(PluginError, match=f"'{key}' must be a whole number of days"):
        ManualProvider.from_config({key: value})


def test_a_store_that_is_not_one_is_refused() -> None:
    with pytest.raises(PluginError, match="'store' must be a ManualBillingStore"):
        ManualProvider.from_config({"store": "myapp.billing.Store"})


@pytest.mark.parametrize("prefix", ["INV/", "INV 2026-", "Rechnung-Ä", "?", "#", "A" * 21, 7])
def test_a_reference_prefix_unsafe_in_a_url_or_a_bank_reference_is_refused(prefix: Any) -> None:
    with pytest.raises(PluginError) as refused:
        ManualProvider.from_config({"reference_prefix": prefix})

    assert "'reference_prefix'" in str(refused.value)
    assert repr(prefix) in str(refused.value)
    assert "letters, digits, '-' and '_'" in str(refused.value)


@pytest.mark.parametrize("prefix", ["", "INV-", "ZT_", "2026"])
def test_a_reference_prefix_of_letters_digits_dashes_and_underscores_is_taken(
    prefix: str,
) -> None:
    assert ManualProvider.from_config({"reference_prefix": prefix}).reference_prefix == prefix


def test_a_transfer_dated_before_its_invoice_was_issued_is_refused_and_changes_nothing(
    program: MembershipProgram, manual: ManualProvider, clock: Clock
) -> None:
    reference = checkout(program, "gold-yearly").id

    with pytest.raises(InvoiceError, match="was issued on") as refused:
        manual.confirm_payment(reference, paid_at=clock() - timedelta(days=400))

    assert refused.value.code == "paid_before_issued"
    assert manual.invoice(reference).state == "open"
