"""``DjangoMeters.reserve()``: a read is counted only while the window has room.

The same contract as the core's in-memory store (``MeterStore.reserve``), on the
database: parallel callers are in ``test_parallel_reads.py`` and ``tests/multiprocess``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.wagtail.gating_helpers import now
from wagtail_paywall.models import MeterUsage
from wagtail_paywall.store import DjangoMeters

pytestmark = pytest.mark.django_db

MEMBER = "42"


def counted() -> set[str]:
    rows = MeterUsage.objects.filter(member_id=MEMBER, meter="articles")
    return set(rows.values_list("resource_key", flat=True))


@pytest.fixture
def meters() -> DjangoMeters:
    return DjangoMeters()


@pytest.fixture
def since() -> Any:
    return now() - timedelta(days=30)


def test_reads_are_counted_until_the_limit_then_refused(meters: DjangoMeters, since: Any) -> None:
    results = [meters.reserve(MEMBER, "articles", f"page:{n}", 2, since, now()) for n in range(3)]
    assert results == [1, 2, None]
    assert counted() == {"page:0", "page:1"}


def test_a_resource_already_counted_is_allowed_again_without_counting(
    meters: DjangoMeters, since: Any
) -> None:
    meters.reserve(MEMBER, "articles", "page:0", 2, since, now())
    meters.reserve(MEMBER, "articles", "page:1", 2, since, now())
    assert meters.reserve(MEMBER, "articles", "page:0", 2, since, now()) == 2
    assert MeterUsage.objects.filter(member_id=MEMBER).count() == 2


def test_uses_before_the_window_leave_room(meters: DjangoMeters, since: Any) -> None:
    old = since - timedelta(days=1)
    meters.record(MEMBER, "articles", "page:old", old)
    assert meters.reserve(MEMBER, "articles", "page:old", 1, since, now()) == 1
    assert meters.reserve(MEMBER, "articles", "page:new", 1, since, now()) is None


def test_other_meters_and_members_do_not_count(meters: DjangoMeters, since: Any) -> None:
    meters.record(MEMBER, "downloads", "doc:1", now())
    meters.record("43", "articles", "page:9", now())
    assert meters.reserve(MEMBER, "articles", "page:1", 1, since, now()) == 1
