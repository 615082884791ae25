"""The leak matrix, run inside the stock site: ``python -m tests.stock_site.leak_run OUT``.

In the site's own test settings (``DJANGO_SETTINGS_MODULE``), on a fresh test database made
the way Django's test runner makes one (an SQLite file, or PostgreSQL when the site's
settings say so) with ``DEBUG`` off, it runs every channel of the matrix the stock site
has (:data:`tests.stock_site.leak_site.STOCK_SITE`) for every persona and canary: each
channel on a database of its own (the canaries and personas planted in a transaction that
is rolled back afterwards, as pytest-django does for a test) and with empty caches. Then
one free member opens twenty metered articles at once, each request in a thread with a
database connection of its own, and another sends twenty ``HEAD`` and ``OPTIONS``
requests at once.

It writes every outcome, the channels that raised and the parallel reads' responses to
``OUT`` as JSON, and asserts nothing: :mod:`tests.stock_site.test_leak_matrix` judges.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import Any

#: requests sent at once by the parallel reads (the issue asks for at least 20).
PARALLEL = 20


def fresh() -> None:
    """Empty caches and a program built anew, as ``tests/wagtail/conftest.py`` gives each
    test."""
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache

    from wagtail_paywall import program
    from wagtail_paywall.access import local_rows

    for alias in caches:
        if isinstance(caches[alias], LocMemCache):  # never a cache others share
            caches[alias].clear()
    local_rows.clear()
    program.reset_program()


def matrix() -> dict[str, Any]:
    from django.db import transaction
    from django.test import override_settings

    from tests.stock_site.leak_site import STOCK_SITE, article_maker, catalog, personas
    from tests.wagtail.leak_matrix import CHANNELS, OUTCOMES, World, check_channel
    from tests.wagtail.leak_requests import REQUEST_CHANNELS

    errors = {}
    media = tempfile.mkdtemp(prefix="stock-site-media-")  # the premium document's file
    for channel in STOCK_SITE.channels((*CHANNELS, *REQUEST_CHANNELS)):
        fresh()
        try:
            with override_settings(MEDIA_ROOT=media), transaction.atomic():
                tiers = catalog()
                users = personas()
                world = World(tiers, users["entitled"], article_maker(), STOCK_SITE)
                world.plant()
                check_channel(channel, users, world.targets)
                transaction.set_rollback(True)
        except Exception:
            errors[channel.name] = traceback.format_exc()
    fresh()
    shutil.rmtree(media, ignore_errors=True)
    return {"outcomes": [asdict(o) for o in OUTCOMES], "errors": errors}


def at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run ``calls`` together, one thread each (and a connection each), released by one
    barrier."""
    from django.db import connections

    start = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        try:
            start.wait()
            return call()
        finally:
            connections.close_all()  # this thread's connections

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def parallel_reads() -> dict[str, Any]:
    """Committed data, as a running site has it: twenty metered articles (three free
    reads a month), a free member opening all of them at once, and another member
    sending ``HEAD`` and ``OPTIONS`` for ten of them at once, then reading four in turn."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from tests.stock_site.leak_site import article_maker, catalog
    from tests.wagtail.gating_helpers import FREE_READS, PREMIUM, TEASER, body
    from tests.wagtail.leak_matrix import client_for, read
    from wagtail_paywall.models import MeterUsage

    fresh()
    tiers = catalog()
    make = article_maker()
    articles = [
        make(
            "metered",
            title=f"Parallel {n}",
            slug=f"parallel-{n}",
            paywall_min_tier=tiers["premium"],
            paywall_meter_free=FREE_READS,
            body=body(TEASER, PREMIUM),
        ).url
        for n in range(PARALLEL)
    ]
    users = get_user_model().objects

    def browser_of(name: str) -> Callable[[], Client]:
        logged_in = client_for(users.create_user(name, f"{name}@example.com", "x"))

        def browser() -> Client:
            client = Client()  # the member's session, in a browser of its own
            client.cookies.load({key: morsel.value for key, morsel in logged_in.cookies.items()})
            return client

        return browser

    def spent(name: str) -> int:
        return MeterUsage.objects.filter(member_id=str(users.get(username=name).pk)).count()

    reader = browser_of("parallel-reader")
    responses = at_once([lambda url=url: reader().get(url) for url in articles])
    pages = [(r.status_code, read(r)) for r in responses]
    again = [read(reader().get(url)) for url in articles]

    prober = browser_of("parallel-prober")
    calls = [
        lambda method=method, url=url: getattr(prober(), method)(url)
        for method in ("head", "options")
        for url in articles[: PARALLEL // 2]
    ]
    probes = at_once(calls)
    probe_answers = [(r.status_code, r.headers.get("Cache-Control", ""), read(r)) for r in probes]
    spent_by_probes = spent("parallel-prober")
    after = [read(prober().get(url)) for url in articles[: FREE_READS + 1]]
    return {
        "free reads": FREE_READS,
        "requests": PARALLEL,
        "statuses": [status for status, _ in pages],
        "teaser": [TEASER in text for _, text in pages],
        "full": [PREMIUM in text for _, text in pages],
        "full when read again": [PREMIUM in text for text in again],
        "reads stored": spent("parallel-reader"),
        "probes": [
            {"status": s, "cache-control": c, "premium": PREMIUM in t} for s, c, t in probe_answers
        ],
        "reads spent by the probes": spent_by_probes,
        "prober's reads afterwards": [PREMIUM in text for text in after],
    }


def main(out: str) -> None:
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    setup_test_environment(debug=False)  # DEBUG off, as manage.py test turns it off
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        found = {"database": connection.vendor, **matrix()}
        try:
            found["parallel"] = parallel_reads()
        except Exception:
            found["parallel"] = {"error": traceback.format_exc()}
    finally:
        connection.creation.destroy_test_db(name, verbosity=0)
        teardown_test_environment()
    with open(out, "w", encoding="utf-8") as file:
        json.dump(found, file)


if __name__ == "__main__":
    main(sys.argv[1])
