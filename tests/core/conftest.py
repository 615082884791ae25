"""Fixtures for the core tests; the builders behind them live in :mod:`sdk_builders`."""

from __future__ import annotations

import pytest
from sdk_builders import Clock, HookRecorder, make_catalog, make_program

from membership_sdk import Catalog, MembershipProgram


@pytest.fixture
def catalog() -> Catalog:
    return make_catalog()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hooks() -> HookRecorder:
    return HookRecorder()


@pytest.fixture
def program(catalog: Catalog, clock: Clock, hooks: HookRecorder) -> MembershipProgram:
    """A program on a fresh memory store whose lifecycle hooks ``hooks`` records."""
    return make_program(catalog, clock=clock, plugins=(hooks,))
