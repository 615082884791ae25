"""Test tooling for provider authors.

- :class:`~membership_sdk.testing.contract.ProviderContract`: the contract suite every
  payment provider must pass, as a test-class mixin.
- :class:`~membership_sdk.testing.recorder.HookRecorder`: a plugin recording hook calls.
- :func:`~membership_sdk.testing.sample.sample_catalog` and
  :func:`~membership_sdk.testing.sample.sample_program`: a small catalog and program.
- :mod:`membership_sdk.testing.plugin`: the pytest plugin (loaded automatically through
  the ``pytest11`` entry point) offering these as ``membership_*`` fixtures.
"""

from __future__ import annotations

import pytest

# Plain asserts in the contract report their values, as in the author's own tests.
pytest.register_assert_rewrite("membership_sdk.testing.contract")

from .contract import ProviderContract  # noqa: E402
from .recorder import LIFECYCLE_HOOKS, HookCall, HookRecorder  # noqa: E402
from .sample import sample_catalog, sample_program  # noqa: E402

__all__ = [
    "LIFECYCLE_HOOKS",
    "HookCall",
    "HookRecorder",
    "ProviderContract",
    "sample_catalog",
    "sample_program",
]
