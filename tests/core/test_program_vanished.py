"""Ending a membership whose subscription its provider no longer has.

The provider is a tiny in-test plugin holding the subscriptions it still has, so these
tests depend on none of the built-in providers.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sdk_builders import NOW, HookRecorder, StubProvider, full_state, make_program, sub_event

from membership_sdk import (
    EventType,
    MembershipError,
    MembershipProgram,
    MemoryStore,
    Outcome,
    ProviderError,
    Status,
    SubscriptionSnapshot,
)


class Acme(StubProvider):
    """A provider that still has the subscriptions in ``subscriptions``."""

    name = "acme"

    def __init__(self) -> None:
        self.subscriptions: dict[str, SubscriptionSnapshot] = {}
        self.fail_with: Exception | None = None
        self.fetched: list[str] = []

    def fetch_subscription(self, subscription_id: str) -> SubscriptionSnapshot | None:
        self.fetched.append(subscription_id)
        if self.fail_with is not None:
            raise self.fail_with
        return self.subscriptions.get(subscription_id)


@pytest.fixture
def acme() -> Acme:
    return Acme()


@pytest.fixture
def shop(acme: Acme, hooks: HookRecorder) -> MembershipProgram:
    """A program where alice holds premium through acme's ``sub_1``, and acme still has it."""
    program = make_program(plugins=(acme, hooks), clock=lambda: NOW)
    event = sub_event("evt_1", version=1)
    assert event.subscription is not None
    acme.subscriptions["sub_1"] = event.subscription
    program.apply(event)
    hooks.calls.clear()
    return program


def membership(shop: MembershipProgram) -> Any:
    return shop.store.memberships.by_provider_id("acme", "sub_1")


def test_a_vanished_subscription_cancels_its_membership_and_access_ends_now(
    shop: MembershipProgram, acme: Acme
) -> None:
    del acme.subscriptions["sub_1"]

    result = shop.end_vanished_subscription("acme", "sub_1")

    assert result.outcome is Outcome.APPLIED
    ended = membership(shop)
    assert result.membership_id == ended.id
    assert ended.status is Status.CANCELED
    assert ended.current_period_end == NOW
    assert ended.canceled_at == NOW
    assert "content.premium" not in shop.context("alice").entitlements


def test_ending_a_vanished_subscription_fires_the_cancel_hook_once(
    shop: MembershipProgram, acme: Acme, hooks: HookRecorder
) -> None:
    del acme.subscriptions["sub_1"]

    shop.end_vanished_subscription("acme", "sub_1")
    again = shop.end_vanished_subscription("acme", "sub_1")

    assert again.outcome is Outcome.DUPLICATE
    assert [name for name, _ in hooks.calls] == [
        "membership_access_changed",
        "membership_canceled",
    ]
    event = hooks.calls[1][1]["event"]
    assert (event.id, event.type, event.data) == (
        "vanished:sub_1",
        EventType.SUBSCRIPTION_DELETED,
        {"vanished": True},
    )


def test_a_vanished_subscription_that_was_ending_anyway_fires_the_expiry_hook(
    shop: MembershipProgram, acme: Acme, hooks: HookRecorder
) -> None:
    shop.apply(sub_event("evt_2", version=2, cancel_at_period_end=True))
    hooks.calls.clear()
    del acme.subscriptions["sub_1"]

    shop.end_vanished_subscription("acme", "sub_1")

    assert hooks.names() == ["membership_expired"]


def test_the_inbox_keeps_the_vanished_event(shop: MembershipProgram, acme: Acme) -> None:
    del acme.subscriptions["sub_1"]

    shop.end_vanished_subscription("acme", "sub_1")

    assert shop.store.inbox.seen("acme", "vanished:sub_1")


def test_a_subscription_the_provider_still_has_is_not_ended(
    shop: MembershipProgram, acme: Acme, hooks: HookRecorder
) -> None:
    store = shop.store
    assert isinstance(store, MemoryStore)
    before = full_state(store)

    result = shop.end_vanished_subscription("acme", "sub_1")

    assert result.outcome is Outcome.IGNORED
    assert "acme still has subscription 'sub_1' (active)" in result.detail
    assert full_state(store) == before
    assert hooks.calls == []


def test_the_provider_is_asked_before_anything_is_ended(
    shop: MembershipProgram, acme: Acme
) -> None:
    del acme.subscriptions["sub_1"]

    shop.end_vanished_subscription("acme", "sub_1")

    assert acme.fetched == ["sub_1"]


def test_a_provider_that_cannot_be_asked_ends_nothing(
    shop: MembershipProgram, acme: Acme, hooks: HookRecorder
) -> None:
    del acme.subscriptions["sub_1"]
    acme.fail_with = ProviderError("acme: unreachable", retryable=True)

    with pytest.raises(ProviderError):
        shop.end_vanished_subscription("acme", "sub_1")

    assert membership(shop).status is Status.ACTIVE
    assert hooks.calls == []


def test_a_membership_that_already_ended_is_left_alone(
    shop: MembershipProgram, acme: Acme, hooks: HookRecorder
) -> None:
    shop.apply(sub_event("evt_2", version=2, status=Status.EXPIRED))
    hooks.calls.clear()
    del acme.subscriptions["sub_1"]

    result = shop.end_vanished_subscription("acme", "sub_1")

    assert result.outcome is Outcome.IGNORED
    assert "already ended (expired)" in result.detail
    assert membership(shop).status is Status.EXPIRED
    assert hooks.calls == []


def test_a_period_that_ended_before_the_subscription_vanished_is_kept(
    shop: MembershipProgram, acme: Acme
) -> None:
    earlier = NOW - timedelta(days=2)
    shop.apply(sub_event("evt_2", version=2, status=Status.PAST_DUE, period_end=earlier))
    del acme.subscriptions["sub_1"]

    shop.end_vanished_subscription("acme", "sub_1")

    assert membership(shop).current_period_end == earlier


def test_a_subscription_without_a_membership_is_refused_by_name(shop: MembershipProgram) -> None:
    with pytest.raises(MembershipError, match="'acme' subscription 'sub_9'"):
        shop.end_vanished_subscription("acme", "sub_9")
