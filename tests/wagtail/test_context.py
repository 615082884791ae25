"""The member context: resolved lazily, once per request, within the query budget."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone

from membership_sdk import GrantKind, MinTier, Public, Reason, Registered, Resource
from wagtail_paywall.access import check_access, member_context
from wagtail_paywall.caching import invalidate_member

pytestmark = pytest.mark.django_db

PREMIUM = Resource("page:1", MinTier("premium"))


def test_an_anonymous_visitor_costs_no_query(
    request_for: Any, program: Any, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(0):
        ctx = member_context(request_for())
    assert not ctx.authenticated
    assert ctx.rank == -1


def test_a_member_costs_one_query_when_not_cached(
    request_for: Any, premium: Any, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(1):
        ctx = member_context(request_for(premium))
    assert ctx.tiers == {"free", "premium"}


def test_a_member_costs_no_query_when_cached(
    request_for: Any, premium: Any, django_assert_num_queries: Any
) -> None:
    member_context(request_for(premium))
    with django_assert_num_queries(0):
        ctx = member_context(request_for(premium))
    assert "premium" in ctx.tiers


def test_the_context_is_resolved_once_per_request(
    request_for: Any, premium: Any, django_assert_num_queries: Any
) -> None:
    request = request_for(premium)
    with django_assert_num_queries(1):
        first = member_context(request)
        second = member_context(request)
    assert first is second


def test_a_new_grant_is_seen_on_the_next_request(
    request_for: Any, reader: Any, program: Any
) -> None:
    assert not check_access(request_for(reader), PREMIUM).allowed
    program.grant(str(reader.pk), GrantKind.COMP, tier="premium", days=7)
    assert check_access(request_for(reader), PREMIUM).allowed


def test_a_revoked_grant_closes_access_on_the_next_request(
    request_for: Any, premium: Any, program: Any
) -> None:
    assert check_access(request_for(premium), PREMIUM).allowed
    (grant,) = program.store.grants.for_member(str(premium.pk))
    program.revoke_grant(grant.id)
    decision = check_access(request_for(premium), PREMIUM)
    assert not decision.allowed
    assert decision.reason is Reason.TIER_REQUIRED


def test_a_grant_edited_outside_the_program_also_drops_the_cache(
    request_for: Any, premium: Any
) -> None:
    from django.utils import timezone

    from wagtail_paywall.models import Grant

    assert check_access(request_for(premium), PREMIUM).allowed
    Grant.objects.filter(member_id=str(premium.pk)).get().delete()
    assert not check_access(request_for(premium), PREMIUM).allowed
    assert timezone.now()


def test_invalidating_a_member_costs_one_query_on_the_next_request(
    request_for: Any, premium: Any, django_assert_num_queries: Any
) -> None:
    member_context(request_for(premium))
    invalidate_member(str(premium.pk))
    with django_assert_num_queries(1):
        member_context(request_for(premium))


def test_a_paid_membership_counts_as_its_tier(request_for: Any, reader: Any, program: Any) -> None:
    fake = program.providers["fake"]
    session = program.start_checkout(
        str(reader.pk),
        "supporter-monthly",
        provider="fake",
        success_url="https://example.com/ok",
        cancel_url="https://example.com/no",
    )
    webhook = fake.complete_checkout(session.id)
    program.handle_webhook("fake", webhook.headers, webhook.body)
    ctx = member_context(request_for(reader))
    assert "supporter" in ctx.tiers


def test_a_public_resource_leaves_the_request_ungated(request_for: Any, program: Any) -> None:
    request = request_for()
    assert check_access(request, Resource("page:2", Public())).allowed
    assert not getattr(request, "paywall_gated", False)


def test_a_gated_resource_marks_the_request_gated(request_for: Any, program: Any) -> None:
    request = request_for()
    decision = check_access(request, Resource("page:3", Registered()))
    assert decision.reason is Reason.LOGIN_REQUIRED
    assert request.paywall_gated is True


def test_a_grant_of_extra_entitlements_counts_with_its_quota(
    request_for: Any, reader: Any, program: Any
) -> None:
    program.grant(str(reader.pk), GrantKind.GIFT, entitlements=["downloads: 3 per month"], days=5)
    ctx = member_context(request_for(reader))
    assert "downloads" in ctx.entitlements
    assert ctx.quotas["downloads"].limit == 3


def test_a_new_process_gets_the_catalog_from_the_cache_without_a_query(
    program: Any, django_assert_num_queries: Any
) -> None:
    from wagtail_paywall.program import get_program, reset_program

    reset_program()  # as if another process started
    with django_assert_num_queries(0):
        catalog = get_program().catalog
    assert [t.slug for t in catalog.tiers] == ["free", "supporter", "premium"]


def test_a_tier_saved_anywhere_reaches_the_catalog(program: Any) -> None:
    from wagtail_paywall.models import Tier
    from wagtail_paywall.program import get_program

    assert get_program().catalog.tier("premium").name == "Premium"
    tier = Tier.objects.get(slug="premium")
    tier.name = "Premium plus"
    tier.save()
    assert get_program().catalog.tier("premium").name == "Premium plus"


def test_a_members_metered_read_costs_one_query_to_decide_and_one_transaction_to_reserve(
    request_for: Any, program: Any, reader: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from membership_sdk import Metered

    article = Resource("page:9", Metered(MinTier("premium"), free=3))
    with CaptureQueriesContext(connection) as queries:
        decision = check_access(request_for(reader), article)
    assert (decision.allowed, decision.remaining) == (True, 2)
    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    # Decide: the member's rows. Reserve: a lock, the window's count, the insert.
    assert len(statements) == 4, statements


@pytest.fixture
def cache_reads() -> Iterator[list[list[str]]]:
    """The shared cache's read round trips while the test runs: the keys of each."""
    from django.core.cache import caches

    from wagtail_paywall import conf

    store = caches[conf.get("CACHE_ALIAS")]
    trips: list[list[str]] = []
    original_get, original_get_many = store.get, store.get_many
    inside_get_many = False  # some backends' get_many calls get: count a round trip once

    def counting_get(key: str, *args: object, **kwargs: object) -> object:
        if not inside_get_many:
            trips.append([key])
        return original_get(key, *args, **kwargs)

    def counting_get_many(keys: list[str], *args: object, **kwargs: object) -> object:
        nonlocal inside_get_many
        trips.append(list(keys))
        inside_get_many = True
        try:
            return original_get_many(keys, *args, **kwargs)
        finally:
            inside_get_many = False

    store.get = counting_get  # type: ignore[method-assign]
    store.get_many = counting_get_many  # type: ignore[method-assign]
    try:
        yield trips
    finally:
        del store.get, store.get_many


def test_a_request_checks_the_catalog_once_however_often_it_asks(
    program: Any, cache_reads: list[list[str]]
) -> None:
    from wagtail_paywall.program import CATALOG_GEN_KEY, get_program, request_scope

    with request_scope():
        first = get_program()
        assert get_program() is first
        assert get_program() is first
    assert [key for trip in cache_reads for key in trip].count(CATALOG_GEN_KEY) == 1


def test_a_members_warm_request_reads_the_shared_cache_once(
    request_for: Any, premium: Any, cache_reads: list[list[str]]
) -> None:
    from wagtail_paywall.caching import GEN_KEY
    from wagtail_paywall.program import CATALOG_GEN_KEY, request_scope

    with request_scope():
        member_context(request_for(premium))
    cache_reads.clear()
    with request_scope():
        ctx = member_context(request_for(premium))
    assert "premium" in ctx.tiers
    assert cache_reads == [[CATALOG_GEN_KEY, GEN_KEY.format(member=premium.pk)]]


def test_a_change_another_process_makes_is_seen_despite_this_processs_copy(
    request_for: Any, premium: Any
) -> None:
    from wagtail_paywall.access import local_rows
    from wagtail_paywall.models import Grant

    assert check_access(request_for(premium), PREMIUM).allowed
    assert len(local_rows) == 1  # this process now holds the member's rows
    # Another process revokes: the row changes (no signal here) and the token is replaced.
    Grant.objects.filter(member_id=str(premium.pk)).update(revoked_at=timezone.now())
    invalidate_member(str(premium.pk))
    assert not check_access(request_for(premium), PREMIUM).allowed


def test_a_zero_local_cache_size_keeps_no_rows_in_the_process(
    request_for: Any, premium: Any, settings: Any, django_assert_num_queries: Any
) -> None:
    from wagtail_paywall.access import local_rows

    settings.PAYWALL = {**settings.PAYWALL, "LOCAL_CACHE_SIZE": 0}
    member_context(request_for(premium))
    with django_assert_num_queries(0):  # the shared cache still serves the rows
        assert "premium" in member_context(request_for(premium)).tiers
    assert len(local_rows) == 0


def test_the_process_keeps_the_rows_of_at_most_local_cache_size_members(
    request_for: Any, reader: Any, supporter: Any, premium: Any, settings: Any
) -> None:
    from wagtail_paywall.access import local_rows

    settings.PAYWALL = {**settings.PAYWALL, "LOCAL_CACHE_SIZE": 2}
    for member in (reader, supporter, premium):
        member_context(request_for(member))
    assert len(local_rows) == 2
    assert local_rows._entries.keys() == {str(supporter.pk), str(premium.pk)}


def test_a_local_copy_expires_after_cache_timeout(monkeypatch: Any) -> None:
    from wagtail_paywall import access

    rows = (("m", "premium", "active", None, None, None, None),)
    clock = [1000.0]
    monkeypatch.setattr(access.time, "monotonic", lambda: clock[0])
    local = access.LocalRows()
    local.put("42", "gen-1", rows)
    clock[0] += 299.0
    assert local.get("42", "gen-1") == rows
    clock[0] += 2.0  # CACHE_TIMEOUT is 300 s in the test settings
    assert local.get("42", "gen-1") is None


def test_a_catalog_change_within_a_request_is_seen_by_that_request() -> None:
    from wagtail_paywall.models import Tier
    from wagtail_paywall.program import get_program, request_scope

    with request_scope():
        before = get_program().catalog
        Tier.objects.create(slug="patron", name="Patron", rank=9)
        after = get_program().catalog
    assert "patron" not in before.rank_of
    assert "patron" in after.rank_of
