"""pytest plugin shipped with the SDK, loaded through the ``pytest11`` entry point.

Its fixtures are prefixed ``membership_`` so they never clash with a project's own:

``membership_store``
    an empty :class:`~membership_sdk.memory.MemoryStore`.
``membership_hooks``
    a :class:`~membership_sdk.testing.recorder.HookRecorder` (register it with your
    plugin manager, or pass it to ``membership_program``).
``membership_catalog``
    :func:`~membership_sdk.testing.sample.sample_catalog`, to call with your provider's
    name and price ids.
``membership_program``
    a factory ``(catalog, config=None, plugins=()) -> MembershipProgram`` using
    ``membership_store`` and recording hooks in ``membership_hooks``.

The contract suite itself is :class:`membership_sdk.testing.ProviderContract`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pytest

from ..catalog import Catalog
from ..memory import MemoryStore
from ..program import MembershipProgram
from .recorder import HookRecorder
from .sample import sample_catalog, sample_program

ProgramFactory = Callable[..., MembershipProgram]


@pytest.fixture
def membership_store() -> MemoryStore:
    """An empty in-memory store."""
    return MemoryStore()


@pytest.fixture
def membership_hooks() -> HookRecorder:
    """A plugin recording every hook call."""
    return HookRecorder()


@pytest.fixture
def membership_catalog() -> Callable[..., Catalog]:
    """The sample catalog factory: ``membership_catalog("myprovider", monthly="price_1")``."""
    return sample_catalog


@pytest.fixture
def membership_program(
    membership_store: MemoryStore, membership_hooks: HookRecorder
) -> ProgramFactory:
    """A factory of programs over ``membership_store`` that record hooks in
    ``membership_hooks``."""

    def make(
        catalog: Catalog,
        config: Mapping[str, Mapping[str, Any]] | None = None,
        plugins: Iterable[object] = (),
    ) -> MembershipProgram:
        return sample_program(
            catalog, config=config, plugins=[membership_hooks, *plugins], store=membership_store
        )

    return make
