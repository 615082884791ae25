"""The leak matrix: no persona without access finds a canary on any channel, and the
entitled control finds the full content wherever a channel is meant to carry it.

The canaries, personas and channels are data in :mod:`tests.wagtail.leak_matrix`; this
module runs them against the test site (:data:`~tests.wagtail.leak_matrix.TEST_SITE`),
``tests/stock_site`` against a project made by ``wagtail start``.
"""

from __future__ import annotations

import pytest

from tests.wagtail.leak_matrix import (
    PERSONAS,
    TEST_SITE,
    Channel,
    World,
    check_channel,
    failure_report,
)

pytest_plugins = ["tests.wagtail.gating_fixtures", "tests.wagtail.leak_fixtures"]
pytestmark = pytest.mark.django_db

CHANNELS = TEST_SITE.channels()


@pytest.mark.parametrize("channel", CHANNELS, ids=[c.name for c in CHANNELS])
def test_no_canary_reaches_a_persona_without_access_and_the_control_sees_it_all(
    channel: Channel, leak_world: World, request: pytest.FixtureRequest
) -> None:
    # Every persona in one test: planting the canaries is the slow part.
    users = {p: request.getfixturevalue(f) if f else None for p, f in PERSONAS.items()}
    failed = check_channel(channel, users, leak_world.targets)
    assert not failed, failure_report(channel, failed)
