"""In-memory implementations of the storage ports, for tests, scripts and the demo."""

from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .errors import MembershipError
from .events import ApplyResult
from .gifts import Gift, GiftOrder, refusal
from .membership import TERMINAL, Grant, Membership, Status
from .services import MemoryServices

if TYPE_CHECKING:
    from .providers.manual import Invoice
    from .providers.simulated import SimulatedPurchase, SimulatedSubscription

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
    """Meter usage in memory; :meth:`reserve` holds a lock, so threads share it safely."""

    def __init__(self) -> None:
        self.uses: dict[str, dict[str, list[tuple[str, datetime]]]] = {}
        self._lock = threading.Lock()

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
        with self._lock:
            self.uses.setdefault(member_id, {}).setdefault(meter, []).append((resource_key, when))

    def reserve(
        self,
        member_id: str,
        meter: str,
        resource_key: str,
        limit: int,
        since: datetime,
        when: datetime,
    ) -> int | None:
        with self._lock:
            counted = self.usage(member_id, since).get(meter, {})
            if resource_key in counted:
                return len(counted)
            if len(counted) >= limit:
                return None
            self.uses.setdefault(member_id, {}).setdefault(meter, []).append((resource_key, when))
            return len(counted) + 1


class MemoryRedemptions:
    """Coupon redemptions in memory (:class:`~membership_sdk.ports.RedemptionStore`); a
    lock makes :meth:`reserve` atomic across threads."""

    def __init__(self) -> None:
        #: code -> member id -> when the hold lapses (``None``: redeemed for good).
        self.rows: dict[str, dict[str, datetime | None]] = {}
        self._lock = threading.Lock()

    def reserve(
        self, code: str, member_id: str, limit: int | None, now: datetime, hold_until: datetime
    ) -> bool:
        with self._lock:
            rows = self.rows.setdefault(code, {})
            if member_id in rows:
                if rows[member_id] is not None:
                    rows[member_id] = max(hold_until, rows[member_id] or hold_until)
                return True
            taken = sum(1 for until in rows.values() if until is None or until > now)
            if limit is not None and taken >= limit:
                return False
            rows[member_id] = hold_until
            return True

    def release(self, code: str, member_id: str) -> None:
        with self._lock:
            rows = self.rows.get(code, {})
            if member_id in rows and rows[member_id] is not None:
                del rows[member_id]

    def confirm(self, code: str, member_id: str, when: datetime) -> None:
        with self._lock:
            self.rows.setdefault(code, {})[member_id] = None

    def count(self, code: str, now: datetime) -> int:
        with self._lock:
            rows = self.rows.get(code, {})
            return sum(1 for until in rows.values() if until is None or until > now)

    def redeemed(self, code: str, member_id: str) -> bool:
        with self._lock:
            rows = self.rows.get(code, {})
            return member_id in rows and rows[member_id] is None


class MemoryGifts:
    """Gifts and gift orders in memory (:class:`~membership_sdk.ports.GiftStore`); a lock
    makes :meth:`redeem` and :meth:`mark_refunded` atomic across threads."""

    def __init__(self) -> None:
        self.rows: dict[str, Gift] = {}
        self.orders: dict[tuple[str, str, str], GiftOrder] = {}
        self._ids = itertools.count(1)
        self._lock = threading.RLock()

    def snapshot(self) -> tuple[dict[str, Gift], dict[tuple[str, str, str], GiftOrder]]:
        with self._lock:
            return dict(self.rows), dict(self.orders)

    def restore(self, saved: tuple[dict[str, Gift], dict[tuple[str, str, str], GiftOrder]]) -> None:
        with self._lock:
            self.rows, self.orders = dict(saved[0]), dict(saved[1])

    def save_order(self, order: GiftOrder) -> None:
        with self._lock:
            self.orders[order.buyer_id, order.price_id, order.checkout_id] = order

    def take_order(self, buyer_id: str, price_id: str, checkout_id: str) -> GiftOrder | None:
        with self._lock:
            found = self.orders.pop((buyer_id, price_id, checkout_id), None)
            if found is None:  # the latest order (dicts keep insertion order)
                mine = [k for k in self.orders if k[:2] == (buyer_id, price_id)]
                found = self.orders.pop(mine[-1]) if mine else None
            return found

    def create(self, gift: Gift) -> None:
        with self._lock:
            clash = self.by_code(gift.code) or self.by_source(gift.source)
            if gift.id in self.rows or clash is not None:
                raise MembershipError(f"gift {gift.id!r} clashes with a stored gift")
            self.rows[gift.id] = gift

    def get(self, gift_id: str) -> Gift | None:
        return self.rows.get(gift_id)

    def by_code(self, code: str) -> Gift | None:
        return next((g for g in self.rows.values() if g.code == code), None)

    def by_source(self, source: str) -> Gift | None:
        return next((g for g in self.rows.values() if g.source == source), None)

    def bought_by(self, member_id: str) -> Sequence[Gift]:
        found = [g for g in self.rows.values() if g.buyer_id == member_id]
        return sorted(found, key=lambda g: g.bought_at, reverse=True)

    def redeemed_by(self, member_id: str) -> Sequence[Gift]:
        found = [g for g in self.rows.values() if g.redeemed_by == member_id]
        return sorted(found, key=lambda g: g.redeemed_at or g.bought_at, reverse=True)

    def redeem(self, code: str, member_id: str, when: datetime) -> Gift:
        with self._lock:
            gift = self.by_code(code)
            if gift is None or not gift.redeemable:
                raise refusal(gift, code)
            gift = self.rows[gift.id] = gift.replace(redeemed_by=member_id, redeemed_at=when)
            return gift

    def mark_refunded(self, gift_id: str, when: datetime, version: int) -> Gift:
        with self._lock:
            gift = self.rows[gift_id]
            gift = self.rows[gift_id] = gift.replace(
                refunded_at=gift.refunded_at or when, version=max(gift.version, version)
            )
            return gift

    def new_id(self) -> str:
        return f"gift_{next(self._ids)}"


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
        self.gifts = MemoryGifts()
        self.services = MemoryServices()  # service requests (membership_sdk.services)
        self._lock = threading.RLock()

    @contextmanager
    def atomic(self, key: str) -> Iterator[None]:
        with self._lock:
            gifts_saved = self.gifts.snapshot()
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
                self.gifts.restore(gifts_saved)
                raise


class MemoryManualBilling:
    """The ``manual`` provider's :class:`~membership_sdk.ports.ManualBillingStore` in
    memory, for tests and scripts: it dies with the process.

    It hands out and keeps copies, as a database would, so a record changed and not
    saved stays unchanged here too; :meth:`atomic` restores everything if its block
    raises, and holds a lock while it runs, which readers of several records take too.
    """

    def __init__(self) -> None:
        self.customers: dict[str, str] = {}
        self.invoice_rows: dict[str, Invoice] = {}
        self.subscription_rows: dict[str, SimulatedSubscription] = {}
        self.purchase_rows: dict[str, SimulatedPurchase] = {}
        self.numbers: dict[int, int] = {}
        self._lock = threading.RLock()

    @contextmanager
    def atomic(self) -> Iterator[None]:
        with self._lock:
            saved = copy.deepcopy(
                (
                    self.customers,
                    self.invoice_rows,
                    self.subscription_rows,
                    self.purchase_rows,
                    self.numbers,
                )
            )
            try:
                yield
            except BaseException:
                (
                    self.customers,
                    self.invoice_rows,
                    self.subscription_rows,
                    self.purchase_rows,
                    self.numbers,
                ) = saved
                raise

    def next_invoice_number(self, year: int) -> int:
        with self._lock:
            self.numbers[year] = number = self.numbers.get(year, 0) + 1
            return number

    def customer_for(self, member_id: str) -> str | None:
        return self.customers.get(member_id)

    def link_customer(self, member_id: str, customer_id: str) -> None:
        self.customers[member_id] = customer_id

    def invoice(self, reference: str, *, lock: bool = False) -> Invoice | None:
        found = self.invoice_rows.get(reference)
        return copy.copy(found) if found is not None else None

    def invoice_for_key(self, idempotency_key: str) -> Invoice | None:
        if not idempotency_key:
            return None
        with self._lock:
            for invoice in self.invoice_rows.values():
                if invoice.idempotency_key == idempotency_key:
                    return copy.copy(invoice)
        return None

    def invoices(
        self, *, state: str | None = None, subscription: str | None = None
    ) -> Sequence[Invoice]:
        with self._lock:
            found = [
                copy.copy(i)
                for i in self.invoice_rows.values()
                if (state is None or i.state == state)
                and (subscription is None or i.subscription == subscription)
            ]
        return sorted(found, key=lambda i: (i.issued_at, i.year, i.number))

    def save_invoice(self, invoice: Invoice) -> None:
        self.invoice_rows[invoice.reference] = copy.copy(invoice)

    def subscription(
        self, subscription_id: str, *, lock: bool = False
    ) -> SimulatedSubscription | None:
        found = self.subscription_rows.get(subscription_id)
        return copy.copy(found) if found is not None else None

    def subscriptions(
        self, *, after: str | None = None, limit: int = 100
    ) -> Sequence[SimulatedSubscription]:
        with self._lock:
            ids = sorted(i for i in self.subscription_rows if after is None or i > after)
            return [copy.copy(self.subscription_rows[i]) for i in ids[:limit]]

    def live_subscriptions(self) -> Sequence[SimulatedSubscription]:
        with self._lock:
            return [
                copy.copy(s)
                for _, s in sorted(self.subscription_rows.items())
                if Status.parse(s.status) not in TERMINAL
            ]

    def count_subscriptions(self) -> int:
        return len(self.subscription_rows)

    def save_subscription(self, subscription: SimulatedSubscription) -> None:
        self.subscription_rows[subscription.id] = copy.copy(subscription)

    def purchase(self, purchase_id: str) -> SimulatedPurchase | None:
        found = self.purchase_rows.get(purchase_id)
        return copy.copy(found) if found is not None else None

    def save_purchase(self, purchase: SimulatedPurchase) -> None:
        self.purchase_rows[purchase.id] = copy.copy(purchase)
