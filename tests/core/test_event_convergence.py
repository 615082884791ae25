"""Invariant 2: billing events converge.

Any sequence of billing events, duplicated and shuffled, leaves the same final state as
applying each once in order. Lifecycles are generated the way providers report them:
each event carries the subscription's latest state at a strictly increasing version,
its start date, and the member it belongs to (as the built-in providers' events do,
from the checkout's metadata). Two known limits sit outside this property: an event
for a customer no event has linked yet is ignored *and remembered*, so a replay of it
cannot apply later; and a snapshot without a start date leaves the membership starting
at whichever of its events was applied first.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sdk_builders import NOW, make_program, purchase_event, store_state, sub_event

from membership_sdk import BillingEvent, EventType, MemoryStore, Outcome, PurchaseState, Status

PRICES = ("p_basic", "p_premium", "p_premium_y")
S = Status


@dataclass(frozen=True)
class Sub:
    """One subscription's state as its provider would report it."""

    status: Status
    price: str
    period_end: datetime
    cancel_at_period_end: bool = False
    canceled_at: datetime | None = None


def next_states(sub: Sub) -> list[tuple[str, Sub]]:
    """What can happen next to ``sub`` in a real lifecycle, by name."""
    month = timedelta(days=30)
    later = sub.period_end + month
    if sub.status is S.INCOMPLETE:
        return [
            ("pays", replace(sub, status=S.ACTIVE)),
            ("expires", replace(sub, status=S.EXPIRED)),
        ]
    if sub.status is S.TRIALING:
        return [
            ("converts", replace(sub, status=S.ACTIVE, period_end=later)),
            ("payment fails", replace(sub, status=S.PAST_DUE)),
            ("cancels", replace(sub, status=S.CANCELED, canceled_at=sub.period_end)),
        ]
    if sub.status is S.ACTIVE:
        options = [
            ("renews", replace(sub, period_end=later)),
            ("payment fails", replace(sub, status=S.PAST_DUE)),
            ("pauses", replace(sub, status=S.PAUSED)),
            ("cancels now", replace(sub, status=S.CANCELED, canceled_at=sub.period_end - month)),
        ]
        options += [
            (f"changes price to {p}", replace(sub, price=p)) for p in PRICES if p != sub.price
        ]
        if sub.cancel_at_period_end:
            options += [
                ("resumes", replace(sub, cancel_at_period_end=False)),
                ("period ends", replace(sub, status=S.CANCELED, canceled_at=sub.period_end)),
            ]
        else:
            options.append(("cancels at period end", replace(sub, cancel_at_period_end=True)))
        return options
    if sub.status is S.PAST_DUE:
        return [
            ("recovers", replace(sub, status=S.ACTIVE, period_end=later)),
            ("retries fail", sub),
            ("canceled for non-payment", replace(sub, status=S.CANCELED, canceled_at=later)),
            ("expires", replace(sub, status=S.EXPIRED)),
        ]
    if sub.status is S.PAUSED:
        return [("unpauses", replace(sub, status=S.ACTIVE, period_end=later))]
    if sub.status is S.CANCELED:
        return [("expires", replace(sub, status=S.EXPIRED))]
    return []


@st.composite
def subscription_history(draw: st.DrawFn, n: int) -> list[BillingEvent]:
    """The events of one subscription, in the order the provider sent them."""
    start = draw(st.sampled_from([S.INCOMPLETE, S.TRIALING, S.ACTIVE]))
    sub = Sub(start, draw(st.sampled_from(PRICES)), NOW + timedelta(days=30))
    started_at = NOW - timedelta(days=draw(st.integers(0, 400)))
    version = draw(st.integers(1, 5))
    events: list[BillingEvent] = []
    for step in range(draw(st.integers(1, 8))):
        copies = draw(st.integers(1, 2))  # a provider may send two events for one change
        for copy in range(copies):
            events.append(
                sub_event(
                    f"evt_{n}_{step}_{copy}",
                    version=version,
                    status=sub.status,
                    sub_id=f"sub_{n}",
                    customer=f"cus_{n}",
                    member_id=f"member_{n % 2}",
                    price=sub.price,
                    period_end=sub.period_end,
                    started_at=started_at,
                    cancel_at_period_end=sub.cancel_at_period_end,
                    canceled_at=sub.canceled_at,
                    type=EventType.SUBSCRIPTION_CREATED
                    if step == 0
                    else EventType.SUBSCRIPTION_UPDATED,
                    occurred_at=NOW + timedelta(minutes=step),
                )
            )
        options = next_states(sub)
        if not options:
            break
        _, sub = draw(st.sampled_from(options))
        version += draw(st.integers(1, 3))
    return events


@st.composite
def purchase_history(draw: st.DrawFn, n: int) -> list[BillingEvent]:
    """A one-off payment, perhaps refunded later."""
    paid = purchase_event(
        f"evt_pi_{n}_paid",
        purchase_id=f"pi_{n}",
        customer=f"cus_pi_{n}",
        member_id=f"member_{n % 2}",
        version=1,
    )
    if not draw(st.booleans()):
        return [paid]
    refunded = purchase_event(
        f"evt_pi_{n}_refunded",
        purchase_id=f"pi_{n}",
        customer=f"cus_pi_{n}",
        member_id=f"member_{n % 2}",
        version=2,
        state=PurchaseState.REFUNDED,
        occurred_at=NOW + timedelta(days=1),
    )
    return [paid, refunded]


@st.composite
def billing_histories(draw: st.DrawFn) -> list[BillingEvent]:
    """Several subscriptions' and purchases' events, interleaved in sending order."""
    histories = [draw(subscription_history(n)) for n in range(draw(st.integers(1, 4)))]
    histories += [draw(purchase_history(n)) for n in range(draw(st.integers(0, 2)))]
    # Interleave, keeping each history's own order: that is the order a provider sends.
    seed = draw(st.integers(0, 2**32 - 1))
    rng = random.Random(seed)
    queues = [list(h) for h in histories]
    ordered: list[BillingEvent] = []
    while any(queues):
        queue = rng.choice([q for q in queues if q])
        ordered.append(queue.pop(0))
    return ordered


def final_state(events: list[BillingEvent]) -> tuple[dict[str, object], list[Outcome]]:
    program = make_program()
    outcomes = [program.apply(event).outcome for event in events]
    assert isinstance(program.store, MemoryStore)
    return store_state(program.store), outcomes


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=billing_histories(), data=st.data())
def test_duplicated_and_shuffled_events_converge_to_the_in_order_state(
    events: list[BillingEvent], data: st.DataObject
) -> None:
    expected, in_order = final_state(events)
    assert Outcome.IGNORED not in in_order

    duplicated = events + data.draw(st.lists(st.sampled_from(events), max_size=len(events)))
    shuffled = data.draw(st.permutations(duplicated))
    actual, outcomes = final_state(shuffled)

    assert actual == expected
    assert Outcome.IGNORED not in outcomes
    assert outcomes.count(Outcome.DUPLICATE) == len(duplicated) - len(events)


@settings(max_examples=100, deadline=None)
@given(events=billing_histories())
def test_replaying_every_event_again_changes_nothing(events: list[BillingEvent]) -> None:
    program = make_program()
    for event in events:
        program.apply(event)
    assert isinstance(program.store, MemoryStore)
    before = store_state(program.store)
    assert {program.apply(event).outcome for event in events} == {Outcome.DUPLICATE}
    assert store_state(program.store) == before
