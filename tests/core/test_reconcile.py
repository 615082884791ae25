"""Reconciling a program's memberships with the ``fake`` provider's subscriptions."""

from __future__ import annotations

from typing import Any

import pytest
from sdk_builders import Clock, StubProvider, fake_of, full_state, paid_without_webhook

from membership_sdk import (
    MembershipProgram,
    MemoryStore,
    ProviderError,
    Status,
)
from membership_sdk.errors import ReconcileError, ReconcileInterrupted
from membership_sdk.providers.fake import FakeProvider
from membership_sdk.reconcile import (
    CREATED,
    FOREIGN_PRICE,
    NOT_REPAIRED,
    UNCHANGED,
    UNKNOWN_CUSTOMER,
    UPDATED,
    VANISHED,
    Finding,
    ReconcileState,
    reconcile,
)
from membership_sdk.testing import sample_catalog, sample_program


@pytest.fixture
def program(clock: Clock) -> MembershipProgram:
    catalog = sample_catalog("fake", monthly="fake_gold_m")
    program = sample_program(catalog, config={"fake": {"clock": clock}})
    program.clock = clock
    return program


@pytest.fixture
def fake(program: MembershipProgram) -> FakeProvider:
    return fake_of(program)


def subscribed(program: MembershipProgram, fake: FakeProvider, member: str) -> str:
    """``member`` subscribes and the site hears of it. Returns the subscription id."""
    session = program.start_checkout(
        member, "gold-monthly", provider="fake", success_url="/ok", cancel_url="/no"
    )
    webhook = fake.complete_checkout(session.id)
    program.handle_webhook("fake", webhook.headers, webhook.body)
    return fake.checkout(session.id).result or ""


def status(program: MembershipProgram, subscription_id: str) -> Status | None:
    found = program.store.memberships.by_provider_id("fake", subscription_id)
    return found.status if found is not None else None


def run(program: MembershipProgram, **options: Any) -> tuple[ReconcileState, list[Finding]]:
    """Reconcile with ``fake``; returns the final state and every finding reported."""
    findings: list[Finding] = []
    state = reconcile(program, "fake", report=findings.append, **options)
    return state, findings


def test_a_subscription_whose_webhook_was_lost_is_created(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    sub = paid_without_webhook(program, fake, "ann")

    state, findings = run(program)

    assert findings == [Finding(CREATED, sub, "ann", "gold (active)")]
    (membership,) = program.store.memberships.for_member("ann")
    assert (membership.tier, membership.status) == ("gold", Status.ACTIVE)
    assert state.counts == {CREATED: 1}


def test_a_membership_whose_expiry_webhook_was_lost_is_updated(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    sub = subscribed(program, fake, "ann")
    fake.expire(sub)  # its webhook is lost

    _, findings = run(program)

    assert [(f.outcome, f.detail.split(";")[0]) for f in findings] == [
        (UPDATED, "status active -> expired")
    ]
    assert status(program, sub) is Status.EXPIRED


def test_the_repair_is_applied_as_a_reconcile_event(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    sub = paid_without_webhook(program, fake, "ann")

    run(program)

    assert program.store.inbox.seen("fake", f"reconcile:{sub}:1")


def test_a_membership_that_matches_the_provider_is_unchanged(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    sub = subscribed(program, fake, "ann")
    before = program.store.memberships.by_provider_id("fake", sub)

    _, findings = run(program)

    assert findings == [Finding(UNCHANGED, sub, "ann")]
    assert program.store.memberships.by_provider_id("fake", sub) == before


def test_a_subscription_of_an_unknown_customer_is_reported_and_not_stored(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    sub = paid_without_webhook(program, fake, "ann")
    fake.subscriptions[sub].member_id = None  # made in the provider's dashboard, say

    _, findings = run(program)

    assert [(f.outcome, f.subscription_id) for f in findings] == [(UNKNOWN_CUSTOMER, sub)]
    assert status(program, sub) is None


def test_a_subscription_to_a_price_the_catalog_lacks_is_foreign_and_not_stored(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    sub = paid_without_webhook(program, fake, "ann")
    fake.subscriptions[sub].price = "another_shops_price"

    _, findings = run(program)

    assert findings == [
        Finding(FOREIGN_PRICE, sub, None, "price 'another_shops_price' is not in the catalog")
    ]
    assert status(program, sub) is None


def test_a_live_membership_whose_subscription_vanished_is_canceled(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    sub = subscribed(program, fake, "ann")
    del fake.subscriptions[sub]

    state, findings = run(program)

    (finding,) = findings
    assert (finding.outcome, finding.subscription_id) == (VANISHED, sub)
    assert finding.detail.endswith("fake has no such subscription; canceled, access ends now")
    assert status(program, sub) is Status.CANCELED
    assert state.unlisted_checked


def test_more_vanished_subscriptions_than_allowed_end_none(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    subs = [subscribed(program, fake, member) for member in ("ann", "bob")]
    for sub in subs:
        del fake.subscriptions[sub]

    state, findings = run(program, max_vanished=1)

    assert state.too_many_vanished == 2
    assert [f.outcome for f in findings] == [NOT_REPAIRED, NOT_REPAIRED]
    assert all(f.detail.endswith("too many vanished") for f in findings)
    assert [status(program, sub) for sub in subs] == [Status.ACTIVE, Status.ACTIVE]


def test_refusing_too_many_vanished_says_how_many_in_words_for_any_caller(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    for member in ("ann", "bob"):
        del fake.subscriptions[subscribed(program, fake, member)]

    state, _ = run(program, max_vanished=1)

    assert state.refused == (
        "2 live membership(s) have no subscription at fake, more than the limit of 1; "
        "none was ended. Check that the provider's settings name the right account, "
        "then run again with a limit of at least 2"
    )
    assert "--" not in state.refused, "a command-line flag is the command's to name"


def test_vanished_within_the_limit_leave_the_refusal_empty(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    del fake.subscriptions[subscribed(program, fake, "ann")]

    state, _ = run(program, max_vanished=1)

    assert (state.too_many_vanished, state.refused) == (0, "")


def test_a_dry_run_reports_what_would_change_and_changes_nothing(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    lost = paid_without_webhook(program, fake, "ann")
    gone = subscribed(program, fake, "bob")
    del fake.subscriptions[gone]
    store = program.store
    assert isinstance(store, MemoryStore)
    before = full_state(store)

    _, findings = run(program, dry_run=True)

    assert [(f.outcome, f.subscription_id) for f in findings] == [(CREATED, lost), (VANISHED, gone)]
    assert findings[1].detail.endswith("would be canceled")
    assert full_state(store) == before


def test_a_dry_run_never_saves_a_position(program: MembershipProgram, fake: FakeProvider) -> None:
    for member in ("ann", "bob"):
        paid_without_webhook(program, fake, member)
    saved: list[ReconcileState | None] = []

    run(program, dry_run=True, page_size=1, checkpoint=saved.append)

    assert saved == []


def test_a_resumed_run_ends_nothing_that_vanished(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    sub = subscribed(program, fake, "ann")
    del fake.subscriptions[sub]

    state, findings = run(program, resume_from=ReconcileState("fake"))

    assert findings == []
    assert status(program, sub) is Status.ACTIVE
    assert not state.unlisted_checked


def test_a_resumed_run_lists_from_the_saved_cursor_and_keeps_counting(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    first, second = sorted(paid_without_webhook(program, fake, m) for m in ("ann", "bob"))
    saved = ReconcileState("fake", cursor=first, seen=1)
    saved.counts[CREATED] = 1

    state, findings = run(program, resume_from=saved)

    assert [f.subscription_id for f in findings] == [second]
    assert (state.seen, state.counts[CREATED]) == (2, 2)


def test_the_position_is_saved_before_the_first_page_and_after_every_page_but_the_last(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    first, second, _ = sorted(paid_without_webhook(program, fake, m) for m in ("a", "b", "c"))
    saved: list[Any] = []

    def checkpoint(state: ReconcileState | None) -> None:
        saved.append(state.to_dict()["cursor"] if state is not None else "done")

    run(program, page_size=1, checkpoint=checkpoint)

    assert saved == [None, first, second, "done"]


def test_a_completed_listing_checkpoints_none(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    paid_without_webhook(program, fake, "ann")
    saved: list[ReconcileState | None] = []

    run(program, checkpoint=saved.append)

    assert saved[-1] is None


def test_an_interrupted_listing_raises_carrying_the_state_to_resume_from(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    first, _ = sorted(paid_without_webhook(program, fake, m) for m in ("ann", "bob"))
    saved: list[ReconcileState | None] = []

    def outage_after_the_first(finding: Finding) -> None:
        fake.simulate_outage()

    with pytest.raises(ReconcileInterrupted, match="unreachable after 1 subscription") as caught:
        reconcile(
            program,
            "fake",
            page_size=1,
            report=outage_after_the_first,
            checkpoint=saved.append,
        )

    assert (caught.value.state.cursor, caught.value.state.seen) == (first, 1)
    assert isinstance(caught.value.__cause__, ProviderError)
    assert caught.value.error is caught.value.__cause__
    assert saved[-1] is caught.value.state


def test_an_interrupted_listing_ends_nothing_that_vanished(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    sub = subscribed(program, fake, "ann")
    del fake.subscriptions[sub]
    fake.simulate_outage()

    with pytest.raises(ReconcileInterrupted):
        reconcile(program, "fake")

    assert status(program, sub) is Status.ACTIVE


def test_a_provider_nobody_registered_is_refused_by_name(program: MembershipProgram) -> None:
    with pytest.raises(ReconcileError, match="no payment provider 'acme' is registered"):
        reconcile(program, "acme")


class Unlisted(StubProvider):
    """A provider that cannot list its subscriptions."""

    name = "unlisted"


def test_a_provider_that_cannot_list_its_subscriptions_is_refused() -> None:
    program = sample_program(sample_catalog("unlisted", monthly="m"), plugins=[Unlisted()])

    with pytest.raises(ReconcileError, match="'unlisted' cannot list its subscriptions"):
        reconcile(program, "unlisted")


def test_a_state_of_another_provider_is_refused(program: MembershipProgram) -> None:
    with pytest.raises(ReconcileError, match="belongs to provider 'stripe', not 'fake'"):
        reconcile(program, "fake", resume_from=ReconcileState("stripe"))


# -- the saved state ---------------------------------------------------------------------------


def test_a_saved_state_reads_back() -> None:
    state = ReconcileState("fake", cursor="sub_9", seen=3)
    state.counts[CREATED] = 3

    back = ReconcileState.from_dict(state.to_dict(), "fake")

    assert (back.provider, back.cursor, back.seen, back.counts) == (
        "fake",
        "sub_9",
        3,
        {CREATED: 3},
    )


def test_a_saved_state_of_another_provider_is_refused_naming_both() -> None:
    data = ReconcileState("stripe").to_dict()

    with pytest.raises(
        ReconcileError, match=r"state file 'x\.json' belongs to provider 'stripe', not 'fake'"
    ):
        ReconcileState.from_dict(data, "fake", source="state file 'x.json'")


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ([], "must be a mapping, got list"),
        ({"provider": "fake", "counts": {}, "cursor": 7}, "'cursor' must be a string or null"),
        ({"provider": "fake", "counts": {}, "seen": "3"}, "'seen' must be a count"),
        ({"provider": "fake"}, "'counts' must map outcomes to counts"),
        ({"provider": "fake", "counts": {"created": "1"}}, "'counts' must map outcomes"),
    ],
)
def test_a_saved_state_of_the_wrong_shape_is_refused_naming_what_is_wrong(
    data: object, named: str
) -> None:
    with pytest.raises(ReconcileError, match=named):
        ReconcileState.from_dict(data, "fake")
