"""``seed_demo`` is idempotent: a second run changes nothing."""

from __future__ import annotations

import pytest

from .conftest import manage

pytestmark = pytest.mark.e2e

#: What seed_demo creates (and the journey test never changes).
SEEDED = [
    "wagtail_paywall.tier",
    "wagtail_paywall.price",
    "wagtailcore.site",
    "wagtailcore.page",
    "wagtailcore.revision",
    "demo",
]


def test_seeding_twice_changes_nothing(seeded_demo: dict[str, str]) -> None:
    before = manage(seeded_demo, "dumpdata", *SEEDED, "--indent=1")
    output = manage(seeded_demo, "seed_demo")
    after = manage(seeded_demo, "dumpdata", *SEEDED, "--indent=1")
    assert "nothing changed" in output
    assert "admin@example.com" in output  # the credentials are printed every time
    assert after == before
    assert before.count('"model": "demo.articlepage"') == 20
    assert before.count('"model": "demo.lessonpage"') == 5
    assert before.count('"model": "demo.demodocument"') == 5
