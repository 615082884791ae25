"""Every access rule, through the one decision function ``decide()``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest
from sdk_builders import NOW, make_catalog

from membership_sdk import (
    AccessContext,
    AllOf,
    AnyOf,
    AnyTier,
    CatalogError,
    Decision,
    Drip,
    Embargo,
    HasEntitlement,
    Metered,
    MinTier,
    OfferKind,
    Period,
    Public,
    Purchase,
    Quota,
    Reason,
    Registered,
    Resource,
    Rule,
    Window,
    decide,
)
from membership_sdk.access import period_start

CATALOG = make_catalog()
TIER_RANK = {"free": 0, "basic": 1, "premium": 2}


def ctx(
    *tiers: str,
    member: str | None = "alice",
    now: datetime = NOW,
    entitlements: Mapping[str, Quota | None] | None = None,
    purchases: frozenset[str] = frozenset(),
    joined_at: datetime | None = None,
    usage: Mapping[str, Mapping[str, datetime]] | None = None,
) -> AccessContext:
    ents = dict(entitlements or {})
    return AccessContext(
        now=now,
        catalog=CATALOG,
        member_id=member,
        rank=max((TIER_RANK[t] for t in tiers), default=-1),
        tiers=frozenset(tiers),
        entitlements=frozenset(ents),
        quotas={k: q for k, q in ents.items() if q is not None},
        purchases=purchases,
        joined_at=joined_at,
        usage=usage or {},
    )


ANONYMOUS = ctx(member=None)


def check(rule: Rule, context: AccessContext, key: str = "page:1") -> Decision:
    return decide(Resource(key, rule), context)


# -- public and registered ------------------------------------------------------------------
def test_public_content_is_open_to_anonymous_visitors() -> None:
    assert check(Public(), ANONYMOUS) == Decision(True, Reason.PUBLIC)


def test_registered_content_is_open_to_any_signed_in_member() -> None:
    assert check(Registered(), ctx()) == Decision(True, Reason.REGISTERED)


def test_registered_content_asks_anonymous_visitors_to_log_in_with_a_teaser() -> None:
    decision = check(Registered(), ANONYMOUS)
    assert (decision.allowed, decision.reason, decision.teaser) == (
        False,
        Reason.LOGIN_REQUIRED,
        True,
    )


# -- tiers ----------------------------------------------------------------------------------
def test_min_tier_allows_that_tier() -> None:
    assert check(MinTier("basic"), ctx("basic")) == Decision(True, Reason.TIER)


def test_min_tier_allows_higher_tiers() -> None:
    assert check(MinTier("basic"), ctx("premium")).allowed


def test_min_tier_denies_lower_tiers_and_offers_every_tier_that_would_unlock() -> None:
    decision = check(MinTier("basic"), ctx("free"))
    assert (decision.allowed, decision.reason, decision.teaser) == (
        False,
        Reason.TIER_REQUIRED,
        True,
    )
    assert [(o.kind, o.slug) for o in decision.offers] == [
        (OfferKind.TIER, "basic"),
        (OfferKind.TIER, "premium"),
    ]


def test_min_tier_denies_anonymous_visitors() -> None:
    assert check(MinTier("free"), ANONYMOUS).reason is Reason.TIER_REQUIRED


def test_min_tier_of_a_tier_missing_from_the_catalog_denies_without_offers() -> None:
    decision = check(MinTier("gold"), ctx("premium"))
    assert (decision.allowed, decision.offers) == (False, ())


def test_the_same_denial_is_given_for_another_catalog_with_its_own_offers() -> None:
    rule = MinTier("premium")
    first = check(rule, ctx("free"))
    other = make_catalog()
    second = decide(Resource("page:1", rule), AccessContext(now=NOW, catalog=other))
    assert [o.slug for o in first.offers] == [o.slug for o in second.offers] == ["premium"]
    assert second.offers[0].prices == other.offers_from_rank(2)[0].prices


def test_any_of_tiers_allows_exactly_the_listed_tiers_whatever_their_rank() -> None:
    rule = AnyTier(["basic"])
    assert check(rule, ctx("basic")).allowed
    denied = check(rule, ctx("premium"))
    assert (denied.allowed, denied.reason) == (False, Reason.TIER_REQUIRED)
    assert [o.slug for o in denied.offers] == ["basic"]


# -- entitlements and quotas ----------------------------------------------------------------
def test_entitlement_allows_members_who_hold_it() -> None:
    decision = check(HasEntitlement("content.premium"), ctx(entitlements={"content.premium": None}))
    assert decision == Decision(True, Reason.ENTITLEMENT)


def test_entitlement_denies_others_and_offers_the_tiers_that_carry_it() -> None:
    decision = check(HasEntitlement("content.premium"), ctx("basic"))
    assert (decision.allowed, decision.reason) == (False, Reason.ENTITLEMENT_REQUIRED)
    assert [o.slug for o in decision.offers] == ["premium"]


DOWNLOADS = {"downloads": Quota(3, Period.MONTH)}


def test_a_quota_allows_and_charges_a_first_use() -> None:
    decision = check(HasEntitlement("downloads"), ctx(entitlements=DOWNLOADS), key="doc:1")
    assert (decision.allowed, decision.charge, decision.remaining) == (True, "downloads", 2)


def test_a_quota_counts_each_resource_once_per_period() -> None:
    usage = {"downloads": {"doc:1": NOW - timedelta(days=1)}}
    decision = check(
        HasEntitlement("downloads"), ctx(entitlements=DOWNLOADS, usage=usage), key="doc:1"
    )
    assert (decision.allowed, decision.charge, decision.remaining) == (True, None, 2)


def test_an_exhausted_quota_denies_new_resources_until_the_next_period() -> None:
    usage = {"downloads": {f"doc:{i}": NOW - timedelta(days=1) for i in range(3)}}
    decision = check(
        HasEntitlement("downloads"), ctx(entitlements=DOWNLOADS, usage=usage), key="doc:9"
    )
    assert (decision.allowed, decision.reason, decision.remaining) == (
        False,
        Reason.QUOTA_EXHAUSTED,
        0,
    )
    assert decision.unlock_at == datetime(2026, 4, 1, tzinfo=UTC)


def test_an_exhausted_quota_still_allows_resources_already_used_this_period() -> None:
    usage = {"downloads": {f"doc:{i}": NOW - timedelta(days=1) for i in range(3)}}
    decision = check(
        HasEntitlement("downloads"), ctx(entitlements=DOWNLOADS, usage=usage), key="doc:0"
    )
    assert (decision.allowed, decision.charge, decision.remaining) == (True, None, 0)


def test_quota_uses_from_last_period_do_not_count() -> None:
    last_month = datetime(2026, 2, 27, tzinfo=UTC)
    usage = {"downloads": {f"doc:{i}": last_month for i in range(3)}}
    decision = check(
        HasEntitlement("downloads"), ctx(entitlements=DOWNLOADS, usage=usage), key="doc:0"
    )
    assert (decision.allowed, decision.charge, decision.remaining) == (True, "downloads", 2)


@pytest.mark.parametrize(
    ("period", "next_start"),
    [
        (Period.DAY, datetime(2026, 3, 16, tzinfo=UTC)),
        (Period.WEEK, datetime(2026, 3, 16, tzinfo=UTC)),  # NOW is a Sunday
        (Period.MONTH, datetime(2026, 4, 1, tzinfo=UTC)),
        (Period.YEAR, datetime(2027, 1, 1, tzinfo=UTC)),
    ],
)
def test_an_exhausted_quota_unlocks_when_its_period_turns(
    period: Period, next_start: datetime
) -> None:
    usage = {"downloads": {"doc:0": NOW}}
    decision = check(
        HasEntitlement("downloads"),
        ctx(entitlements={"downloads": Quota(1, period)}, usage=usage),
        key="doc:1",
    )
    assert decision.unlock_at == next_start


def test_calendar_periods_start_at_midnight_monday_first_of_month_and_new_year() -> None:
    assert period_start(Period.DAY, NOW) == datetime(2026, 3, 15, tzinfo=UTC)
    assert period_start(Period.WEEK, NOW) == datetime(2026, 3, 9, tzinfo=UTC)
    assert period_start(Period.MONTH, NOW) == datetime(2026, 3, 1, tzinfo=UTC)
    assert period_start(Period.YEAR, NOW) == datetime(2026, 1, 1, tzinfo=UTC)


# -- metered --------------------------------------------------------------------------------
METERED = Metered(MinTier("basic"), free=2)


def test_metered_lets_members_with_access_through_without_charging() -> None:
    assert check(METERED, ctx("basic")) == Decision(True, Reason.TIER)


def test_metered_gives_free_reads_and_charges_the_meter() -> None:
    decision = check(METERED, ctx("free"))
    assert (decision.allowed, decision.reason, decision.charge, decision.remaining) == (
        True,
        Reason.METERED,
        "articles",
        1,
    )


def test_metered_counts_a_resource_read_again_once() -> None:
    usage = {"articles": {"page:1": NOW - timedelta(days=2), "page:2": NOW}}
    decision = check(METERED, ctx("free", usage=usage), key="page:1")
    assert (decision.allowed, decision.charge, decision.remaining) == (True, None, 0)


def test_metered_denies_new_reads_once_the_meter_is_used_up_with_the_inner_offers() -> None:
    usage = {"articles": {"page:1": NOW, "page:2": NOW}}
    decision = check(METERED, ctx("free", usage=usage), key="page:3")
    assert (decision.allowed, decision.reason, decision.teaser, decision.remaining) == (
        False,
        Reason.METER_EXHAUSTED,
        True,
        0,
    )
    assert [o.slug for o in decision.offers] == ["basic", "premium"]


def test_calendar_month_meter_starts_afresh_each_month() -> None:
    usage = {"articles": {"page:1": datetime(2026, 2, 28, tzinfo=UTC), "page:2": NOW}}
    decision = check(METERED, ctx("free", usage=usage), key="page:3")
    assert (decision.allowed, decision.charge, decision.remaining) == (True, "articles", 0)


def test_calendar_month_meter_charges_again_for_a_resource_first_read_last_month() -> None:
    usage = {"articles": {"page:1": datetime(2026, 2, 28, tzinfo=UTC)}}
    decision = check(METERED, ctx("free", usage=usage), key="page:1")
    assert (decision.allowed, decision.charge) == (True, "articles")


def test_a_first_read_names_what_to_reserve_the_meter_its_limit_and_window_start() -> None:
    usage = {"articles": {"page:1": NOW}}
    decision = check(METERED, ctx("free", usage=usage), key="page:2")
    assert decision.spend is not None
    assert (decision.spend.meter, decision.spend.limit, decision.spend.since) == (
        "articles",
        2,
        datetime(2026, 3, 1, tzinfo=UTC),
    )
    refused = decision.spend.refused
    assert (refused.allowed, refused.reason, refused.remaining) == (
        False,
        Reason.METER_EXHAUSTED,
        0,
    )
    assert [o.slug for o in refused.offers] == ["basic", "premium"]


def test_a_reread_has_nothing_to_reserve() -> None:
    usage = {"articles": {"page:1": NOW}}
    assert check(METERED, ctx("free", usage=usage), key="page:1").spend is None


def test_a_first_download_names_its_quota_and_says_when_a_full_one_refills() -> None:
    decision = check(HasEntitlement("downloads"), ctx(entitlements=DOWNLOADS), key="doc:1")
    assert decision.spend is not None
    assert (decision.spend.limit, decision.spend.since) == (3, datetime(2026, 3, 1, tzinfo=UTC))
    assert decision.spend.refused.reason is Reason.QUOTA_EXHAUSTED
    assert decision.spend.refused.unlock_at == datetime(2026, 4, 1, tzinfo=UTC)


ROLLING = Metered(MinTier("basic"), free=2, window=Window.rolling(30))


def test_a_rolling_meter_reserves_from_n_days_ago() -> None:
    decision = check(ROLLING, ctx("free"))
    assert decision.spend is not None
    assert decision.spend.since == NOW - timedelta(days=30)


def test_rolling_meter_counts_reads_within_the_last_n_days_across_months() -> None:
    usage = {"articles": {"page:1": NOW - timedelta(days=20), "page:2": NOW - timedelta(days=10)}}
    assert check(ROLLING, ctx("free", usage=usage), key="page:3").reason is (Reason.METER_EXHAUSTED)


def test_rolling_meter_forgets_reads_older_than_the_window() -> None:
    usage = {"articles": {"page:1": NOW - timedelta(days=31), "page:2": NOW - timedelta(days=10)}}
    decision = check(ROLLING, ctx("free", usage=usage), key="page:3")
    assert (decision.allowed, decision.charge, decision.remaining) == (True, "articles", 0)


def test_rolling_meter_counts_a_resource_read_again_in_the_window_once() -> None:
    usage = {"articles": {"page:1": NOW - timedelta(days=20), "page:2": NOW - timedelta(days=10)}}
    decision = check(ROLLING, ctx("free", usage=usage), key="page:1")
    assert (decision.allowed, decision.reason, decision.charge) == (True, Reason.METERED, None)


def test_anonymous_visitors_are_metered_by_default() -> None:
    assert check(METERED, ANONYMOUS).reason is Reason.METERED


def test_a_meter_closed_to_anonymous_visitors_asks_them_to_log_in() -> None:
    rule = Metered(Registered(), free=3, anonymous=False)
    assert check(rule, ANONYMOUS).reason is Reason.LOGIN_REQUIRED


def test_meters_have_their_own_names() -> None:
    rule = Metered(MinTier("basic"), free=1, meter="videos")
    usage = {"articles": {"page:9": NOW}}
    assert check(rule, ctx("free", usage=usage)).charge == "videos"


def test_a_meter_window_is_a_calendar_period_or_a_number_of_days() -> None:
    with pytest.raises(CatalogError, match="either a calendar period or a number of days"):
        Window(period=Period.MONTH, days=30)
    with pytest.raises(CatalogError, match="days >= 1, got 0"):
        Window.rolling(0)
    assert Window.calendar("week").start(NOW) == datetime(2026, 3, 9, tzinfo=UTC)


def test_a_meter_window_knows_how_far_back_usage_is_needed() -> None:
    assert Window.rolling(45).longest == timedelta(days=45)
    assert Window.calendar(Period.MONTH).longest == timedelta(days=31)


def test_a_negative_free_allowance_is_rejected() -> None:
    with pytest.raises(CatalogError, match="free must be >= 0, got -1"):
        Metered(Public(), free=-1)


# -- purchase -------------------------------------------------------------------------------
def test_purchase_allows_a_member_who_bought_the_resource() -> None:
    decision = check(Purchase(), ctx(purchases=frozenset({"page:1"})))
    assert decision == Decision(True, Reason.PURCHASED)


def test_purchase_denies_others_and_offers_the_item_for_sale() -> None:
    decision = check(Purchase("ebook:python"), ctx("premium"), key="doc:4")
    assert (decision.allowed, decision.reason) == (False, Reason.PURCHASE_REQUIRED)
    assert [(o.kind, o.slug, o.name) for o in decision.offers] == [
        (OfferKind.PURCHASE, "ebook:python", "Python, the e-book")
    ]


def test_purchase_of_a_named_item_allows_its_buyers() -> None:
    rule = Purchase("ebook:python")
    assert check(rule, ctx(purchases=frozenset({"ebook:python"})), key="doc:4").allowed


def test_purchase_of_the_resource_itself_uses_the_resource_key_as_the_item() -> None:
    decision = check(Purchase(), ctx(), key="ebook:python")
    assert [o.slug for o in decision.offers] == ["ebook:python"]


# -- drip -----------------------------------------------------------------------------------
LESSON_3 = Drip(MinTier("basic"), days=14)


def test_drip_locks_a_lesson_until_n_days_after_joining_and_says_when() -> None:
    joined = NOW - timedelta(days=10)
    decision = check(LESSON_3, ctx("basic", joined_at=joined))
    assert (decision.allowed, decision.reason, decision.teaser) == (
        False,
        Reason.DRIP_LOCKED,
        True,
    )
    assert decision.unlock_at == joined + timedelta(days=14)


def test_drip_unlocks_n_days_after_joining() -> None:
    decision = check(LESSON_3, ctx("basic", joined_at=NOW - timedelta(days=14)))
    assert decision == Decision(True, Reason.TIER)


def test_drip_without_a_join_date_stays_locked() -> None:
    decision = check(LESSON_3, ctx("basic"))
    assert (decision.reason, decision.unlock_at) == (Reason.DRIP_LOCKED, None)


def test_drip_passes_on_the_inner_denial_to_non_members() -> None:
    assert check(LESSON_3, ctx("free", joined_at=NOW)).reason is Reason.TIER_REQUIRED


def test_drip_of_zero_days_is_open_from_the_start() -> None:
    assert check(Drip(MinTier("basic"), days=0), ctx("basic")).allowed


# -- embargo --------------------------------------------------------------------------------
def test_embargo_guards_with_the_inner_rule_and_says_when_it_lifts() -> None:
    until = NOW + timedelta(days=5)
    decision = check(Embargo(until, MinTier("premium")), ctx("basic"))
    assert (decision.allowed, decision.reason, decision.unlock_at) == (
        False,
        Reason.TIER_REQUIRED,
        until,
    )


def test_embargo_lets_members_of_the_inner_rule_in_before_it_lifts() -> None:
    decision = check(Embargo(NOW + timedelta(days=5), MinTier("premium")), ctx("premium"))
    assert decision == Decision(True, Reason.TIER)


def test_embargoed_content_is_free_to_everyone_once_lifted() -> None:
    decision = check(Embargo(NOW, MinTier("premium")), ANONYMOUS)
    assert decision == Decision(True, Reason.EMBARGO_LIFTED)


# -- combinations ---------------------------------------------------------------------------
def test_any_of_allows_when_one_rule_allows() -> None:
    rule = AnyOf(MinTier("premium"), Purchase("ebook:python"))
    decision = check(rule, ctx("free", purchases=frozenset({"ebook:python"})))
    assert decision == Decision(True, Reason.PURCHASED)


def test_any_of_denial_offers_what_every_rule_would_sell_once_each() -> None:
    rule = AnyOf(MinTier("premium"), Purchase("ebook:python"), MinTier("premium"))
    decision = check(rule, ctx("free"))
    assert (decision.allowed, decision.reason) == (False, Reason.TIER_REQUIRED)
    assert [(o.kind, o.slug) for o in decision.offers] == [
        (OfferKind.TIER, "premium"),
        (OfferKind.PURCHASE, "ebook:python"),
    ]


def test_any_of_denial_unlocks_at_the_earliest_unlock() -> None:
    soon, later = NOW + timedelta(days=1), NOW + timedelta(days=9)
    rule = AnyOf(Embargo(later, MinTier("premium")), Embargo(soon, MinTier("premium")))
    assert check(rule, ctx("free")).unlock_at == soon


def test_all_of_allows_only_when_every_rule_allows() -> None:
    rule = AllOf(Registered(), MinTier("basic"))
    assert check(rule, ctx("basic")).allowed
    assert check(rule, ANONYMOUS).reason is Reason.LOGIN_REQUIRED
    assert check(rule, ctx("free")).reason is Reason.TIER_REQUIRED


def test_all_of_passes_on_a_charge_of_any_of_its_rules() -> None:
    rule = AllOf(Registered(), Metered(MinTier("basic"), free=1))
    decision = check(rule, ctx("free"))
    assert (decision.allowed, decision.charge) == (True, "articles")


def test_combinations_need_at_least_one_rule() -> None:
    with pytest.raises(CatalogError, match="AnyOf needs at least one rule"):
        AnyOf()
    with pytest.raises(CatalogError, match="AllOf needs at least one rule"):
        AllOf()


# -- teasers --------------------------------------------------------------------------------
def test_a_resource_without_a_teaser_is_denied_with_none() -> None:
    decision = decide(Resource("page:1", MinTier("premium"), teaser=False), ctx("free"))
    assert (decision.allowed, decision.teaser) == (False, False)
    assert [o.slug for o in decision.offers] == ["premium"]


def test_allowed_decisions_never_ask_for_a_teaser() -> None:
    for rule in (Public(), Registered(), MinTier("basic"), METERED):
        assert not check(rule, ctx("premium")).teaser


def test_decisions_are_pure_the_same_inputs_give_the_same_answer() -> None:
    context = ctx("free", usage={"articles": {"page:7": NOW}})
    assert check(METERED, context) == check(METERED, context)
    assert context.usage == {"articles": {"page:7": NOW}}
