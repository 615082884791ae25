"""The leak matrix on the stock site: a project made by ``wagtail start``, with Wagtail's
API v2 at ``/api/v2/`` and the paywall added as ``docs/existing-site.md`` says.

Every channel the site has (its page, Wagtail's own pages API and its search and ranking,
the stock search view, the paywall's search and feeds, previews, error pages, caches,
``HEAD``, ``OPTIONS``, conditional and ``Range`` requests) is asked by every persona about
every canary the site holds (:data:`tests.stock_site.leak_site.STOCK_SITE`), with the
channels, personas and judge of the test site's matrix (:mod:`tests.wagtail.leak_matrix`).
The matrix runs inside the site (:mod:`tests.stock_site.leak_run`); each test here reads
its outcomes.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.stock_site.leak_site import STOCK_SITE
from tests.wagtail.leak_matrix import (
    CHANNELS,
    FULL,
    PERSONAS,
    Channel,
    Outcome,
    failure_report,
    may_read,
)
from tests.wagtail.leak_requests import REQUEST_CHANNELS

STOCK_CHANNELS = STOCK_SITE.channels((*CHANNELS, *REQUEST_CHANNELS))


def outcomes_of(leak_matrix: dict[str, Any], channel: str | None = None) -> list[Outcome]:
    found = [Outcome(**o) for o in leak_matrix["outcomes"]]
    return [o for o in found if channel is None or o.channel == channel]


def test_the_matrix_ran_on_the_database_this_run_is_for(
    leak_matrix: dict[str, Any], database: dict[str, str]
) -> None:
    assert leak_matrix["database"] == ("postgresql" if database else "sqlite")


@pytest.mark.parametrize("channel", STOCK_CHANNELS, ids=[c.name for c in STOCK_CHANNELS])
def test_no_canary_reaches_a_persona_without_access_and_the_control_sees_it_all(
    leak_matrix: dict[str, Any], channel: Channel
) -> None:
    assert channel.name not in leak_matrix["errors"], leak_matrix["errors"][channel.name]
    checked = [o for o in outcomes_of(leak_matrix, channel.name) if o.result != "n/a"]
    assert checked, f"{channel.name} was asked about nothing"
    failed = [o for o in checked if o.failed]
    assert not failed, failure_report(channel, failed)


def test_every_persona_asked_every_channel_about_every_canary_the_site_holds(
    leak_matrix: dict[str, Any],
) -> None:
    found = outcomes_of(leak_matrix)
    assert {o.site for o in found} == {STOCK_SITE.name}
    assert {o.channel for o in found} == {c.name for c in STOCK_CHANNELS}
    assert {o.persona for o in found} == set(PERSONAS)
    assert {o.canary for o in found} == {c.name for c in STOCK_SITE.canaries}
    size = len(STOCK_CHANNELS) * len(PERSONAS) * len(STOCK_SITE.canaries)
    assert len(found) == size


@pytest.mark.parametrize("canary", STOCK_SITE.canaries, ids=[c.name for c in STOCK_SITE.canaries])
def test_a_persona_who_may_read_a_canary_reads_it_on_every_channel_meant_to_carry_it(
    leak_matrix: dict[str, Any], canary: Any
) -> None:
    """No false positive hides a broken setup: whoever may read the canary found it on the
    page (or the download), the API, the member's feed, behind the caches, in ``HEAD``,
    conditional and ``Range`` answers. A draft, which nobody may read, has no reader."""
    full = {c.name for c in STOCK_CHANNELS if c.shows == FULL and canary.kind in c.kinds}
    readers = {p for p in PERSONAS if may_read(canary, p) is True}
    seen = {
        (o.persona, o.channel): o.result
        for o in outcomes_of(leak_matrix)
        if o.canary == canary.name and o.channel in full and o.persona in readers
    }
    assert seen == {(persona, channel): "ok" for persona in readers for channel in full}
    if canary.access:  # a canary someone may read: the page or the file is among them
        assert {"page HTML, scripts off", "document's Wagtail URL"} & full


# -- parallel reads -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def parallel(leak_matrix: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = leak_matrix["parallel"]
    assert "error" not in found, found.get("error")
    return found


def test_a_free_member_opening_twenty_metered_articles_at_once_reads_exactly_the_free_ones(
    parallel: dict[str, Any],
) -> None:
    assert parallel["requests"] >= 20
    assert set(parallel["statuses"]) == {200}
    assert all(parallel["teaser"])
    assert sum(parallel["full"]) == parallel["free reads"]
    assert parallel["reads stored"] == parallel["free reads"]
    # What was read stays readable; the rest stays closed.
    assert parallel["full when read again"] == parallel["full"]


def test_head_and_options_sent_at_once_show_no_premium_text_and_spend_no_read(
    parallel: dict[str, Any],
) -> None:
    for probe in parallel["probes"]:
        assert probe["status"] == 200
        assert "no-store" in probe["cache-control"]
        assert not probe["premium"]
    assert parallel["reads spent by the probes"] == 0
    free = parallel["free reads"]
    assert parallel["prober's reads afterwards"] == [True] * free + [False]
