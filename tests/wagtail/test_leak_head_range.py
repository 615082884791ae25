"""The leak matrix, grown: ``HEAD``, ``OPTIONS``, conditional and ``Range`` requests, and a
read whose meter parallel reads filled while it was decided.

The channels here read the body *as the application hands it to the server*: Django's
test client, like runserver and gunicorn, drops the body of a ``HEAD`` response, but a
server need not, and an ``OPTIONS`` body is always sent. The canaries, personas and the
judge are those of :mod:`tests.wagtail.leak_matrix` (used read-only).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client, RequestFactory

from tests.wagtail.gating_helpers import FREE_READS, PREMIUM, TEASER, now
from tests.wagtail.leak_matrix import (
    BLOCK,
    DOCUMENT,
    FULL,
    NOTHING,
    PAGE,
    PERSONAS,
    TEASER_ONLY,
    Channel,
    Target,
    World,
    client_for,
    judge,
)
from wagtail_paywall.models import MeterUsage

pytest_plugins = ["tests.wagtail.gating_fixtures", "tests.wagtail.leak_fixtures"]
pytestmark = pytest.mark.django_db

EVERYTHING = frozenset({PAGE, BLOCK, DOCUMENT})
RENDERED = frozenset({PAGE, BLOCK})
DOCUMENTS = frozenset({DOCUMENT})
STALE_DATE = "Sat, 01 Jan 2000 00:00:00 GMT"


def sent(client: Client, method: str, url: str, **headers: str) -> tuple[int, dict[str, str], str]:
    """Status, headers and body of ``method url`` as the application returns them to the
    server, before any server drops a ``HEAD`` body; with ``client``'s cookies."""
    cookie = "; ".join(f"{name}={morsel.value}" for name, morsel in client.cookies.items())
    request = RequestFactory().generic(method, url, HTTP_COOKIE=cookie, **headers)
    answer: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]], *_: Any) -> None:
        answer["status"] = int(status.split()[0])
        answer["headers"] = {k.lower(): v for k, v in response_headers}

    # As Django's test client does: the test's own connection (and its transaction) must
    # outlive the request, which a server would close at its start and end.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        chunks = WSGIHandler()(request.environ, start_response)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if callable(close):
                close()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return answer["status"], answer["headers"], body.decode("utf-8", errors="replace")


def body_of(method: str, **headers: str) -> Callable[[Client, Target], str]:
    def fetch(client: Client, target: Target) -> str:
        return sent(client, method, target.url, **headers)[2]

    fetch.__name__ = f"{method.lower()}_body"
    return fetch


CHANNELS: tuple[Channel, ...] = (
    Channel("HEAD, the body the app sends", body_of("HEAD"), FULL, EVERYTHING),
    # Wagtail answers a page's OPTIONS with its Allow header; a document's, with the file.
    Channel("OPTIONS of a page", body_of("OPTIONS"), NOTHING, RENDERED),
    Channel("OPTIONS of a document", body_of("OPTIONS"), FULL, DOCUMENTS),
    Channel(
        "conditional GET, stale validators",
        body_of("GET", HTTP_IF_NONE_MATCH='"stale"', HTTP_IF_MODIFIED_SINCE=STALE_DATE),
        FULL,
        EVERYTHING,
    ),
    Channel(
        "conditional GET, If-None-Match: *",
        body_of("GET", HTTP_IF_NONE_MATCH="*"),
        TEASER_ONLY,
        EVERYTHING,
    ),
    Channel("Range: bytes=0-", body_of("GET", HTTP_RANGE="bytes=0-"), FULL, EVERYTHING),
    Channel("Range: bytes=9-", body_of("GET", HTTP_RANGE="bytes=9-"), TEASER_ONLY, EVERYTHING),
    Channel(
        "HEAD with Range and a stale If-Range",
        body_of("HEAD", HTTP_RANGE="bytes=0-", HTTP_IF_RANGE=STALE_DATE),
        FULL,
        EVERYTHING,
    ),
)


@pytest.mark.parametrize("channel", CHANNELS, ids=[c.name for c in CHANNELS])
def test_no_canary_reaches_a_persona_without_access_by_head_options_conditional_or_range(
    channel: Channel, leak_world: World, request: pytest.FixtureRequest
) -> None:
    failures = []
    for persona, fixture in PERSONAS.items():
        user: Any = request.getfixturevalue(fixture) if fixture else None
        client = client_for(user)
        for target in leak_world.targets:
            text = channel.fetch(client, target) if target.kind in channel.kinds else None
            outcome = judge(channel, persona, target, text)
            if outcome.failed:
                failures.append(f"{persona} / {outcome.canary}: {outcome.result}, {outcome.detail}")
    assert not failures, f"{channel.name}:\n" + "\n".join(failures)


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
