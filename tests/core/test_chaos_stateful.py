"""Chaos on the core, as a Hypothesis state machine: subscriptions live their lives at
the provider while their events reach :meth:`MembershipProgram.apply` duplicated, out of
order, dropped (and redelivered later), or failing inside the store's transaction.

Invariants: a failed attempt leaves the store as it was; no lifecycle hook fires twice
for one change, and the hooks fired are exactly those of the snapshots applied; once
every event has arrived, each membership equals the provider's final state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from sdk_builders import NOW, PROVIDER, HookRecorder, make_program, store_state, sub_event
from test_event_convergence import PRICES, Sub, next_states

from membership_sdk import BillingEvent, EventType, Membership, MemoryStore, Outcome, Status
from membership_sdk.memory import MemoryMemberships
from membership_sdk.program import Transition

LIFECYCLE = {
    "membership_activated",
    "membership_renewed",
    "membership_payment_failed",
    "membership_canceled",
    "membership_expired",
}


class InjectedFault(Exception):
    """The database went away in the middle of applying an event."""


class FlakyMemberships(MemoryMemberships):
    """Memberships whose next save fails, after writing, when ``armed``."""

    armed = False

    def save(self, membership: Membership) -> None:
        super().save(membership)
        if self.armed:
            self.armed = False
            raise InjectedFault(f"lost the database saving {membership.id}")


@dataclass
class Truth:
    """One subscription at the provider: its state per version, latest last."""

    index: int
    states: dict[int, Sub] = field(default_factory=dict)

    @property
    def version(self) -> int:
        return max(self.states)

    @property
    def current(self) -> Sub:
        return self.states[self.version]


class ChaoticDelivery(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.store = MemoryStore()
        self.store.memberships = FlakyMemberships()
        self.recorder = HookRecorder()
        self.program = make_program(plugins=(self.recorder,), store=self.store)
        self.subs: list[Truth] = []
        self.sent: list[BillingEvent] = []
        self.pending: list[BillingEvent] = []  # sent, not yet applied (dropped or in flight)
        self.applied: dict[str, list[int]] = {}  # subscription id -> versions applied, in order

    # -- the provider -------------------------------------------------------------------------
    def _send(self, truth: Truth, created: bool = False) -> None:
        sub = truth.current
        event = sub_event(
            f"evt_{truth.index}_{truth.version}",
            version=truth.version,
            status=sub.status,
            sub_id=f"sub_{truth.index}",
            customer=f"cus_{truth.index}",
            member_id=f"member_{truth.index}",
            price=sub.price,
            period_end=sub.period_end,
            cancel_at_period_end=sub.cancel_at_period_end,
            canceled_at=sub.canceled_at,
            type=EventType.SUBSCRIPTION_CREATED if created else EventType.SUBSCRIPTION_UPDATED,
            occurred_at=NOW + timedelta(minutes=len(self.sent)),
        )
        self.sent.append(event)
        self.pending.append(event)

    @initialize(
        status=st.sampled_from([Status.INCOMPLETE, Status.TRIALING, Status.ACTIVE]),
        price=st.sampled_from(PRICES),
    )
    def first_subscription(self, status: Status, price: str) -> None:
        self.subscribe(status, price)

    @precondition(lambda self: len(self.subs) < 4)
    @rule(
        status=st.sampled_from([Status.INCOMPLETE, Status.TRIALING, Status.ACTIVE]),
        price=st.sampled_from(PRICES),
    )
    def subscribe(self, status: Status, price: str) -> None:
        truth = Truth(len(self.subs), {1: Sub(status, price, NOW + timedelta(days=30))})
        self.subs.append(truth)
        self._send(truth, created=True)

    @precondition(lambda self: self.subs)
    @rule(data=st.data())
    def provider_changes_a_subscription(self, data: st.DataObject) -> None:
        truth = data.draw(st.sampled_from(self.subs))
        options = next_states(truth.current)
        if not options:
            return
        _, after = data.draw(st.sampled_from(options))
        truth.states[truth.version + 1] = after
        self._send(truth)

    # -- the network ----------------------------------------------------------------------
    @precondition(lambda self: self.pending)
    @rule(data=st.data(), keep_a_copy=st.booleans())
    def deliver_one(self, data: st.DataObject, keep_a_copy: bool) -> None:
        """Any pending event arrives (so the others are late or dropped for now); with
        ``keep_a_copy`` the provider will send it again later."""
        event = data.draw(st.sampled_from(self.pending))
        self._apply(event)
        if not keep_a_copy:
            self.pending.remove(event)

    @precondition(lambda self: self.sent)
    @rule(data=st.data())
    def replay_an_old_event(self, data: st.DataObject) -> None:
        event = data.draw(st.sampled_from(self.sent))
        if event not in self.pending:
            assert self.program.apply(event).outcome is Outcome.DUPLICATE

    @precondition(lambda self: self.pending)
    @rule(data=st.data())
    def delivery_fails_inside_the_transaction(self, data: st.DataObject) -> None:
        event = data.draw(st.sampled_from(self.pending))
        before = store_state(self.store), dict(self.store.inbox.results)
        calls = len(self.recorder.calls)
        assert isinstance(self.store.memberships, FlakyMemberships)
        self.store.memberships.armed = True
        try:
            result = self.program.apply(event)
        except InjectedFault:
            # All or nothing: not even the event is recorded, so its retry applies it.
            assert (store_state(self.store), dict(self.store.inbox.results)) == before
            assert len(self.recorder.calls) == calls
        else:
            # Nothing was written, so nothing could fail: a duplicate or a stale snapshot.
            assert result.outcome in (Outcome.DUPLICATE, Outcome.STALE)
        finally:
            self.store.memberships.armed = False

    def _apply(self, event: BillingEvent) -> None:
        result = self.program.apply(event)
        assert result.outcome is not Outcome.IGNORED, result.detail
        if result.outcome is Outcome.APPLIED:
            assert event.subscription is not None
            self.applied.setdefault(event.subscription.id, []).append(event.subscription.version)

    # -- what must always hold ------------------------------------------------------------
    @invariant()
    def no_stale_snapshot_overwrites_a_newer_one(self) -> None:
        for versions in self.applied.values():
            assert versions == sorted(set(versions))

    @invariant()
    def hooks_fire_once_per_applied_change(self) -> None:
        fired = [
            (kwargs["membership"].provider_subscription_id, kwargs["membership"].version[0], name)
            for name, kwargs in self.recorder.calls
            if name in LIFECYCLE
        ]
        assert len(fired) == len(set(fired))
        expected = []
        for truth in self.subs:
            sub_id = f"sub_{truth.index}"
            previous: Membership | None = None
            for version in self.applied.get(sub_id, []):
                after = self._membership(truth, version)
                hook = Transition(previous, after).hook
                if hook is not None:
                    expected.append((sub_id, version, hook))
                previous = after
        assert sorted(fired) == sorted(expected)

    @invariant()
    def once_everything_arrived_the_state_is_the_providers(self) -> None:
        if not self.pending:
            self._assert_converged()

    def teardown(self) -> None:
        # The provider keeps redelivering until every event got through.
        for event in list(self.pending):
            self._apply(event)
        self.pending.clear()
        self._assert_converged()
        self.hooks_fire_once_per_applied_change()

    def _assert_converged(self) -> None:
        for truth in self.subs:
            stored = self.store.memberships.by_provider_id(PROVIDER, f"sub_{truth.index}")
            assert stored is not None
            want = self._membership(truth, truth.version)
            got = (
                stored.status,
                stored.tier,
                stored.current_period_end,
                stored.cancel_at_period_end,
                stored.version[0],
            )
            assert got == (
                want.status,
                want.tier,
                want.current_period_end,
                want.cancel_at_period_end,
                truth.version,
            )

    def _membership(self, truth: Truth, version: int) -> Membership:
        sub = truth.states[version]
        price = self.program.catalog.price_for_provider(PROVIDER, sub.price)
        assert price is not None
        assert price.tier is not None
        return Membership(
            id="",
            member_id=f"member_{truth.index}",
            tier=price.tier,
            status=sub.status,
            provider=PROVIDER,
            current_period_end=sub.period_end,
            cancel_at_period_end=sub.cancel_at_period_end,
            version=(version, ""),
        )


ChaoticDelivery.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_chaotic_delivery_converges = ChaoticDelivery.TestCase


def test_a_failure_inside_the_transaction_keeps_nothing() -> None:
    machine = ChaoticDelivery()
    machine.subscribe(Status.ACTIVE, PRICES[0])
    assert isinstance(machine.store.memberships, FlakyMemberships)
    machine.store.memberships.armed = True
    with pytest.raises(InjectedFault):
        machine.program.apply(machine.pending[0])
    assert not machine.store.memberships.rows
    assert machine.program.apply(machine.pending[0]).outcome is Outcome.APPLIED
