"""The leak matrix, grown: ``HEAD``, ``OPTIONS``, conditional and ``Range`` requests, and a
read whose meter parallel reads filled while it was decided.

The channels are those of :mod:`tests.wagtail.leak_requests`, which read the body *as the
application hands it to the server*; the canaries, personas and the judge are those of
:mod:`tests.wagtail.leak_matrix`. The stock site runs the same channels
(``tests/stock_site``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from tests.wagtail.gating_helpers import FREE_READS, PREMIUM, TEASER, now
from tests.wagtail.leak_matrix import (
    PERSONAS,
    TEST_SITE,
    Channel,
    World,
    check_channel,
    client_for,
    failure_report,
)
from tests.wagtail.leak_requests import REQUEST_CHANNELS, sent
from wagtail_paywall.models import MeterUsage

pytest_plugins = ["tests.wagtail.gating_fixtures", "tests.wagtail.leak_fixtures"]
pytestmark = pytest.mark.django_db

CHANNELS = TEST_SITE.channels(REQUEST_CHANNELS)


@pytest.mark.parametrize("channel", CHANNELS, ids=[c.name for c in CHANNELS])
def test_no_canary_reaches_a_persona_without_access_by_head_options_conditional_or_range(
    channel: Channel, leak_world: World, request: pytest.FixtureRequest
) -> None:
    users = {p: request.getfixturevalue(f) if f else None for p, f in PERSONAS.items()}
    failed = check_channel(channel, users, leak_world.targets)
    assert not failed, failure_report(channel, failed)


# -- metered reads: what the matrix leaves to the channel ------------------------------------
@pytest.fixture
def metered(make_article: Any, catalog: Any) -> Any:
    return make_article(
        "metered", paywall_min_tier=catalog["supporter"], paywall_meter_free=FREE_READS
    )


def reads_of(user: Any) -> int:
    return MeterUsage.objects.filter(member_id=str(user.pk)).count()


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS"])
def test_head_and_options_of_a_metered_article_show_no_premium_text_and_spend_nothing(
    metered: Any, reader: Any, method: str
) -> None:
    client = client_for(reader)
    status, headers, body = sent(client, method, metered.url)
    assert status == 200
    assert PREMIUM not in body
    assert "no-store" in headers["cache-control"]
    assert reads_of(reader) == 0


def test_head_answers_with_the_status_and_caching_headers_of_the_read(
    metered: Any, reader: Any
) -> None:
    client = client_for(reader)
    head_status, head, _ = sent(client, "HEAD", metered.url)
    get_status, got, body = sent(client, "GET", metered.url)
    assert PREMIUM in body  # the GET spent the free read the HEAD did not
    assert head_status == get_status == 200
    assert head["cache-control"] == got["cache-control"]
    assert head.get("vary") == got.get("vary")


def test_an_anonymous_head_sets_no_meter_cookie(metered: Any) -> None:
    _, headers, body = sent(Client(), "HEAD", metered.url)
    assert PREMIUM not in body
    assert "paywall_meter" not in headers.get("set-cookie", "")


def test_a_read_decided_before_parallel_reads_filled_the_meter_shows_no_premium_text(
    metered: Any, reader: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wagtail_paywall import access

    resolve = access.member_context

    def resolved_then_filled(request: Any) -> Any:
        ctx = resolve(request)  # the meter is empty: the decision will allow a first read
        start = now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        for n in range(FREE_READS):  # ...which parallel requests use up meanwhile
            MeterUsage.objects.get_or_create(
                member_id=str(reader.pk),
                meter="articles",
                resource_key=f"page:parallel-{n}",
                day=start.date(),
                defaults={"used_at": max(start, now() - timedelta(seconds=1))},
            )
        return ctx

    monkeypatch.setattr(access, "member_context", resolved_then_filled)
    html = client_for(reader).get(metered.url).content.decode()
    assert TEASER in html
    assert PREMIUM not in html
    assert "You have read all your free articles for now" in html
    assert reads_of(reader) == FREE_READS
