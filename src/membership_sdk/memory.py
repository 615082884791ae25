"""In-memory implementations of the storage ports, for tests, scripts and the demo."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta

from .events import ApplyResult
from .membership import TERMINAL, Grant, Membership

_EPSILON = timedelta(microseconds=1)


class MemoryMemberships:
    def __init__(self) -> None:
        self.rows: dict[str, Membership] = {}
        self._ids = itertools.count(1)

    def get(self, membership_id: str) -> Membership | None:
        return self.rows.get(membership_id)

    def by_provider_id(self, provider: str, subscription_id: str) -> Membership | None:
        for m in self.rows.values():
            if m.provider == provider and m.provider_subscription_id == subscription_id:
                return m
        return None

    def for_member(self, member_id: str) -> Sequence[Membership]:
        return [m for m in self.rows.values() if m.member_id == member_id]

    def live_subscription_ids(self, provider: str) -> set[str]:
        """Not ended: every status but ``TERMINAL``, ``UNKNOWN`` included (wider than
        ``LIVE``); see :meth:`~membership_sdk.ports.MembershipStore.live_subscription_ids`."""
        return {
            m.provider_subscription_id
            for m in self.rows.values()
            if m.provider == provider and m.provider_subscription_id and m.status not in TERMINAL
        }

    def save(self, membership: Membership) -> None:
        self.rows[membership.id] = membership

    def new_id(self) -> str:
        return f"mem_{next(self._ids)}"


class MemoryGrants:
    def __init__(self) -> None:
        self.rows: dict[str, Grant] = {}
        self._ids = itertools.count(1)

    def for_member(self, member_id: str) -> Sequence[Grant]:
        return [g for g in self.rows.values() if g.member_id == member_id]

    def get(self, grant_id: str) -> Grant | None:
        return self.rows.get(grant_id)

    def by_source(self, source: str) -> Grant | None:
        for g in self.rows.values():
            if g.source == source:
                return g
        return None

    def save(self, grant: Grant) -> None:
        self.rows[grant.id] = grant

    def new_id(self) -> str:
        return f"grant_{next(self._ids)}"


class MemoryCustomers:
    def __init__(self) -> None:
        self.members: dict[tuple[str, str], str] = {}

    def member_for(self, provider: str, customer_id: str) -> str | None:
        return self.members.get((provider, customer_id))

    def customer_for(self, provider: str, member_id: str) -> str | None:
        for (prov, customer), member in self.members.items():
            if prov == provider and member == member_id:
                return customer
        return None

    def link(self, provider: str, customer_id: str, member_id: str) -> None:
        self.members[provider, customer_id] = member_id


class MemoryInbox:
    def __init__(self) -> None:
        self.results: dict[tuple[str, str], ApplyResult] = {}

    def seen(self, provider: str, event_id: str) -> bool:
        return (provider, event_id) in self.results

    def record(self, result: ApplyResult) -> None:
        self.results[result.event.provider, result.event.id] = result


class MemoryMeters:
    def __init__(self) -> None:
        self.uses: dict[str, dict[str, list[tuple[str, datetime]]]] = {}

    def usage(self, member_id: str, since: datetime) -> Mapping[str, Mapping[str, datetime]]:
        out: dict[str, dict[str, datetime]] = {}
        for meter, uses in self.uses.get(member_id, {}).items():
            for key, when in uses:
                # The latest charge, not the first: a page charged last month and again
                # this month counts in this month's window, and only once.
                if when >= since and when > out.get(meter, {}).get(key, since - _EPSILON):
                    out.setdefault(meter, {})[key] = when
        return out

    def record(self, member_id: str, meter: str, resource_key: str, when: datetime) -> None:
        self.uses.setdefault(member_id, {}).setdefault(meter, []).append((resource_key, when))


class MemoryStore:
    """A :class:`~membership_sdk.ports.Store` in memory.

    A transaction is all-or-nothing: the state is snapshotted on entry and restored if
    the block raises, so a failing handler leaves nothing half-applied.
    """

    def __init__(self) -> None:
        self.memberships = MemoryMemberships()
        self.grants = MemoryGrants()
        self.customers = MemoryCustomers()
        self.inbox = MemoryInbox()
        self.meters = MemoryMeters()
        self._lock = threading.RLock()

    @contextmanager
    def atomic(self, key: str) -> Iterator[None]:
        with self._lock:
            saved = (
                dict(self.memberships.rows),
                dict(self.grants.rows),
                dict(self.customers.members),
                dict(self.inbox.results),
            )
            try:
                yield
            except BaseException:
                (
                    self.memberships.rows,
                    self.grants.rows,
                    self.customers.members,
                    self.inbox.results,
                ) = saved
                raise
