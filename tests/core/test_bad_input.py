"""Invariant 3: bad input gets a specific error naming the culprit, and changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sdk_builders import NOW, full_state, make_program, purchase_event, sub_event

from membership_sdk import (
    BillingEvent,
    Catalog,
    EventType,
    GrantKind,
    InvalidAmount,
    MalformedEvent,
    MembershipError,
    MembershipProgram,
    MemoryStore,
    Price,
    SubscriptionSnapshot,
    Tier,
    UnknownCurrency,
    UnknownPrice,
    UnknownProvider,
    UnknownTier,
)
from membership_sdk.errors import DuplicateSlug


def _catalog_with_duplicate_slugs(program: MembershipProgram) -> object:
    return Catalog(tiers=[Tier("basic", "Basic"), Tier("basic", "Basic again")])


def _malformed_event(program: MembershipProgram) -> object:
    snap = SubscriptionSnapshot("sub_1", "cus_1", "p_premium", "active", 9)  # type: ignore[arg-type]
    return program.apply(
        BillingEvent("acme", "", EventType.SUBSCRIPTION_UPDATED, NOW, subscription=snap)
    )


BAD_INPUTS: list[tuple[str, Callable[[MembershipProgram], object], type[Exception], str]] = [
    (
        "unknown currency",
        lambda p: Price("gold", 900, "EURO", tier="premium"),
        UnknownCurrency,
        "'EURO'",
    ),
    ("zero amount", lambda p: Price("gold", 0, "EUR", tier="premium"), InvalidAmount, "'gold'"),
    (
        "negative amount",
        lambda p: Price("gold", -900, "EUR", tier="premium"),
        InvalidAmount,
        "got -900",
    ),
    ("duplicate slugs", _catalog_with_duplicate_slugs, DuplicateSlug, "'basic'"),
    (
        "unknown price at checkout",
        lambda p: p.start_checkout(
            "alice", "gold-monthly", provider="acme", success_url="/", cancel_url="/"
        ),
        UnknownPrice,
        "'gold-monthly'",
    ),
    ("malformed event", _malformed_event, MalformedEvent, "non-empty id"),
    ("not an event at all", lambda p: p.apply({"id": "evt_1"}), MalformedEvent, "dict"),  # type: ignore[arg-type]
    (
        "webhook for an unknown provider",
        lambda p: p.handle_webhook("nopay", {}, b"{}"),
        UnknownProvider,
        "'nopay'",
    ),
    (
        "grant of an unknown tier",
        lambda p: p.grant("bob", GrantKind.COMP, tier="gold"),
        UnknownTier,
        "'gold'",
    ),
    (
        "grant for no time",
        lambda p: p.grant("bob", GrantKind.COMP, tier="premium", days=0),
        MembershipError,
        "days=0",
    ),
    (
        "extension of an unknown grant",
        lambda p: p.extend_grant("grant_404", 3),
        MembershipError,
        "'grant_404'",
    ),
    ("cancel of an unknown membership", lambda p: p.cancel("mem_404"), MembershipError, "mem_404"),
]


@pytest.fixture
def busy_program() -> MembershipProgram:
    """A program that already holds a membership, a purchase, a grant and meter usage."""
    program = make_program()
    program.apply(sub_event("evt_1", version=1))
    program.apply(purchase_event("evt_2", customer="cus_1"))
    program.grant("bob", GrantKind.GIFT, tier="basic", days=30)
    program.store.meters.record("carol", "articles", "page:1", NOW - timedelta(days=1))
    return program


@pytest.mark.parametrize(
    ("action", "error", "culprit"),
    [pytest.param(a, e, c, id=name) for name, a, e, c in BAD_INPUTS],
)
def test_bad_input_raises_a_specific_error_and_changes_nothing(
    busy_program: MembershipProgram,
    action: Callable[[MembershipProgram], object],
    error: type[Exception],
    culprit: str,
) -> None:
    store = busy_program.store
    assert isinstance(store, MemoryStore)
    before = full_state(store)
    with pytest.raises(error, match=culprit) as info:
        action(busy_program)
    assert isinstance(info.value, MembershipError)
    assert full_state(store) == before


def test_a_failure_inside_a_transaction_rolls_everything_back() -> None:
    store = MemoryStore()
    program = make_program(store=store)
    program.apply(sub_event("evt_1", version=1))
    before = full_state(store)
    membership = store.memberships.for_member("alice")[0]

    def crash_halfway() -> None:
        with store.atomic("acme:sub_1"):
            store.memberships.save(membership.replace(tier="basic"))
            store.customers.link("acme", "cus_9", "mallory")
            raise RuntimeError("crash")

    with pytest.raises(RuntimeError, match="crash"):
        crash_halfway()
    assert full_state(store) == before
