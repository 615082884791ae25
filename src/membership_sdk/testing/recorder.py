"""A plugin that records every lifecycle hook call, for tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..events import ApplyResult, BillingEvent
from ..hookspecs import hookimpl
from ..membership import Grant, Membership

#: The hooks that report a membership's lifecycle, in the order they usually happen.
LIFECYCLE_HOOKS = (
    "membership_activated",
    "membership_renewed",
    "membership_payment_failed",
    "membership_canceled",
    "membership_expired",
)


@dataclass(frozen=True, slots=True)
class HookCall:
    """One hook call: the hook's name and the arguments it was called with."""

    name: str
    kwargs: dict[str, Any] = field(default_factory=dict)


class HookRecorder:
    """Register it with a plugin manager (``pm.register(recorder)``) to see which hooks
    fire, in order, with which arguments."""

    def __init__(self) -> None:
        self.calls: list[HookCall] = []

    def _record(self, name: str, **kwargs: Any) -> None:
        self.calls.append(HookCall(name, kwargs))

    def names(self, *, lifecycle_only: bool = True) -> list[str]:
        """Names of the hooks called so far (only lifecycle hooks unless told otherwise)."""
        return [c.name for c in self.calls if not lifecycle_only or c.name in LIFECYCLE_HOOKS]

    def count(self, name: str) -> int:
        return sum(1 for c in self.calls if c.name == name)

    def clear(self) -> None:
        self.calls.clear()

    @hookimpl
    def membership_activated(self, membership: Membership, event: BillingEvent | None) -> None:
        self._record("membership_activated", membership=membership, event=event)

    @hookimpl
    def membership_renewed(self, membership: Membership, event: BillingEvent | None) -> None:
        self._record("membership_renewed", membership=membership, event=event)

    @hookimpl
    def membership_payment_failed(self, membership: Membership, event: BillingEvent | None) -> None:
        self._record("membership_payment_failed", membership=membership, event=event)

    @hookimpl
    def membership_canceled(self, membership: Membership, event: BillingEvent | None) -> None:
        self._record("membership_canceled", membership=membership, event=event)

    @hookimpl
    def membership_expired(self, membership: Membership, event: BillingEvent | None) -> None:
        self._record("membership_expired", membership=membership, event=event)

    @hookimpl
    def membership_access_changed(self, member_id: str) -> None:
        self._record("membership_access_changed", member_id=member_id)

    @hookimpl
    def membership_grant_changed(self, grant: Grant, action: str) -> None:
        self._record("membership_grant_changed", grant=grant, action=action)

    @hookimpl
    def membership_event_ignored(self, result: ApplyResult) -> None:
        self._record("membership_event_ignored", result=result)
