"""Meters and quotas hold when one member opens many things at once.

A member's browser (or a script with the member's session) may open every metered
article of a front page in parallel. Each request decides from the usage stored a moment
before, so deciding alone would let all of them through; the reservation that follows
must let exactly the free reads left through, on SQLite and on PostgreSQL alike. Each
request here runs in a thread of its own, with a database connection of its own.

SQLite is covered by ``tests/multiprocess/test_parallel_reads.py``, on a database file.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.db import connections
from django.test import Client, override_settings
from django.urls import reverse

from tests.wagtail.gating_helpers import FREE_READS, PREMIUM, TEASER, now
from tests.wagtail.testapp.models import PaywalledDocument
from wagtail_paywall.models import MeterUsage
from wagtail_paywall.program import get_program

pytest_plugins = ["tests.wagtail.gating_fixtures"]
# Threads use connections of their own, which only see committed rows; the flush after
# each test would drop the site and root page the migrations made, so they are restored.
pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL"),
        reason="threads of SQLite's in-memory test database share one cache, whose table "
        "locks fail at once instead of waiting: tests/multiprocess runs these reads on an "
        "SQLite file, this module on PostgreSQL (DATABASE_URL)",
    ),
]

PARALLEL = 20
SECRET = b"%PDF-1.7 premium report bytes"


def in_parallel(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run ``calls`` at once, one thread each, released together by a barrier."""
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        try:
            start.wait()
            return call()
        finally:
            connections.close_all()  # this thread's connections

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def usage_of(user: Any, meter: str) -> set[str]:
    rows = MeterUsage.objects.filter(member_id=str(user.pk), meter=meter)
    return set(rows.values_list("resource_key", flat=True))


@pytest.fixture
def metered_articles(make_article: Any, catalog: Any) -> list[Any]:
    return [
        make_article(
            "metered", paywall_min_tier=catalog["supporter"], paywall_meter_free=FREE_READS
        )
        for _ in range(PARALLEL)
    ]


def test_parallel_first_reads_give_a_member_exactly_the_free_articles(
    metered_articles: list[Any], reader: Any
) -> None:
    client = logged_in(reader)
    responses = in_parallel([lambda p=page: client.get(p.url) for page in metered_articles])
    assert {r.status_code for r in responses} == {200}
    pages = [r.content.decode() for r in responses]
    assert all(TEASER in html for html in pages)
    assert sum(PREMIUM in html for html in pages) == FREE_READS
    refused = [html for html in pages if PREMIUM not in html]
    assert all("You have read all your free articles for now" in html for html in refused)
    assert len(usage_of(reader, "articles")) == FREE_READS


def test_parallel_reads_of_one_article_spend_one_free_read(
    metered_articles: list[Any], reader: Any
) -> None:
    client = logged_in(reader)
    first = metered_articles[0]
    responses = in_parallel([lambda: client.get(first.url) for _ in range(10)])
    assert all(PREMIUM in r.content.decode() for r in responses)
    assert usage_of(reader, "articles") == {first.paywall_key}


def test_after_parallel_reads_the_articles_read_stay_open_and_the_others_closed(
    metered_articles: list[Any], reader: Any
) -> None:
    client = logged_in(reader)
    responses = in_parallel([lambda p=page: client.get(p.url) for page in metered_articles])
    full = [PREMIUM in r.content.decode() for r in responses]
    opened = [p for p, whole in zip(metered_articles, full, strict=True) if whole]
    closed = [p for p in metered_articles if p not in opened]
    assert all(PREMIUM in client.get(p.url).content.decode() for p in opened)
    assert not any(PREMIUM in client.get(p.url).content.decode() for p in closed)


def test_two_members_reading_in_parallel_do_not_share_a_meter(
    metered_articles: list[Any], make_user: Any
) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    clients = {"alice": logged_in(alice), "bob": logged_in(bob)}
    calls = [
        lambda who=who, p=page: (who, PREMIUM in clients[who].get(p.url).content.decode())
        for who in clients
        for page in metered_articles[:8]
    ]
    results = in_parallel(calls)
    for who in clients:
        assert sum(full for name, full in results if name == who) == FREE_READS


def test_parallel_reservations_of_the_store_count_exactly(reader: Any, program: Any) -> None:
    meters = get_program().store.meters
    since = now() - timedelta(days=30)
    member = str(reader.pk)
    results = in_parallel(
        [
            lambda n=n: meters.reserve(member, "articles", f"page:{n}", 5, since, now())
            for n in range(PARALLEL)
        ]
    )
    assert sorted(r for r in results if r is not None) == [1, 2, 3, 4, 5]
    assert results.count(None) == PARALLEL - 5


# -- downloads --------------------------------------------------------------------------------
@pytest.fixture
def documents(tmp_path: Any, catalog: Any) -> Iterator[list[PaywalledDocument]]:
    with override_settings(
        WAGTAILDOCS_DOCUMENT_MODEL="testapp.PaywalledDocument", MEDIA_ROOT=str(tmp_path)
    ):
        made = []
        for n in range(PARALLEL):
            document = PaywalledDocument(
                title=f"Report {n}", paywall_rule="entitlement", paywall_entitlement="downloads"
            )
            document.file.save(f"report-{n}.pdf", ContentFile(SECRET), save=False)
            document.save()
            made.append(document)
        yield made


def download_url(document: PaywalledDocument) -> str:
    return reverse("wagtaildocs_serve", args=(document.pk, document.filename))


def test_parallel_downloads_give_a_member_exactly_the_quota(
    documents: list[PaywalledDocument], premium: Any
) -> None:
    client = logged_in(premium)  # Premium: downloads, 10 per month
    responses = in_parallel([lambda d=d: client.get(download_url(d)) for d in documents])
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 10 + [403] * (PARALLEL - 10)
    assert len(usage_of(premium, "downloads")) == 10


def test_parallel_range_requests_of_one_document_spend_one_download(
    documents: list[PaywalledDocument], premium: Any
) -> None:
    client = logged_in(premium)
    first = documents[0]
    responses = in_parallel(
        [lambda: client.get(download_url(first), HTTP_RANGE="bytes=0-7") for _ in range(8)]
    )
    assert {r.status_code for r in responses} <= {200, 206}
    assert usage_of(premium, "downloads") == {first.paywall_key}
