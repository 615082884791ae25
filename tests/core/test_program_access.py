"""``MembershipProgram.access()``: decide, and record what the decision charges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sdk_builders import Clock, sub_event

from membership_sdk import (
    AnyOf,
    GrantKind,
    HasEntitlement,
    MembershipProgram,
    Metered,
    MinTier,
    Reason,
    Resource,
    Window,
)

METERED = Metered(MinTier("basic"), free=2)


def page(n: int, rule: object = METERED) -> Resource:
    return Resource(f"page:{n}", rule)  # type: ignore[arg-type]


def test_a_free_member_reads_the_metered_allowance_then_meets_the_paywall(
    program: MembershipProgram,
) -> None:
    decisions = [program.access(page(n), "bob") for n in (1, 2, 3)]
    assert [(d.allowed, d.reason, d.remaining) for d in decisions] == [
        (True, Reason.METERED, 1),
        (True, Reason.METERED, 0),
        (False, Reason.METER_EXHAUSTED, 0),
    ]


def test_reading_a_page_again_does_not_use_up_the_meter(program: MembershipProgram) -> None:
    for _ in range(5):
        assert program.access(page(1), "bob").allowed
    assert program.access(page(2), "bob").remaining == 0


def test_only_charged_reads_are_recorded(program: MembershipProgram) -> None:
    program.access(page(1), "bob")
    program.access(page(1), "bob")
    program.access(page(2), "bob")
    usage = program.store.meters.usage("bob", datetime(2000, 1, 1, tzinfo=UTC))
    assert set(usage["articles"]) == {"page:1", "page:2"}


def test_anonymous_reads_are_decided_but_not_recorded(program: MembershipProgram) -> None:
    assert program.access(page(1), None).allowed
    assert program.access(page(2), None).allowed
    assert program.access(page(3), None).allowed  # anonymous usage comes from a cookie
    assert program.store.meters.usage("None", datetime(2000, 1, 1, tzinfo=UTC)) == {}


def test_a_paying_member_is_not_metered(program: MembershipProgram) -> None:
    program.apply(sub_event("evt_1", version=1, member_id="bob"))
    for n in range(5):
        assert program.access(page(n), "bob").reason is Reason.TIER
    assert program.store.meters.usage("bob", datetime(2000, 1, 1, tzinfo=UTC)) == {}


def test_the_meter_refills_when_the_calendar_month_turns(
    program: MembershipProgram, clock: Clock
) -> None:
    program.access(page(1), "bob")
    program.access(page(2), "bob")
    clock.now = datetime(2026, 4, 1, tzinfo=UTC)
    assert program.access(page(3), "bob").reason is Reason.METERED


def test_a_page_reread_next_month_is_charged_once_that_month(
    program: MembershipProgram, clock: Clock
) -> None:
    program.access(page(1), "bob")
    clock.now = datetime(2026, 4, 2, tzinfo=UTC)
    assert program.access(page(1), "bob").charge == "articles"
    clock.advance(days=1)
    again = program.access(page(1), "bob")
    assert (again.allowed, again.charge, again.remaining) == (True, None, 1)
    assert program.access(page(2), "bob").remaining == 0


def test_a_rolling_meter_counts_each_page_once_within_the_window(
    program: MembershipProgram, clock: Clock
) -> None:
    rolling = Metered(MinTier("basic"), free=2, window=Window.rolling(30))
    program.access(page(1, rolling), "bob")
    clock.advance(days=31)
    assert program.access(page(1, rolling), "bob").charge == "articles"
    clock.advance(days=1)
    assert program.access(page(1, rolling), "bob").charge is None
    assert program.access(page(2, rolling), "bob").remaining == 0
    assert program.access(page(3, rolling), "bob").reason is Reason.METER_EXHAUSTED


def test_a_download_quota_is_recorded_per_document(program: MembershipProgram) -> None:
    program.grant("bob", GrantKind.COMP, tier="basic", days=30)  # downloads: 3 per month
    docs = [Resource(f"doc:{n}", HasEntitlement("downloads")) for n in range(4)]
    results = [program.access(doc, "bob") for doc in (*docs[:3], docs[0], docs[3])]
    assert [(d.allowed, d.remaining) for d in results] == [
        (True, 2),
        (True, 1),
        (True, 0),
        (True, 0),
        (False, 0),
    ]
    assert results[-1].reason is Reason.QUOTA_EXHAUSTED


def test_access_of_an_anyof_rule_follows_the_first_rule_that_allows(
    program: MembershipProgram, clock: Clock
) -> None:
    rule = AnyOf(MinTier("premium"), HasEntitlement("content.basic"))
    program.grant("bob", GrantKind.COMP, tier="basic", days=1)
    assert program.access(Resource("page:1", rule), "bob").reason is Reason.ENTITLEMENT
    clock.advance(days=1, seconds=1)
    denied = program.access(Resource("page:1", rule), "bob")
    assert [o.slug for o in denied.offers] == ["premium", "basic"]


def test_context_for_an_anonymous_visitor_holds_nothing(program: MembershipProgram) -> None:
    assert program.context(None).rank == -1


def test_context_uses_given_usage_instead_of_the_store(
    program: MembershipProgram, clock: Clock
) -> None:
    usage = {"articles": {"page:8": clock.now, "page:9": clock.now - timedelta(hours=1)}}
    context = program.context("bob", usage=usage, registered_at=clock.now - timedelta(days=3))
    assert context.usage == usage
    assert context.joined_at == clock.now - timedelta(days=3)
