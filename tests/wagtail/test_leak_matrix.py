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


@pytest.mark.parametrize("persona", list(PERSONAS))
@pytest.mark.parametrize("channel", CHANNELS, ids=[c.name for c in CHANNELS])
def test_no_canary_reaches_a_persona_without_access(
    channel: Channel, persona: str, leak_world: World, request: pytest.FixtureRequest
) -> None:
    fixture = PERSONAS[persona]
    user: Any = request.getfixturevalue(fixture) if fixture else None
    client = client_for(user)
    outcomes = []
    for target in leak_world.targets:
        text = channel.fetch(client, target) if target.kind in channel.kinds else None
        outcomes.append(judge(channel, persona, target, text))
    failures = [
        f"{o.canary}: {o.result} ({o.detail})" for o in outcomes if o.result not in ("ok", "n/a")
    ]
    assert not failures, f"{channel.name} as {persona}: " + "; ".join(failures)
