"""``MembershipProgram.access()``: decide, and reserve what the decision charges, exactly
even when reads run in parallel; drips count from the grant that holds the resource."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sdk_builders import NOW, Clock, purchase_event, sub_event

from membership_sdk import (
    AllOf,
    AnyOf,
    Decision,
    Drip,
    GrantKind,
    HasEntitlement,
    MembershipProgram,
    Metered,
    MinTier,
    Purchase,
    Reason,
    Resource,
    Status,
    Window,
    decide,
)
from membership_sdk.access import settle

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


# -- parallel reads -------------------------------------------------------------------------
def read_in_parallel(program: MembershipProgram, resources: list[Resource]) -> list[Decision]:
    """Open ``resources`` for bob at once: every thread decides before any has recorded."""
    start = threading.Barrier(len(resources))

    def read(resource: Resource) -> Decision:
        start.wait()
        return program.access(resource, "bob")

    with ThreadPoolExecutor(max_workers=len(resources)) as pool:
        return list(pool.map(read, resources))


def test_parallel_first_reads_of_different_pages_get_exactly_the_free_reads(
    program: MembershipProgram,
) -> None:
    decisions = read_in_parallel(program, [page(n) for n in range(20)])
    allowed = [d for d in decisions if d.allowed]
    assert len(allowed) == 2
    assert {d.reason for d in decisions if not d.allowed} == {Reason.METER_EXHAUSTED}
    usage = program.store.meters.usage("bob", datetime(2000, 1, 1, tzinfo=UTC))
    assert len(usage["articles"]) == 2


def test_a_read_refused_by_a_parallel_reservation_is_offered_the_tiers(
    program: MembershipProgram,
) -> None:
    refused = [d for d in read_in_parallel(program, [page(n) for n in range(6)]) if not d.allowed]
    assert refused
    assert all([o.slug for o in d.offers] == ["basic", "premium"] for d in refused)
    assert all(d.remaining == 0 and d.teaser for d in refused)


def test_parallel_reads_of_one_page_spend_one_free_read(program: MembershipProgram) -> None:
    decisions = read_in_parallel(program, [page(1)] * 10)
    assert all(d.allowed for d in decisions)
    assert program.access(page(2), "bob").allowed
    assert not program.access(page(3), "bob").allowed


def test_parallel_downloads_get_exactly_the_quota(program: MembershipProgram) -> None:
    program.grant("bob", GrantKind.COMP, tier="basic", days=30)  # downloads: 3 per month
    docs = [Resource(f"doc:{n}", HasEntitlement("downloads")) for n in range(20)]
    decisions = read_in_parallel(program, docs)
    assert sum(d.allowed for d in decisions) == 3
    refused = [d for d in decisions if not d.allowed]
    assert {d.reason for d in refused} == {Reason.QUOTA_EXHAUSTED}
    assert all(d.unlock_at == datetime(2026, 4, 1, tzinfo=UTC) for d in refused)


def test_a_reservation_corrects_the_reads_left_when_others_got_there_first(
    program: MembershipProgram, clock: Clock
) -> None:
    stale = program.context("bob")  # no reads yet
    program.access(page(1), "bob")
    decision = decide(page(2), stale)
    assert decision.remaining == 1
    settled = settle(page(2), decision, "bob", program.store.meters, clock.now)
    assert (settled.allowed, settled.remaining) == (True, 0)


def test_a_full_window_refuses_a_stale_decision_and_records_nothing(
    program: MembershipProgram, clock: Clock
) -> None:
    stale = program.context("bob")
    program.access(page(1), "bob")
    program.access(page(2), "bob")
    settled = settle(page(3), decide(page(3), stale), "bob", program.store.meters, clock.now)
    assert (settled.allowed, settled.reason) == (False, Reason.METER_EXHAUSTED)
    usage = program.store.meters.usage("bob", datetime(2000, 1, 1, tzinfo=UTC))
    assert set(usage["articles"]) == {"page:1", "page:2"}


def test_a_refusal_of_a_resource_without_teaser_shows_no_teaser(
    program: MembershipProgram, clock: Clock
) -> None:
    stale = program.context("bob")
    program.access(page(1), "bob")
    program.access(page(2), "bob")
    download = Resource("doc:3", METERED, teaser=False)
    settled = settle(download, decide(download, stale), "bob", program.store.meters, clock.now)
    assert (settled.allowed, settled.teaser) == (False, False)


# -- drip -------------------------------------------------------------------------------------
COURSE_ITEM = "ebook:python"
LESSON_IN_A_WEEK = Drip(AnyOf(Purchase(COURSE_ITEM), MinTier("premium")), days=7)
PREMIUM_LESSON = Drip(MinTier("premium"), days=7)
BASIC_LESSON = Drip(MinTier("basic"), days=7)


def lesson(rule: Drip) -> Resource:
    return Resource("page:lesson", rule)


def subscribe(
    program: MembershipProgram,
    sub_id: str,
    price: str,
    started: datetime,
    *,
    status: Status = Status.ACTIVE,
    period_end: datetime = NOW + timedelta(days=30),
) -> None:
    """Bob's subscription ``sub_id`` at ``price`` since ``started``."""
    program.apply(
        sub_event(
            f"evt_{sub_id}_{status}",
            version=2 if status is Status.CANCELED else 1,
            sub_id=sub_id,
            customer="cus_bob",
            member_id="bob",
            price=price,
            status=status,
            started_at=started,
            period_end=period_end,
            canceled_at=started if status is Status.CANCELED else None,
        )
    )


def test_a_course_bought_outright_drips_from_the_purchase(
    program: MembershipProgram, clock: Clock
) -> None:
    program.apply(purchase_event("evt_buy", member_id="bob", paid_at=clock.now))
    registered = clock.now - timedelta(days=400)  # an old account
    locked = decide(lesson(LESSON_IN_A_WEEK), program.context("bob", registered_at=registered))
    assert (locked.reason, locked.unlock_at) == (Reason.DRIP_LOCKED, clock.now + timedelta(7))
    clock.advance(days=7)
    opened = decide(lesson(LESSON_IN_A_WEEK), program.context("bob", registered_at=registered))
    assert (opened.allowed, opened.reason) == (True, Reason.PURCHASED)


def test_a_course_bought_outright_opens_without_a_registration_date(
    program: MembershipProgram, clock: Clock
) -> None:
    program.apply(purchase_event("evt_buy", member_id="bob", paid_at=clock.now))
    assert program.access(lesson(LESSON_IN_A_WEEK), "bob").reason is Reason.DRIP_LOCKED
    clock.advance(days=7)
    assert program.access(lesson(LESSON_IN_A_WEEK), "bob").allowed


def test_a_new_premium_subscription_drips_premium_lessons_from_its_start(
    program: MembershipProgram, clock: Clock
) -> None:
    subscribe(program, "sub_basic", "p_basic", clock.now - timedelta(days=100))
    subscribe(program, "sub_premium", "p_premium", clock.now)
    premium = program.access(lesson(PREMIUM_LESSON), "bob")
    assert (premium.reason, premium.unlock_at) == (Reason.DRIP_LOCKED, clock.now + timedelta(7))
    assert program.access(lesson(BASIC_LESSON), "bob").allowed
    clock.advance(days=7)
    assert program.access(lesson(PREMIUM_LESSON), "bob").allowed


def test_switching_to_a_higher_plan_keeps_the_lower_plans_lessons_open(
    program: MembershipProgram, clock: Clock
) -> None:
    joined = clock.now - timedelta(days=100)
    subscribe(program, "sub_basic", "p_basic", joined)
    subscribe(program, "sub_premium", "p_premium", clock.now)
    # The basic subscription ends with its period, after the premium one began.
    subscribe(
        program,
        "sub_basic",
        "p_basic",
        joined,
        status=Status.CANCELED,
        period_end=clock.now + timedelta(days=1),
    )
    clock.advance(days=2)
    assert program.access(lesson(BASIC_LESSON), "bob").allowed
    assert program.access(lesson(PREMIUM_LESSON), "bob").reason is Reason.DRIP_LOCKED


def test_coming_back_after_a_lapse_starts_the_drip_afresh(
    program: MembershipProgram, clock: Clock
) -> None:
    subscribe(
        program,
        "sub_old",
        "p_basic",
        clock.now - timedelta(days=100),
        status=Status.CANCELED,
        period_end=clock.now - timedelta(days=30),
    )
    subscribe(program, "sub_new", "p_basic", clock.now)
    assert program.access(lesson(BASIC_LESSON), "bob").reason is Reason.DRIP_LOCKED


def test_a_comp_of_a_higher_tier_drips_from_the_comp_not_the_older_membership(
    program: MembershipProgram, clock: Clock
) -> None:
    joined = clock.now - timedelta(days=100)
    subscribe(program, "sub_basic", "p_basic", joined)
    program.grant("bob", GrantKind.COMP, tier="premium", days=30)
    assert program.access(lesson(BASIC_LESSON), "bob").allowed
    assert program.access(lesson(PREMIUM_LESSON), "bob").reason is Reason.DRIP_LOCKED


def test_a_rule_met_only_by_two_grants_together_drips_from_the_later(
    program: MembershipProgram, clock: Clock
) -> None:
    both = Drip(AllOf(MinTier("basic"), HasEntitlement("workshop")), days=7)
    joined = clock.now - timedelta(days=100)
    subscribe(program, "sub_basic", "p_basic", joined)
    program.grant("bob", GrantKind.COMP, entitlements=["workshop"], days=30)
    decision = program.access(lesson(both), "bob")
    assert (decision.reason, decision.unlock_at) == (Reason.DRIP_LOCKED, clock.now + timedelta(7))
