"""Reading activity: a member's day read is recorded once, and a warm page view costs no
query for it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from wagtail_paywall.billing import activity
from wagtail_paywall.billing.activity import read_days, record_read
from wagtail_paywall.caching import cache, invalidate_member
from wagtail_paywall.models import ReadingActivity

pytest_plugins = ["tests.wagtail.gating_fixtures"]
pytestmark = pytest.mark.django_db

NOON = datetime(2026, 5, 12, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_read_days() -> Iterator[None]:
    read_days.clear()
    yield
    read_days.clear()


def _activity_writes(queries: CaptureQueriesContext) -> list[str]:
    table = ReadingActivity._meta.db_table
    return [q["sql"] for q in queries.captured_queries if table in q["sql"]]


def test_many_views_of_a_day_write_one_row(
    client: Any, make_article: Any, catalog: Any, premium: Any, program: Any
) -> None:
    gated = make_article("tier", paywall_min_tier=catalog["premium"])
    client.force_login(premium)

    with CaptureQueriesContext(connection) as queries:
        for _ in range(5):
            assert client.get(gated.url).status_code == 200

    assert len(_activity_writes(queries)) == 1
    row = ReadingActivity.objects.get(member_id=str(premium.pk))
    assert (row.day, row.reads) == (activity.activity_day(program.clock()), 1)


def test_a_warm_page_view_costs_no_query_for_the_reading(
    client: Any, make_article: Any, catalog: Any, premium: Any, program: Any
) -> None:
    from .test_gating import count_queries

    gated = make_article("tier", paywall_min_tier=catalog["premium"])
    public = make_article("public")
    client.force_login(premium)
    client.get(gated.url)  # the day's row is written here
    client.get(public.url)

    with CaptureQueriesContext(connection) as queries:
        client.get(gated.url)

    assert _activity_writes(queries) == []
    assert count_queries(client, gated.url) == count_queries(client, public.url)


def test_a_warm_gate_costs_no_query_at_all(
    request_for: Any,
    make_article: Any,
    catalog: Any,
    premium: Any,
    program: Any,
    django_assert_num_queries: Any,
) -> None:
    from wagtail_paywall.gating import gate_page

    gated = make_article("tier", paywall_min_tier=catalog["premium"])
    gate_page(gated, request_for(premium))  # cold: the context and the day's row

    with django_assert_num_queries(0):
        decision = gate_page(gated, request_for(premium))

    assert decision is not None
    assert decision.allowed


def test_another_process_does_not_write_the_day_again() -> None:
    assert record_read("7", NOON) is True
    read_days.clear()  # a second process: its own memory is empty, the cache is shared

    with CaptureQueriesContext(connection) as queries:
        assert record_read("7", NOON + timedelta(hours=3)) is False

    assert queries.captured_queries == []
    assert ReadingActivity.objects.filter(member_id="7").count() == 1


def test_the_next_day_is_a_new_row() -> None:
    record_read("7", NOON)
    record_read("7", NOON + timedelta(days=1))

    assert sorted(ReadingActivity.objects.values_list("day", flat=True)) == [
        NOON.date(),
        NOON.date() + timedelta(days=1),
    ]


def test_a_row_written_elsewhere_is_kept_without_an_error() -> None:
    ReadingActivity.objects.create(member_id="7", day=NOON.date(), reads=4)

    assert record_read("7", NOON) is True

    assert ReadingActivity.objects.get(member_id="7").reads == 4


def test_an_anonymous_visitor_is_not_tracked(
    client: Any, make_article: Any, catalog: Any, program: Any
) -> None:
    metered = make_article("metered")
    client.get(metered.url)

    assert not ReadingActivity.objects.exists()


def test_a_member_denied_the_page_has_not_read_it(
    client: Any, make_article: Any, catalog: Any, reader: Any, program: Any
) -> None:
    gated = make_article("tier", paywall_min_tier=catalog["premium"])
    client.force_login(reader)
    client.get(gated.url)

    assert not ReadingActivity.objects.exists()


def test_a_head_request_is_not_a_read(
    client: Any, make_article: Any, catalog: Any, premium: Any, program: Any
) -> None:
    gated = make_article("tier", paywall_min_tier=catalog["premium"])
    client.force_login(premium)
    client.head(gated.url)

    assert not ReadingActivity.objects.exists()


def test_a_failed_write_serves_the_page_and_is_tried_again(
    client: Any, make_article: Any, catalog: Any, premium: Any, program: Any
) -> None:
    gated = make_article("tier", paywall_min_tier=catalog["premium"])
    client.force_login(premium)
    with mock.patch.object(activity, "_insert_day", side_effect=RuntimeError("db down")):
        response = client.get(gated.url)
    assert response.status_code == 200
    assert not ReadingActivity.objects.exists()

    invalidate_member(str(premium.pk))
    client.get(gated.url)

    assert ReadingActivity.objects.filter(member_id=str(premium.pk)).count() == 1


def test_a_cache_outage_serves_the_page(
    client: Any, make_article: Any, catalog: Any, premium: Any, program: Any
) -> None:
    gated = make_article("tier", paywall_min_tier=catalog["premium"])
    client.force_login(premium)
    client.get(gated.url)
    read_days.clear()
    with mock.patch.object(type(cache()), "add", side_effect=ConnectionError("cache down")):
        response = client.get(gated.url)

    assert response.status_code == 200
