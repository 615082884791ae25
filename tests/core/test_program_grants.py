"""Comps, gifts, extensions and revocations of grants."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sdk_builders import NOW, Clock, HookRecorder

from membership_sdk import (
    GrantKind,
    MembershipError,
    MembershipProgram,
    MinTier,
    Quota,
    Resource,
    UnknownTier,
)

PREMIUM_PAGE = Resource("page:1", MinTier("premium"))


def test_a_comp_gives_its_tier_for_the_days_granted(
    program: MembershipProgram, clock: Clock
) -> None:
    grant = program.grant("bob", GrantKind.COMP, tier="premium", days=7, note="press")
    assert (grant.starts_at, grant.ends_at, grant.note) == (NOW, NOW + timedelta(days=7), "press")
    assert program.access(PREMIUM_PAGE, "bob").allowed
    clock.advance(days=7)
    assert not program.access(PREMIUM_PAGE, "bob").allowed


def test_a_grant_without_days_never_ends(program: MembershipProgram, clock: Clock) -> None:
    program.grant("bob", GrantKind.GIFT, tier="premium")
    clock.advance(days=3650)
    assert program.access(PREMIUM_PAGE, "bob").allowed


def test_a_grant_of_entitlements_adds_them_with_quotas(program: MembershipProgram) -> None:
    program.grant("bob", GrantKind.TEAM_SEAT, entitlements=["course.python-101", "api: 5 per day"])
    context = program.context("bob")
    assert {"course.python-101", "api"} <= context.entitlements
    assert context.quotas["api"].limit == 5


def test_a_grant_of_an_unknown_tier_raises_naming_it_and_stores_nothing(
    program: MembershipProgram,
) -> None:
    with pytest.raises(UnknownTier, match="'gold'"):
        program.grant("bob", GrantKind.COMP, tier="gold", days=7)
    assert program.store.grants.for_member("bob") == []


@pytest.mark.parametrize("days", [0, -3])
def test_a_grant_lasts_at_least_a_day(program: MembershipProgram, days: int) -> None:
    with pytest.raises(MembershipError, match=f"at least one day, got days={days}"):
        program.grant("bob", GrantKind.COMP, tier="premium", days=days)
    assert program.store.grants.for_member("bob") == []


def test_extending_a_running_grant_pushes_its_end(program: MembershipProgram) -> None:
    grant = program.grant("bob", GrantKind.COMP, tier="premium", days=7)
    extended = program.extend_grant(grant.id, 3)
    assert extended.ends_at == NOW + timedelta(days=10)
    assert program.store.grants.get(grant.id) == extended


def test_extending_an_ended_grant_counts_from_now(program: MembershipProgram, clock: Clock) -> None:
    grant = program.grant("bob", GrantKind.COMP, tier="premium", days=7)
    clock.advance(days=30)
    extended = program.extend_grant(grant.id, 5)
    assert extended.ends_at == clock.now + timedelta(days=5)
    assert program.access(PREMIUM_PAGE, "bob").allowed


def test_extending_a_revoked_grant_restores_it(program: MembershipProgram) -> None:
    grant = program.grant("bob", GrantKind.COMP, tier="premium", days=7)
    program.revoke_grant(grant.id)
    program.extend_grant(grant.id, 1)
    assert program.access(PREMIUM_PAGE, "bob").allowed


def test_extending_by_less_than_a_day_is_refused(program: MembershipProgram) -> None:
    grant = program.grant("bob", GrantKind.COMP, tier="premium", days=7)
    with pytest.raises(MembershipError, match="at least one day, got days=0"):
        program.extend_grant(grant.id, 0)
    assert program.store.grants.get(grant.id) == grant


def test_revoking_a_grant_ends_access_at_once(program: MembershipProgram) -> None:
    grant = program.grant("bob", GrantKind.COMP, tier="premium", days=7)
    revoked = program.revoke_grant(grant.id)
    assert revoked.revoked_at == NOW
    assert not program.access(PREMIUM_PAGE, "bob").allowed


def test_an_unknown_grant_id_raises_naming_it(program: MembershipProgram) -> None:
    with pytest.raises(MembershipError, match="no grant with id 'grant_404'"):
        program.revoke_grant("grant_404")
    with pytest.raises(MembershipError, match="no grant with id 'grant_404'"):
        program.extend_grant("grant_404", 3)


def test_every_grant_change_fires_its_hook_and_an_access_change(
    program: MembershipProgram, hooks: HookRecorder
) -> None:
    grant = program.grant("bob", GrantKind.COMP, tier="premium", days=7)
    program.extend_grant(grant.id, 3)
    program.revoke_grant(grant.id)
    assert [kw["action"] for name, kw in hooks.calls if name == "membership_grant_changed"] == [
        "created",
        "extended",
        "revoked",
    ]
    changed = [kw["member_id"] for name, kw in hooks.calls if name == "membership_access_changed"]
    assert changed == ["bob", "bob", "bob"]


def test_quota_of_a_grant_merges_with_the_tier_quota(program: MembershipProgram) -> None:
    program.grant("bob", GrantKind.COMP, tier="basic", days=7)
    program.grant("bob", GrantKind.TEAM_SEAT, entitlements=["downloads: 20 per month"])
    assert program.context("bob").quotas["downloads"] == Quota(20)
