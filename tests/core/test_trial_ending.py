"""``membership_trial_ending``: a hook an adapter fires when a trial is about to end.

The core does not watch the clock, so no billing event fires this hook by itself; an
adapter's scheduled job calls it for each trial it finds ending soon.
"""

from __future__ import annotations

import pluggy
import pytest

from membership_sdk import BillingEvent, Membership, MembershipProgram, Status, hookimpl
from membership_sdk.providers.fake import FakeProvider
from membership_sdk.testing import sample_catalog, sample_program


class TrialReminders:
    def __init__(self) -> None:
        self.calls: list[tuple[Membership, BillingEvent | None]] = []

    @hookimpl
    def membership_trial_ending(self, membership: Membership, event: BillingEvent | None) -> None:
        self.calls.append((membership, event))


def _trialing_program(plugin: object) -> tuple[MembershipProgram, Membership]:
    program = sample_program(
        sample_catalog("fake", monthly="fake_gold", trial_days=14), plugins=[plugin]
    )
    fake = program.providers["fake"]
    assert isinstance(fake, FakeProvider)
    session = program.start_checkout(
        "member-1",
        "gold-monthly",
        provider="fake",
        success_url="https://site.example/ok",
        cancel_url="https://site.example/no",
    )
    webhook = fake.complete_checkout(session.id)
    program.handle_webhook("fake", webhook.headers, webhook.body)
    (membership,) = program.store.memberships.for_member("member-1")
    return program, membership


def test_a_trial_ending_plugin_receives_the_trialing_membership() -> None:
    reminders = TrialReminders()
    program, membership = _trialing_program(reminders)

    program.pm.hook.membership_trial_ending(membership=membership, event=None)

    assert reminders.calls == [(membership, None)]
    assert membership.status is Status.TRIALING
    assert membership.trial_end is not None


def test_applying_billing_events_never_fires_trial_ending_by_itself() -> None:
    reminders = TrialReminders()

    _trialing_program(reminders)

    assert reminders.calls == []


def test_a_trial_ending_hookimpl_with_an_unknown_argument_is_refused() -> None:
    class Misspelt:
        @hookimpl
        def membership_trial_ending(self, membership: Membership, days_left: int) -> None:
            """Asks for an argument the hook does not pass."""

    with pytest.raises(pluggy.PluginValidationError, match="days_left"):
        sample_program(sample_catalog("fake", monthly="fake_gold"), plugins=[Misspelt()])
