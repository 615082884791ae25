"""Lifecycle hooks fire once per real transition, after the change is stored."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sdk_builders import NOW, HookRecorder, fake_of, sub_event

from membership_sdk import EventType, MembershipProgram, Status
from membership_sdk.providers import Webhook
from membership_sdk.testing import sample_catalog, sample_program

END = NOW + timedelta(days=30)
#: A payment report: only a paid renewal fires ``membership_renewed``.
PAID = EventType.PAYMENT_SUCCEEDED


def apply_all(program: MembershipProgram, *steps: dict[str, object]) -> None:
    for n, step in enumerate(steps, start=1):
        program.apply(sub_event(f"evt_{n}", version=n, **step))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        pytest.param([{"status": Status.ACTIVE}], ["membership_activated"], id="created-active"),
        pytest.param(
            [{"status": Status.TRIALING}], ["membership_activated"], id="created-trialing"
        ),
        pytest.param(
            [{"status": Status.INCOMPLETE}, {"status": Status.ACTIVE}],
            ["membership_activated"],
            id="incomplete-then-paid",
        ),
        pytest.param(
            [{"status": Status.TRIALING}, {"status": Status.ACTIVE}],
            ["membership_activated"],
            id="trial-converts-without-a-second-activation",
        ),
        pytest.param(
            [
                {"status": Status.ACTIVE},
                {"status": Status.ACTIVE, "period_end": END + timedelta(30), "type": PAID},
            ],
            ["membership_activated", "membership_renewed"],
            id="renewal",
        ),
        pytest.param(
            [
                {"status": Status.ACTIVE},
                {"status": Status.ACTIVE, "period_end": END + timedelta(30)},
            ],
            ["membership_activated"],
            id="a-new-period-not-paid-yet-is-no-renewal",
        ),
        pytest.param(
            [
                {"status": Status.ACTIVE, "type": PAID},
                {"status": Status.ACTIVE, "period_end": END + timedelta(30)},
                {"status": Status.PAST_DUE, "period_end": END + timedelta(30)},
            ],
            ["membership_activated", "membership_payment_failed"],
            id="period-rolls-then-the-charge-fails",
        ),
        pytest.param(
            [
                {"status": Status.ACTIVE, "type": PAID},
                {"status": Status.ACTIVE, "period_end": END + timedelta(30)},
                {"status": Status.ACTIVE, "period_end": END + timedelta(30), "type": PAID},
            ],
            ["membership_activated", "membership_renewed"],
            id="period-rolls-then-the-charge-succeeds",
        ),
        pytest.param(
            [
                {"status": Status.ACTIVE, "type": PAID},
                {"status": Status.ACTIVE, "type": PAID},
            ],
            ["membership_activated"],
            id="a-second-report-of-the-same-payment-is-no-renewal",
        ),
        pytest.param(
            [{"status": Status.ACTIVE}, {"status": Status.PAST_DUE}],
            ["membership_activated", "membership_payment_failed"],
            id="payment-fails",
        ),
        pytest.param(
            [
                {"status": Status.ACTIVE},
                {"status": Status.PAST_DUE},
                {"status": Status.PAST_DUE},
                {"status": Status.ACTIVE, "period_end": END + timedelta(30), "type": PAID},
            ],
            ["membership_activated", "membership_payment_failed", "membership_renewed"],
            id="dunning-recovers",
        ),
        pytest.param(
            [{"status": Status.ACTIVE}, {"status": Status.CANCELED}],
            ["membership_activated", "membership_canceled"],
            id="canceled-at-once",
        ),
        pytest.param(
            [
                {"status": Status.ACTIVE},
                {"status": Status.ACTIVE, "cancel_at_period_end": True},
                {"status": Status.ACTIVE, "cancel_at_period_end": True},
                {"status": Status.CANCELED, "cancel_at_period_end": True},
            ],
            ["membership_activated", "membership_canceled", "membership_expired"],
            id="cancel-at-period-end-then-it-ends",
        ),
        pytest.param(
            [
                {"status": Status.ACTIVE},
                {"status": Status.ACTIVE, "cancel_at_period_end": True},
                {"status": Status.ACTIVE},
            ],
            ["membership_activated", "membership_canceled"],
            id="resume-fires-nothing-new",
        ),
        pytest.param(
            [{"status": Status.ACTIVE}, {"status": Status.PAUSED}, {"status": Status.ACTIVE}],
            ["membership_activated", "membership_activated"],
            id="pause-and-unpause",
        ),
        pytest.param(
            [{"status": Status.ACTIVE}, {"status": Status.EXPIRED}],
            ["membership_activated", "membership_expired"],
            id="expires",
        ),
        pytest.param(
            [{"status": Status.ACTIVE}, {"status": Status.ACTIVE}],
            ["membership_activated"],
            id="unchanged-snapshot-fires-nothing",
        ),
    ],
)
def test_each_transition_fires_its_hook_once(
    program: MembershipProgram,
    hooks: HookRecorder,
    steps: list[dict[str, object]],
    expected: list[str],
) -> None:
    apply_all(program, *steps)
    assert hooks.names() == expected


def test_hooks_receive_the_stored_membership_and_the_event(
    program: MembershipProgram, hooks: HookRecorder
) -> None:
    event = sub_event("evt_1", version=1)
    program.apply(event)
    [kwargs] = [kw for name, kw in hooks.calls if name == "membership_activated"]
    assert kwargs["event"] is event
    assert kwargs["membership"] == program.store.memberships.for_member("alice")[0]


def test_every_applied_change_tells_caches_that_access_changed(
    program: MembershipProgram, hooks: HookRecorder
) -> None:
    apply_all(program, {"status": Status.ACTIVE}, {"status": Status.ACTIVE})
    changed = [kw for name, kw in hooks.calls if name == "membership_access_changed"]
    assert changed == [{"member_id": "alice"}, {"member_id": "alice"}]


def test_replaying_a_whole_history_fires_nothing_more(
    program: MembershipProgram, hooks: HookRecorder
) -> None:
    steps = [{"status": Status.ACTIVE}, {"status": Status.PAST_DUE}, {"status": Status.CANCELED}]
    apply_all(program, *steps)
    calls = list(hooks.calls)
    apply_all(program, *steps)
    assert hooks.calls == calls


def test_a_hook_that_fails_leaves_the_change_stored(program: MembershipProgram) -> None:
    from membership_sdk import hookimpl

    class Broken:
        @hookimpl
        def membership_activated(self, membership: object, event: object) -> None:
            raise RuntimeError("mail server down")

    program.pm.register(Broken())
    with pytest.raises(RuntimeError, match="mail server down"):
        program.apply(sub_event("evt_1", version=1))
    assert program.store.memberships.for_member("alice")[0].status is Status.ACTIVE


def test_caches_hear_of_the_change_even_when_a_lifecycle_hook_fails(
    program: MembershipProgram, hooks: HookRecorder
) -> None:
    from membership_sdk import hookimpl

    class Broken:
        @hookimpl(tryfirst=True)
        def membership_activated(self, membership: object, event: object) -> None:
            raise RuntimeError("mail server down")

    program.pm.register(Broken())
    with pytest.raises(RuntimeError, match="mail server down"):
        program.apply(sub_event("evt_1", version=1))
    assert ("membership_access_changed", {"member_id": "alice"}) in hooks.calls


def test_on_the_fake_provider_a_failed_renewal_keeps_the_paid_period_plus_grace() -> None:
    recorder = HookRecorder()
    program = sample_program(
        sample_catalog("fake", monthly="fake_gold_m"),
        config={"fake": {"secret": "whsec_test"}},
        plugins=(recorder,),
    )
    fake = fake_of(program)
    session = program.start_checkout(
        "ann", "gold-monthly", provider="fake", success_url="/ok", cancel_url="/no"
    )

    def deliver(hook: Webhook) -> None:
        program.handle_webhook("fake", hook.headers, hook.body)

    deliver(fake.complete_checkout(session.id))
    subscription = fake.checkout(session.id).result or ""
    deliver(fake.renew(subscription))
    deliver(fake.fail_payment(subscription))

    assert recorder.names() == [
        "membership_activated",
        "membership_renewed",
        "membership_payment_failed",
    ]
    (membership,) = program.store.memberships.for_member("ann")
    paid = membership.paid_through
    assert paid is not None
    assert paid == membership.current_period_end
    grace = program.grace
    assert membership.grants_access(paid + grace - timedelta(seconds=1), grace)
    assert not membership.grants_access(paid + grace, grace)
