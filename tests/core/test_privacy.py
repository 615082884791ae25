"""The core of a member's erasure: subscriptions are canceled first and a provider failure
stops it; pseudonyms are keyed; invoices are kept with the member replaced; and a webhook
of an erased member's customer is never linked to the member again."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from membership_sdk import MembershipProgram, Status
from membership_sdk.catalog import Interval
from membership_sdk.errors import MembershipError
from membership_sdk.events import Outcome
from membership_sdk.memory import MemoryStore
from membership_sdk.privacy import (
    EXPORT_FORMAT,
    ErasureBlocked,
    cancel_subscriptions,
    customer_digest,
    export_document,
    pseudonym,
    retained_invoice,
)
from membership_sdk.providers.fake import FakeProvider
from membership_sdk.providers.manual import Invoice
from membership_sdk.testing import sample_catalog, sample_program

KEY = b"k" * 32
NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


class Ledger:
    def __init__(self) -> None:
        self.erased: set[str] = set()

    def is_erased(self, provider: str, customer_id: str) -> bool:
        return customer_digest(provider, customer_id, KEY) in self.erased


@pytest.fixture
def program() -> MembershipProgram:
    return sample_program(sample_catalog("fake", monthly="fake_gold_monthly"), store=MemoryStore())


@pytest.fixture
def fake(program: MembershipProgram) -> FakeProvider:
    provider = program.providers["fake"]
    assert isinstance(provider, FakeProvider)
    return provider


def subscribe(program: MembershipProgram, fake: FakeProvider, member: str = "ann") -> str:
    session = program.start_checkout(
        member, "gold-monthly", provider="fake", success_url="/ok/", cancel_url="/no/"
    )
    webhook = fake.complete_checkout(session.id)
    program.handle_webhook("fake", webhook.headers, webhook.body)
    (membership,) = program.store.memberships.for_member(member)
    assert membership.provider_subscription_id
    return membership.provider_subscription_id


def test_a_pseudonym_is_keyed_and_stable() -> None:
    assert pseudonym("42", KEY) == pseudonym("42", KEY)
    assert pseudonym("42", KEY) != pseudonym("42", b"other key")
    assert pseudonym("42", KEY) != pseudonym("43", KEY)
    assert pseudonym("42", KEY).startswith("erased-")


def test_a_pseudonym_needs_a_member_and_a_key() -> None:
    with pytest.raises(MembershipError, match="''"):
        pseudonym("", KEY)
    with pytest.raises(MembershipError, match="non-empty key"):
        pseudonym("42", b"")


def invoice(state: str) -> Invoice:
    return Invoice(
        reference="2026-0007",
        year=2026,
        number=7,
        member_id="42",
        customer_id="cus_manual_1",
        price="manual_supporter",
        interval=Interval.MONTH,
        amount=500,
        currency="EUR",
        issued_at=NOW,
        due_at=NOW,
        idempotency_key="checkout-42",
        state=state,
        paid_at=NOW if state == "paid" else None,
    )


def test_a_paid_invoice_is_kept_with_the_member_replaced_by_the_pseudonym() -> None:
    kept = retained_invoice(invoice("paid"), "erased-abc")

    assert (kept.member_id, kept.customer_id, kept.idempotency_key) == (
        "erased-abc",
        "erased-abc",
        "",
    )
    assert (kept.reference, kept.number, kept.amount, kept.currency, kept.state) == (
        "2026-0007",
        7,
        500,
        "EUR",
        "paid",
    )
    assert kept.paid_at == NOW


def test_an_open_invoice_is_kept_voided() -> None:
    assert retained_invoice(invoice("open"), "erased-abc").state == "void"


def test_subscriptions_are_canceled_now(program: MembershipProgram, fake: FakeProvider) -> None:
    sub = subscribe(program, fake)

    [after] = cancel_subscriptions(program, "ann")

    assert after.status is Status.CANCELED
    assert fake.subscriptions[sub].status == "canceled"
    assert after.cancel_reason == "erasure"


def test_an_outage_stops_the_cancel_and_names_the_provider(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    subscribe(program, fake)
    fake.simulate_outage()

    with pytest.raises(ErasureBlocked, match="fake could not cancel") as raised:
        cancel_subscriptions(program, "ann")

    assert (raised.value.provider, raised.value.retryable) == ("fake", True)
    (membership,) = program.store.memberships.for_member("ann")
    assert membership.status is Status.ACTIVE


def test_a_member_with_nothing_live_needs_no_cancel(program: MembershipProgram) -> None:
    assert cancel_subscriptions(program, "nobody") == []


def test_a_webhook_of_an_erased_customer_is_not_linked_to_its_member_again(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    sub = subscribe(program, fake)
    (membership,) = program.store.memberships.for_member("ann")
    customer = membership.provider_customer_id or ""
    store = program.store
    assert isinstance(store, MemoryStore)
    # What an adapter's erasure leaves: no link, no membership, the customer on the ledger.
    ledger = Ledger()
    ledger.erased.add(customer_digest("fake", customer, KEY))
    store.erasures = ledger  # type: ignore[attr-defined]
    store.customers.members.clear()
    store.memberships.rows.clear()

    webhook = fake.renew(sub)
    [result] = program.handle_webhook("fake", webhook.headers, webhook.body)

    assert result.outcome is Outcome.IGNORED
    assert program.store.memberships.for_member("ann") == []
    assert program.store.customers.member_for("fake", customer) is None


def test_the_export_document_is_json_safe() -> None:
    document = export_document(
        "42", {"grants": [{"at": NOW, "kind": Status.ACTIVE}]}, exported_at=NOW
    )

    assert document["format"] == EXPORT_FORMAT
    assert json.loads(json.dumps(document))["data"]["grants"] == [
        {"at": NOW.isoformat(), "kind": "active"}
    ]
