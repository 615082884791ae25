"""Applying billing events: idempotent, order-safe, never crashing on foreign input."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sdk_builders import NOW, HookRecorder, full_state, make_catalog, purchase_event, sub_event

from membership_sdk import (
    BillingEvent,
    EventType,
    GrantKind,
    MalformedEvent,
    MembershipProgram,
    MemoryStore,
    Outcome,
    PurchaseState,
    Status,
)


def only_membership(program: MembershipProgram) -> object:
    store = program.store
    assert isinstance(store, MemoryStore)
    (membership,) = store.memberships.rows.values()
    return membership


def test_a_new_subscription_creates_a_membership_for_the_member(
    program: MembershipProgram,
) -> None:
    result = program.apply(sub_event("evt_1", version=1, type=EventType.SUBSCRIPTION_CREATED))
    assert result.outcome is Outcome.APPLIED
    (membership,) = program.store.memberships.for_member("alice")
    assert result.membership_id == membership.id
    assert (membership.tier, membership.price_id, membership.status) == (
        "premium",
        "premium-monthly",
        Status.ACTIVE,
    )
    assert (membership.provider, membership.provider_subscription_id) == ("acme", "sub_1")
    assert membership.started_at == NOW - timedelta(days=1)


def test_the_customer_is_linked_to_the_member_by_the_first_event(
    program: MembershipProgram,
) -> None:
    program.apply(sub_event("evt_1", version=1))
    assert program.store.customers.member_for("acme", "cus_1") == "alice"
    later = sub_event("evt_2", version=2, sub_id="sub_2", member_id=None, price="p_basic")
    assert program.apply(later).outcome is Outcome.APPLIED
    assert len(program.store.memberships.for_member("alice")) == 2


def test_without_a_start_date_the_membership_starts_when_the_event_occurred(
    program: MembershipProgram,
) -> None:
    program.apply(sub_event("evt_1", version=1, started_at=None))
    (membership,) = program.store.memberships.for_member("alice")
    assert membership.started_at == NOW


def test_a_newer_snapshot_updates_the_membership(program: MembershipProgram) -> None:
    program.apply(sub_event("evt_1", version=1))
    program.apply(sub_event("evt_2", version=2, status=Status.PAST_DUE, price="p_basic"))
    (membership,) = program.store.memberships.for_member("alice")
    assert (membership.status, membership.tier, membership.version) == (
        Status.PAST_DUE,
        "basic",
        (2, "evt_2"),
    )


def test_the_same_event_twice_is_a_duplicate_and_changes_nothing(
    program: MembershipProgram, hooks: HookRecorder
) -> None:
    event = sub_event("evt_1", version=1)
    program.apply(event)
    store = program.store
    assert isinstance(store, MemoryStore)
    before, calls = full_state(store), len(hooks.calls)
    result = program.apply(event)
    assert result.outcome is Outcome.DUPLICATE
    assert full_state(store) == before
    assert len(hooks.calls) == calls


def test_an_older_snapshot_arriving_late_is_stale_and_changes_nothing(
    program: MembershipProgram, hooks: HookRecorder
) -> None:
    program.apply(sub_event("evt_2", version=2, status=Status.CANCELED))
    calls = len(hooks.calls)
    result = program.apply(sub_event("evt_1", version=1, status=Status.ACTIVE))
    assert result.outcome is Outcome.STALE
    assert "snapshot 1 is older than stored 2" in result.detail
    assert result.membership_id is not None
    (membership,) = program.store.memberships.for_member("alice")
    assert membership.status is Status.CANCELED
    assert len(hooks.calls) == calls


def test_two_events_with_one_snapshot_version_converge_whatever_their_order(
    catalog: object,
) -> None:
    from sdk_builders import make_program, store_state

    a = sub_event("evt_a", version=3, status=Status.ACTIVE)
    b = sub_event("evt_b", version=3, status=Status.ACTIVE)
    states = []
    for order in ((a, b), (b, a)):
        program = make_program()
        for event in order:
            program.apply(event)
        assert isinstance(program.store, MemoryStore)
        states.append(store_state(program.store))
    assert states[0] == states[1]


def test_an_event_for_an_unknown_customer_is_ignored_with_the_customer_named(
    program: MembershipProgram, hooks: HookRecorder
) -> None:
    result = program.apply(sub_event("evt_1", version=1, customer="cus_x", member_id=None))
    assert result.outcome is Outcome.IGNORED
    assert result.detail == "unknown customer 'cus_x'"
    assert program.store.memberships.for_member("alice") == []
    assert hooks.names() == ["membership_event_ignored"]
    assert hooks.calls[0][1]["result"] is result


def test_an_event_for_a_foreign_price_is_ignored_with_the_price_named(
    program: MembershipProgram, hooks: HookRecorder
) -> None:
    result = program.apply(sub_event("evt_1", version=1, price="p_someone_else"))
    assert result.outcome is Outcome.IGNORED
    assert "foreign price 'p_someone_else'" in result.detail
    assert hooks.names() == ["membership_event_ignored"]


def test_a_subscription_to_an_item_price_is_ignored(program: MembershipProgram) -> None:
    result = program.apply(sub_event("evt_1", version=1, price="p_ebook"))
    assert result.outcome is Outcome.IGNORED


def test_an_ignored_event_is_remembered_so_a_replay_is_a_duplicate(
    program: MembershipProgram, hooks: HookRecorder
) -> None:
    event = sub_event("evt_1", version=1, price="p_someone_else")
    program.apply(event)
    assert program.apply(event).outcome is Outcome.DUPLICATE
    assert hooks.names() == ["membership_event_ignored"]


def test_an_invalid_transition_is_ignored_naming_both_states(
    program: MembershipProgram, hooks: HookRecorder
) -> None:
    program.apply(sub_event("evt_1", version=1, status=Status.EXPIRED))
    result = program.apply(sub_event("evt_2", version=2, status=Status.ACTIVE))
    assert result.outcome is Outcome.IGNORED
    assert "cannot move a membership from expired to active" in result.detail
    (membership,) = program.store.memberships.for_member("alice")
    assert membership.status is Status.EXPIRED
    assert hooks.names()[-1] == "membership_event_ignored"


def test_an_unknown_provider_status_is_stored_as_unknown_and_denies_access(
    program: MembershipProgram,
) -> None:
    from membership_sdk import MinTier, Resource

    program.apply(sub_event("evt_1", version=1))
    program.apply(sub_event("evt_2", version=2, status="on_fire"))
    (membership,) = program.store.memberships.for_member("alice")
    assert membership.status is Status.UNKNOWN
    assert not program.access(Resource("page:1", MinTier("basic")), "alice").allowed


@pytest.mark.parametrize("bad", [None, "evt_1", {"id": "evt_1"}])
def test_applying_something_that_is_not_an_event_raises_malformed_event(
    program: MembershipProgram, bad: object
) -> None:
    with pytest.raises(MalformedEvent, match="expected a BillingEvent"):
        program.apply(bad)  # type: ignore[arg-type]


def test_an_event_needs_a_provider_and_an_id() -> None:
    with pytest.raises(MalformedEvent, match="non-empty id, got ''"):
        sub_event("", version=1)
    with pytest.raises(MalformedEvent, match="non-empty provider"):
        sub_event("evt_1", version=1, provider="")


def test_an_event_carries_exactly_one_snapshot() -> None:
    with pytest.raises(MalformedEvent, match="acme:evt_1 must carry exactly one"):
        BillingEvent("acme", "evt_1", EventType.SUBSCRIPTION_UPDATED, NOW)
    sub = sub_event("x", version=1).subscription
    purchase = purchase_event("y").purchase
    with pytest.raises(MalformedEvent, match="exactly one"):
        BillingEvent(
            "acme",
            "evt_1",
            EventType.SUBSCRIPTION_UPDATED,
            NOW,
            subscription=sub,
            purchase=purchase,
        )


def test_an_event_time_must_be_timezone_aware() -> None:
    with pytest.raises(MalformedEvent, match="occurred_at must be an aware datetime"):
        sub_event("evt_1", version=1, occurred_at=NOW.replace(tzinfo=None))


def test_an_event_names_its_customer() -> None:
    assert sub_event("e", version=1, customer="cus_9").customer_id == "cus_9"
    assert purchase_event("e", customer="cus_8").customer_id == "cus_8"


# -- one-off purchases ----------------------------------------------------------------------
def test_a_paid_purchase_grants_the_item(program: MembershipProgram, hooks: HookRecorder) -> None:
    assert program.apply(purchase_event("evt_1")).outcome is Outcome.APPLIED
    (grant,) = program.store.grants.for_member("alice")
    assert (grant.kind, grant.item, grant.source, grant.starts_at) == (
        GrantKind.PURCHASE,
        "ebook:python",
        "acme:pi_1",
        NOW,
    )
    assert "ebook:python" in program.context("alice").purchases
    assert hooks.names() == ["membership_grant_changed"]


def test_a_refund_revokes_the_purchase(program: MembershipProgram) -> None:
    program.apply(purchase_event("evt_1"))
    later = NOW + timedelta(hours=1)
    program.apply(
        purchase_event("evt_2", version=2, state=PurchaseState.REFUNDED, occurred_at=later)
    )
    (grant,) = program.store.grants.for_member("alice")
    assert grant.revoked_at == later
    program.clock = lambda: later
    assert program.context("alice").purchases == frozenset()


def test_a_refund_arriving_before_the_payment_leaves_the_item_revoked(
    program: MembershipProgram,
) -> None:
    refund = purchase_event("evt_2", version=2, state=PurchaseState.REFUNDED)
    assert program.apply(refund).outcome is Outcome.APPLIED
    result = program.apply(purchase_event("evt_1", version=1))
    assert result.outcome is Outcome.STALE
    (grant,) = program.store.grants.for_member("alice")
    assert grant.revoked_at == NOW


def test_a_purchase_of_a_foreign_price_is_ignored(program: MembershipProgram) -> None:
    result = program.apply(purchase_event("evt_1", price="p_other"))
    assert (result.outcome, result.detail) == (Outcome.IGNORED, "foreign price 'p_other'")


def test_a_purchase_by_an_unknown_customer_is_ignored(program: MembershipProgram) -> None:
    result = program.apply(purchase_event("evt_1", member_id=None, customer="cus_z"))
    assert (result.outcome, result.detail) == (Outcome.IGNORED, "unknown customer 'cus_z'")
    assert program.store.grants.for_member("alice") == []


def test_a_one_off_tier_purchase_grants_the_tier(program: MembershipProgram) -> None:
    from sdk_builders import PROVIDER

    from membership_sdk import Catalog, Interval, Price, Tier

    catalog = Catalog(
        tiers=[Tier("pass", "Day pass", rank=1)],
        prices=[
            Price(
                "pass", 300, "EUR", Interval.ONE_OFF, tier="pass", provider_ids={PROVIDER: "p_pass"}
            )
        ],
    )
    from sdk_builders import make_program

    local = make_program(catalog)
    local.apply(purchase_event("evt_1", price="p_pass"))
    assert local.context("alice").tiers == {"pass"}


# -- what was paid: past due, renewals --------------------------------------------------------


def test_past_due_after_a_new_period_began_keeps_access_only_to_the_paid_periods_end_plus_grace(
    program: MembershipProgram,
) -> None:
    paid_end = NOW + timedelta(days=30)
    new_end = paid_end + timedelta(days=30)
    program.apply(sub_event("evt_1", version=1, type=EventType.PAYMENT_SUCCEEDED))
    program.apply(sub_event("evt_2", version=2, period_end=new_end))
    program.apply(sub_event("evt_3", version=3, status=Status.PAST_DUE, period_end=new_end))
    (membership,) = program.store.memberships.for_member("alice")
    assert membership.paid_through == paid_end
    assert membership.grants_access(paid_end + timedelta(days=2), program.grace)
    assert not membership.grants_access(paid_end + program.grace, program.grace)


def test_a_subscription_left_past_due_gets_no_new_grace_when_its_period_rolls_on(
    program: MembershipProgram,
) -> None:
    # Stripe's "leave the subscription past-due": January paid (through Feb 1), the
    # February charge failed, and on Mar 1 the period rolls on, still unpaid.
    feb, mar, apr = NOW + timedelta(days=31), NOW + timedelta(days=59), NOW + timedelta(days=90)
    program.apply(sub_event("evt_1", version=1, period_end=feb, paid_through=feb))
    program.apply(
        sub_event("evt_2", version=2, status=Status.PAST_DUE, period_end=mar, unpaid_since=feb)
    )
    program.apply(
        sub_event("evt_3", version=3, status=Status.PAST_DUE, period_end=apr, unpaid_since=mar)
    )
    (membership,) = program.store.memberships.for_member("alice")
    assert membership.paid_through == feb
    assert not membership.grants_access(mar + timedelta(days=1), program.grace)


def test_a_past_due_trial_with_no_payment_gives_grace_from_where_the_unpaid_period_began(
    program: MembershipProgram,
) -> None:
    trial_end, period_end = NOW + timedelta(days=14), NOW + timedelta(days=44)
    program.apply(sub_event("evt_1", version=1, status=Status.TRIALING, period_end=trial_end))
    program.apply(
        sub_event(
            "evt_2",
            version=2,
            status=Status.PAST_DUE,
            period_end=period_end,
            unpaid_since=trial_end,
        )
    )
    (membership,) = program.store.memberships.for_member("alice")
    assert membership.paid_through == trial_end
    assert membership.grants_access(trial_end + timedelta(days=1), program.grace)
    assert not membership.grants_access(trial_end + program.grace, program.grace)


def test_paying_a_past_due_subscription_moves_paid_through_to_what_the_payment_covered(
    program: MembershipProgram,
) -> None:
    feb, mar = NOW + timedelta(days=31), NOW + timedelta(days=59)
    program.apply(sub_event("evt_1", version=1, period_end=feb, paid_through=feb))
    program.apply(
        sub_event("evt_2", version=2, status=Status.PAST_DUE, period_end=mar, unpaid_since=feb)
    )
    program.apply(
        sub_event(
            "evt_3", version=3, period_end=mar, paid_through=mar, type=EventType.PAYMENT_SUCCEEDED
        )
    )
    (membership,) = program.store.memberships.for_member("alice")
    assert membership.status is Status.ACTIVE
    assert membership.paid_through == mar


def test_a_late_payment_event_is_stale_and_changes_nothing(program: MembershipProgram) -> None:
    program.apply(sub_event("evt_2", version=2, status=Status.PAST_DUE))
    late = program.apply(
        sub_event(
            "evt_1",
            version=1,
            type=EventType.PAYMENT_SUCCEEDED,
            paid_through=NOW + timedelta(days=60),
        )
    )
    assert late.outcome is Outcome.STALE
    (membership,) = program.store.memberships.for_member("alice")
    assert membership.paid_through is None


def test_an_older_payment_never_moves_paid_through_back(program: MembershipProgram) -> None:
    later = NOW + timedelta(days=60)
    program.apply(sub_event("evt_1", version=1, paid_through=later))
    program.apply(sub_event("evt_2", version=2, paid_through=NOW + timedelta(days=30)))
    (membership,) = program.store.memberships.for_member("alice")
    assert membership.paid_through == later


@pytest.mark.parametrize("setting", ["on_refund", "on_dispute_lost"])
def test_a_refund_policy_the_sdk_does_not_know_is_refused_naming_it(setting: str) -> None:
    from membership_sdk import MembershipError

    with pytest.raises(MembershipError, match=rf"{setting} must be one of .*'revoke'"):
        MembershipProgram(make_catalog(), MemoryStore(), **{setting: "revoke"})


def test_a_lost_chargeback_naming_only_the_payment_revokes_the_purchase(
    program: MembershipProgram,
) -> None:
    program.apply(purchase_event("evt_1"))
    assert "ebook:python" in program.context("alice").purchases
    chargeback = purchase_event(
        "evt_2",
        version=2,
        state=PurchaseState.CHARGED_BACK,
        customer="",
        price="",
        member_id=None,
        paid_at=None,
    )
    assert program.apply(chargeback).outcome is Outcome.APPLIED
    assert "ebook:python" not in program.context("alice").purchases


def test_a_chargeback_of_a_payment_this_site_never_saw_is_ignored_naming_it(
    program: MembershipProgram,
) -> None:
    chargeback = purchase_event(
        "evt_1", state=PurchaseState.CHARGED_BACK, purchase_id="pi_other", customer="", price=""
    )
    result = program.apply(chargeback)
    assert result.outcome is Outcome.IGNORED
    assert "pi_other" in result.detail
