"""What the core needs stored, as small Protocols.

Framework adapters MUST implement these (the Wagtail adapter does, with Django models);
:mod:`membership_sdk.memory` implements them in memory for tests and scripts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from .events import ApplyResult
from .membership import Grant, Membership

if TYPE_CHECKING:
    from .providers.manual import Invoice
    from .providers.simulated import SimulatedPurchase as ManualPurchase
    from .providers.simulated import SimulatedSubscription as ManualSubscription


class MembershipStore(Protocol):
    def get(self, membership_id: str) -> Membership | None: ...

    def by_provider_id(self, provider: str, subscription_id: str) -> Membership | None:
        """The membership a provider subscription maps to, if any."""
        ...

    def for_member(self, member_id: str) -> Sequence[Membership]: ...

    def live_subscription_ids(self, provider: str) -> set[str]:
        """The subscription ids of ``provider``'s memberships that have not ended, with a
        non-empty ``provider_subscription_id``. Reconciling compares them with the
        provider's listing.

        "Not ended" means every status but :data:`~membership_sdk.membership.TERMINAL`,
        ``UNKNOWN`` included, since a subscription whose status nobody knows must still be
        asked about: wider than :data:`~membership_sdk.membership.LIVE`, which leaves
        ``UNKNOWN`` out."""
        ...

    def save(self, membership: Membership) -> None:
        """Insert or replace by ``membership.id``."""
        ...

    def new_id(self) -> str: ...


class GrantStore(Protocol):
    def for_member(self, member_id: str) -> Sequence[Grant]: ...

    def get(self, grant_id: str) -> Grant | None: ...

    def by_source(self, source: str) -> Grant | None:
        """The grant created from ``source`` (``"stripe:pi_123"``), if any."""
        ...

    def save(self, grant: Grant) -> None: ...

    def new_id(self) -> str: ...


class CustomerStore(Protocol):
    """Maps a provider's customer ids to member ids."""

    def member_for(self, provider: str, customer_id: str) -> str | None: ...

    def customer_for(self, provider: str, member_id: str) -> str | None: ...

    def link(self, provider: str, customer_id: str, member_id: str) -> None: ...


class EventInbox(Protocol):
    """Remembers which provider events were processed, so each applies at most once."""

    def seen(self, provider: str, event_id: str) -> bool: ...

    def record(self, result: ApplyResult) -> None:
        """Record that ``result.event`` was processed with ``result.outcome``."""
        ...


class MeterStore(Protocol):
    """Which resources a member used, per meter or quota key."""

    def usage(self, member_id: str, since: datetime) -> Mapping[str, Mapping[str, datetime]]:
        """meter -> resource key -> its latest recorded use at or after ``since``.

        Uses are recorded only when a decision charges them, that is on the first read
        of a resource in a meter's window; so the latest one says which window it
        counts in.
        """
        ...

    def record(self, member_id: str, meter: str, resource_key: str, when: datetime) -> None:
        """Record a use; recording the same resource again in a period is a no-op.

        Unconditional: for moving reads made elsewhere (an anonymous visitor's cookie)
        into a member's account. A read being served goes through :meth:`reserve`.
        """
        ...

    def reserve(
        self,
        member_id: str,
        meter: str,
        resource_key: str,
        limit: int,
        since: datetime,
        when: datetime,
    ) -> int | None:
        """Count ``resource_key`` against ``meter`` at ``when`` unless the window is full.

        The window holds the distinct resources whose latest use is at or after
        ``since``. A resource already in it is not counted again; a new one is counted
        only while fewer than ``limit`` are. Returns how many resources the window holds
        afterwards (this one included), or ``None`` when it was full and nothing was
        recorded.

        MUST be atomic with respect to other calls for the same member and meter, in
        every process: two parallel calls never both see room for the last free read.
        """
        ...


class Store(Protocol):
    """Everything the core stores, with one transaction boundary.

    The parts are read-only properties, so a store may hold any implementation of each
    (a plain attribute satisfies them); mutable protocol attributes would demand the
    exact declared types, and even :class:`~membership_sdk.memory.MemoryStore` would
    not type-check as a ``Store``.
    """

    @property
    def memberships(self) -> MembershipStore: ...
    @property
    def grants(self) -> GrantStore: ...
    @property
    def customers(self) -> CustomerStore: ...
    @property
    def inbox(self) -> EventInbox: ...
    @property
    def meters(self) -> MeterStore: ...

    def atomic(self, key: str) -> AbstractContextManager[None]:
        """A transaction that also serialises work on ``key`` (a subscription or member).

        Adapters on a database MUST take a row or advisory lock here, so two workers
        applying events for one subscription cannot interleave.
        """
        ...


class ManualBillingStore(Protocol):
    """What the ``manual`` (bank transfer) provider keeps: its customers, invoices,
    subscriptions and one-off purchases, and the invoice numbers handed out each year
    (see :mod:`membership_sdk.providers.manual`).

    Records are returned as copies: the provider changes one and saves it back. A site
    keeps them where they outlive the process (the Wagtail adapter: its database), so a
    restarted site still knows every invoice and subscription and reconciling it ends
    nothing that is live.
    """

    def atomic(self) -> AbstractContextManager[None]:
        """A transaction: what the block saves is kept only if it ends without raising."""
        ...

    def next_invoice_number(self, year: int) -> int:
        """The next invoice number of ``year``: 1, 2, 3, ... without gaps, never the same
        twice, also to concurrent callers in other processes (a database MUST lock the
        year's counter until the transaction ends; a rolled-back one frees its number)."""
        ...

    def customer_for(self, member_id: str) -> str | None: ...

    def link_customer(self, member_id: str, customer_id: str) -> None: ...

    def invoice(self, reference: str, *, lock: bool = False) -> Invoice | None:
        """The invoice with ``reference``; ``lock``: hold it until the transaction ends."""
        ...

    def invoice_for_key(self, idempotency_key: str) -> Invoice | None:
        """The invoice a checkout with this (non-empty) idempotency key created."""
        ...

    def invoices(
        self, *, state: str | None = None, subscription: str | None = None
    ) -> Sequence[Invoice]:
        """Invoices in ``state`` and of ``subscription`` (``None``: any), oldest first."""
        ...

    def save_invoice(self, invoice: Invoice) -> None:
        """Insert or replace by ``invoice.reference``."""
        ...

    def subscription(
        self, subscription_id: str, *, lock: bool = False
    ) -> ManualSubscription | None:
        """The subscription; ``lock``: hold it until the transaction ends."""
        ...

    def subscriptions(
        self, *, after: str | None = None, limit: int = 100
    ) -> Sequence[ManualSubscription]:
        """Subscriptions, ended ones too, in id order, those after ``after``, ``limit`` at most."""
        ...

    def live_subscriptions(self) -> Sequence[ManualSubscription]:
        """Subscriptions whose status is not terminal (canceled, expired)."""
        ...

    def count_subscriptions(self) -> int: ...

    def save_subscription(self, subscription: ManualSubscription) -> None:
        """Insert or replace by ``subscription.id``."""
        ...

    def purchase(self, purchase_id: str) -> ManualPurchase | None: ...

    def save_purchase(self, purchase: ManualPurchase) -> None:
        """Insert or replace by ``purchase.id``."""
        ...
