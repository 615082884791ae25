"""One member opening many metered articles, or downloads, at once: several gunicorn worker
processes serve the parallel requests, and exactly the free reads (or the quota) are full.

Deciding from the usage stored a moment before would let every parallel request through
(the reported bug: 4 to 6 full reads of 6, with 3 free). The read is reserved atomically
instead, on PostgreSQL with an advisory lock per member and meter, on SQLite with the
database's write lock. Both databases are run here: PostgreSQL when ``DATABASE_URL`` names
one, SQLite in a file always (in a file, each worker has connections of its own, as on a
real site). Both need the shared Redis cache (``REDIS_URL``) the servers' settings use.

``HEAD`` and ``OPTIONS`` requests are answered like the read they stand for but never
spend it.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from threading import Barrier
from typing import Any

import pytest

from .conftest import (
    DATABASE_URL,
    REDIS_URL,
    ROOT,
    Browser,
    Server,
    _run,
    _start,
    _wait_until_up,
    with_database,
)

SETTINGS = "tests.multiprocess.settings_meters"
WORKERS = 4
PARALLEL = 24

BACKENDS = [
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(
            not DATABASE_URL.startswith(("postgres://", "postgresql://")),
            reason="needs a PostgreSQL server (DATABASE_URL=postgres://...)",
        ),
    ),
    "sqlite",
]
pytestmark = pytest.mark.skipif(
    not REDIS_URL, reason="the servers share a Redis cache (REDIS_URL=redis://...)"
)


@dataclass
class Site:
    server: Server
    seed: dict[str, Any]

    def member(self, username: str) -> Browser:
        browser = Browser()
        browser.log_in(self.server, self.seed["login"], username, self.seed["password"])
        return browser


@pytest.fixture(scope="module", params=BACKENDS)
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    pytest.importorskip("gunicorn", reason="the multi-process tests serve the site with gunicorn")
    redis = pytest.importorskip("redis")
    backend: str = request.param
    workdir = tmp_path_factory.mktemp(f"parallel-reads-{backend}")
    token = uuid.uuid4().hex[:12]
    prefix = f"paywall-parallel-{token}"
    database = f"paywall_parallel_{token}"
    if backend == "postgresql":
        psycopg = pytest.importorskip("psycopg")
        with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        url = with_database(DATABASE_URL, database)
    else:
        url = f"sqlite:///{workdir / 'site.sqlite3'}"
    cache = redis.Redis.from_url(REDIS_URL)
    server: Server | None = None
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
        env.update(
            DJANGO_SETTINGS_MODULE=SETTINGS,
            DATABASE_URL=url,
            REDIS_URL=REDIS_URL,
            PAYWALL_CACHE_PREFIX=prefix,
            PAYWALL_TEST_MEDIA=str(workdir / "media"),
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
            PYTHONUNBUFFERED="1",
        )
        _run(env, "-m", "django", "migrate", "--noinput", "-v0")
        seed = json.loads(_run(env, "-m", "tests.multiprocess.seed_meters"))
        server = _start(backend, env, workdir, workers=WORKERS)
        _wait_until_up(server)
        yield Site(server, seed)
    finally:
        if server is not None:
            server.stop()
        for key in cache.scan_iter(match=f"{prefix}:*"):
            cache.delete(key)
        cache.close()
        if backend == "postgresql":
            with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Send ``calls`` together: one client thread each, released by one barrier."""
    start = Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        start.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def test_a_free_member_opening_every_metered_article_at_once_reads_exactly_the_free_ones(
    site: Site,
) -> None:
    seed = site.seed
    reader = site.member("reader")
    articles = seed["articles"][:PARALLEL]
    responses = at_once([lambda path=path: reader.get(site.server, path) for path in articles])
    assert {status for status, _, _ in responses} == {200}
    assert all(seed["teaser"] in page for _, _, page in responses)
    full = [
        path
        for path, (_, _, page) in zip(articles, responses, strict=True)
        if seed["premium"] in page
    ]
    assert len(full) == seed["free_reads"]
    # What was read stays readable; the rest stays closed.
    for path in articles:
        _, _, page = reader.get(site.server, path)
        assert (seed["premium"] in page) is (path in full)


def test_a_member_downloading_every_document_at_once_gets_exactly_the_quota(
    site: Site,
) -> None:
    seed = site.seed
    subscriber = site.member("subscriber")
    documents = seed["documents"][:PARALLEL]
    responses = at_once([lambda path=path: subscriber.get(site.server, path) for path in documents])
    statuses = sorted(status for status, _, _ in responses)
    assert statuses == [200] * seed["downloads"] + [403] * (PARALLEL - seed["downloads"])
    assert all(body == seed["file"] for status, _, body in responses if status == 200)
    assert not any(seed["file"] in body for status, _, body in responses if status != 200)


def test_head_and_options_requests_in_parallel_never_spend_a_read(site: Site) -> None:
    seed = site.seed
    prober = site.member("prober")
    articles = seed["articles"][:PARALLEL]
    calls = [
        lambda method=method, path=path: prober.request(site.server, method, path)
        for method in ("HEAD", "OPTIONS")
        for path in articles[: PARALLEL // 2]
    ]
    for status, headers, body in at_once(calls):
        assert status == 200
        assert "no-store" in headers.get("cache-control", "")
        assert seed["premium"] not in body
    # Every free read is still there: the first ones read in full, then the paywall.
    pages = [prober.get(site.server, path)[2] for path in articles[: seed["free_reads"] + 1]]
    assert [seed["premium"] in page for page in pages] == [True] * seed["free_reads"] + [False]


def test_head_of_a_download_never_spends_the_quota(site: Site) -> None:
    seed = site.seed
    prober = site.member("prober")  # no download entitlement: a HEAD is refused as a GET is
    status, _, body = prober.request(site.server, "HEAD", seed["documents"][0])
    assert status == 403
    assert body == ""
