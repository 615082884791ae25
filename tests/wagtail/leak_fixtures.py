"""Fixtures of the leak matrix (the entitled control, every canary planted) and the
line that prints its size and result at the end of the run.

Test modules load them with ``pytest_plugins = ["tests.wagtail.leak_fixtures"]``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from django.test import override_settings

from membership_sdk import GrantKind
from tests.wagtail.leak_matrix import OUTCOMES, PURCHASE_ITEM, TEST_SITE, World, summary


@pytest.fixture
def entitled(make_user: Callable[..., Any], program: Any) -> Any:
    """The control: a Premium member who also bought the purchase-only article."""
    user = make_user("entitled")
    program.grant(str(user.pk), GrantKind.COMP, tier="premium", days=30)
    program.grant(str(user.pk), GrantKind.PURCHASE, item=PURCHASE_ITEM)
    return user


@pytest.fixture
def leak_world(
    tmp_path: Any,
    catalog: Mapping[str, Any],
    entitled: Any,
    make_article: Callable[..., Any],
    make_course: Callable[..., Any],
    make_lesson: Callable[..., Any],
) -> Iterator[World]:
    """Every canary planted in the test site; documents stored under a temporary root."""
    with override_settings(
        WAGTAILDOCS_DOCUMENT_MODEL="testapp.PaywalledDocument", MEDIA_ROOT=str(tmp_path)
    ):
        world = World(catalog, entitled, make_article, TEST_SITE, make_course, make_lesson)
        world.plant()
        yield world


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the matrix's size and result after a run that went through it."""
    if not OUTCOMES:
        return
    terminalreporter.write_sep("-", "leak matrix")
    for line in summary(OUTCOMES):
        terminalreporter.write_line(line)
