"""``resolve_context``: what a member holds, from their memberships and grants."""

from __future__ import annotations

from datetime import timedelta

from sdk_builders import NOW, make_catalog

from membership_sdk import (
    Entitlement,
    Grant,
    GrantKind,
    Membership,
    MinTier,
    Quota,
    Resource,
    Status,
    decide,
    resolve_context,
)

CATALOG = make_catalog()


def paid(status: Status = Status.ACTIVE, tier: str = "premium", **changes: object) -> Membership:
    return Membership(
        id="mem_1",
        member_id="alice",
        tier=tier,
        status=status,
        provider="acme",
        started_at=NOW - timedelta(days=40),
        current_period_end=NOW + timedelta(days=20),
    ).replace(**changes)


def grant(kind: GrantKind, **changes: object) -> Grant:
    return Grant(
        id="g1",
        member_id="alice",
        kind=kind,
        starts_at=NOW - timedelta(days=2),
        ends_at=NOW + timedelta(days=5),
    ).replace(**changes)


def test_an_anonymous_visitor_holds_nothing() -> None:
    context = resolve_context(CATALOG, NOW)
    assert (context.authenticated, context.rank, context.tiers) == (False, -1, frozenset())


def test_a_signed_in_member_without_a_membership_holds_the_free_tier() -> None:
    context = resolve_context(CATALOG, NOW, member_id="alice")
    assert (context.rank, context.tiers, context.entitlements) == (
        0,
        {"free"},
        {"newsletter"},
    )


def test_a_paid_membership_gives_its_tier_and_its_entitlements() -> None:
    context = resolve_context(CATALOG, NOW, member_id="alice", memberships=[paid()])
    assert context.rank == 2
    assert context.tiers == {"free", "premium"}
    assert {"content.premium", "content.basic", "downloads"} <= context.entitlements
    assert context.quotas["downloads"] == Quota(10)
    assert context.joined_at == NOW - timedelta(days=40)


def test_a_trialing_membership_gives_access_like_an_active_one() -> None:
    context = resolve_context(CATALOG, NOW, member_id="alice", memberships=[paid(Status.TRIALING)])
    assert context.rank == 2


def test_a_lapsed_membership_gives_nothing_beyond_the_free_tier() -> None:
    lapsed = paid(current_period_end=NOW - timedelta(days=1))
    context = resolve_context(CATALOG, NOW, member_id="alice", memberships=[lapsed])
    assert (context.rank, context.joined_at) == (0, None)


def test_a_past_due_membership_keeps_access_within_the_grace_period() -> None:
    late = paid(Status.PAST_DUE, current_period_end=NOW - timedelta(days=1))
    kept = resolve_context(
        CATALOG, NOW, member_id="alice", memberships=[late], grace=timedelta(days=3)
    )
    lost = resolve_context(CATALOG, NOW, member_id="alice", memberships=[late])
    assert (kept.rank, lost.rank) == (2, 0)


def test_a_membership_in_an_unknown_provider_status_gives_nothing() -> None:
    odd = paid(Status.parse("unpaid"))
    context = resolve_context(CATALOG, NOW, member_id="alice", memberships=[odd])
    assert context.rank == 0
    assert not decide(Resource("page:1", MinTier("basic")), context).allowed


def test_a_comp_of_a_tier_gives_that_tier_while_it_lasts() -> None:
    comp = grant(GrantKind.COMP, tier="basic")
    assert resolve_context(CATALOG, NOW, member_id="alice", grants=[comp]).rank == 1
    later = NOW + timedelta(days=6)
    assert resolve_context(CATALOG, later, member_id="alice", grants=[comp]).rank == 0


def test_a_gift_counts_from_when_it_starts_for_drip_rules() -> None:
    gift = grant(GrantKind.GIFT, tier="premium")
    context = resolve_context(CATALOG, NOW, member_id="alice", grants=[gift])
    assert (context.rank, context.joined_at) == (2, NOW - timedelta(days=2))


def test_a_trial_grant_without_a_card_gives_its_tier() -> None:
    trial = grant(GrantKind.TRIAL, tier="premium")
    assert "premium" in resolve_context(CATALOG, NOW, member_id="alice", grants=[trial]).tiers


def test_a_one_off_purchase_gives_the_item_for_good() -> None:
    bought = grant(GrantKind.PURCHASE, item="ebook:python", ends_at=None)
    context = resolve_context(
        CATALOG, NOW + timedelta(days=999), member_id="alice", grants=[bought]
    )
    assert context.purchases == {"ebook:python"}
    assert context.rank == 0


def test_a_team_seat_gives_extra_entitlements_with_their_quotas() -> None:
    seat = grant(
        GrantKind.TEAM_SEAT,
        entitlements=(
            Entitlement("course.python-101"),
            Entitlement.parse("downloads: 50 per month"),
        ),
    )
    context = resolve_context(CATALOG, NOW, member_id="alice", grants=[seat])
    assert {"course.python-101", "downloads"} <= context.entitlements
    assert context.quotas["downloads"] == Quota(50)


def test_quotas_held_through_several_grants_merge_to_the_most_generous() -> None:
    seat = grant(GrantKind.TEAM_SEAT, entitlements=(Entitlement.parse("downloads: 5 per month"),))
    context = resolve_context(CATALOG, NOW, member_id="alice", memberships=[paid()], grants=[seat])
    assert context.quotas["downloads"] == Quota(10)


def test_an_unlimited_grant_of_a_key_lifts_the_tier_quota() -> None:
    seat = grant(GrantKind.TEAM_SEAT, entitlements=(Entitlement("downloads"),))
    context = resolve_context(CATALOG, NOW, member_id="alice", memberships=[paid()], grants=[seat])
    assert "downloads" in context.entitlements
    assert "downloads" not in context.quotas


def test_a_revoked_grant_gives_nothing() -> None:
    comp = grant(GrantKind.COMP, tier="premium", revoked_at=NOW - timedelta(hours=1))
    assert resolve_context(CATALOG, NOW, member_id="alice", grants=[comp]).rank == 0


def test_a_grant_of_a_tier_removed_from_the_catalog_is_ignored() -> None:
    old = grant(GrantKind.COMP, tier="gold")
    context = resolve_context(CATALOG, NOW, member_id="alice", grants=[old])
    assert context.tiers == {"free"}


def test_the_highest_tier_held_sets_the_rank() -> None:
    comp = grant(GrantKind.COMP, tier="basic")
    context = resolve_context(CATALOG, NOW, member_id="alice", memberships=[paid()], grants=[comp])
    assert (context.rank, context.tiers) == (2, {"free", "basic", "premium"})


def test_joined_at_is_the_earliest_start_of_current_access() -> None:
    comp = grant(GrantKind.COMP, tier="basic", starts_at=NOW - timedelta(days=90))
    context = resolve_context(CATALOG, NOW, member_id="alice", memberships=[paid()], grants=[comp])
    assert context.joined_at == NOW - timedelta(days=90)


def test_without_paid_access_joined_at_falls_back_to_registration() -> None:
    registered = NOW - timedelta(days=400)
    context = resolve_context(CATALOG, NOW, member_id="alice", registered_at=registered)
    assert context.joined_at == registered


def test_usage_is_passed_through_for_meters_and_quotas() -> None:
    usage = {"articles": {"page:1": NOW}}
    assert resolve_context(CATALOG, NOW, member_id="alice", usage=usage).usage == usage
    assert resolve_context(CATALOG, NOW, usage=usage).usage == usage
