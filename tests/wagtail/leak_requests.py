"""Channels of the leak matrix beside a plain ``GET``: ``HEAD``, ``OPTIONS``, conditional
and ``Range`` requests, as a browser, a download manager or a link checker sends them.

They read the body *as the application hands it to the server*: Django's test client,
like runserver and gunicorn, drops the body of a ``HEAD`` response, but a server need
not, and an ``OPTIONS`` body is always sent. Both sites run them
(``tests/wagtail/test_leak_head_range.py``, ``tests/stock_site``); like
:mod:`tests.wagtail.leak_matrix`, this module imports no model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client, RequestFactory

from tests.wagtail.leak_matrix import (
    DOCUMENTS,
    EVERYTHING,
    FULL,
    NOTHING,
    RENDERED,
    TEASER_ONLY,
    Channel,
    Target,
)

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


REQUEST_CHANNELS: tuple[Channel, ...] = (
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
