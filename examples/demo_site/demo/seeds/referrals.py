"""Demo data for referrals (placeholder until its part of issue 17 lands)."""

from __future__ import annotations

from typing import Any


def seed(command: Any) -> None:
    """Create the demo's referrals data if missing; ``command.note(what)`` logs it."""
