"""The leak matrix: no persona without access finds a canary on any channel, and the
entitled control finds the full content wherever a channel is meant to carry it.

The canaries, personas and channels are data in :mod:`tests.wagtail.leak_matrix`.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.wagtail.leak_matrix import CHANNELS, PERSONAS, Channel, World, client_for, judge

pytest_plugins = ["tests.wagtail.gating_fixtures", "tests.wagtail.leak_fixtures"]
pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("channel", CHANNELS, ids=[c.name for c in CHANNELS])
def test_no_canary_reaches_a_persona_without_access_and_the_control_sees_it_all(
    channel: Channel, leak_world: World, request: pytest.FixtureRequest
) -> None:
    # Every persona in one test: planting the canaries is the slow part.
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
