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
    from .gifts import Gift, GiftOrder
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


class RedemptionStore(Protocol):
    """How often each coupon code was redeemed, so ``max_redemptions`` holds.

    A checkout *holds* a redemption (:meth:`reserve`) before it asks the provider; the
    hold lapses at ``hold_until`` unless the subscription the checkout started arrives
    with the code (:meth:`confirm`), and a checkout the provider refused gives it back at
    once (:meth:`release`). So an abandoned checkout never uses up a code for good, and
    parallel checkouts never hand out more than ``max_redemptions``. One member counts
    once per code, however many checkouts they start with it.
    """

    def reserve(
        self, code: str, member_id: str, limit: int | None, now: datetime, hold_until: datetime
    ) -> bool:
        """Hold a redemption of ``code`` for ``member_id`` until ``hold_until``, unless
        ``limit`` members hold or redeemed it already (holds that lapsed by ``now`` do not
        count; ``None``: no limit). A member who holds or redeemed it already gets
        ``True`` again (the hold is extended) without counting twice.

        MUST be atomic with respect to other calls for the same code, in every process:
        two parallel checkouts never both see room for the last redemption.
        """
        ...

    def release(self, code: str, member_id: str) -> None:
        """Give back the member's hold on ``code`` (a confirmed redemption stays)."""
        ...

    def confirm(self, code: str, member_id: str, when: datetime) -> None:
        """Record that the member's subscription started with ``code``: redeemed for
        good, with or without a hold (the provider applied it; counting it is all that
        is left)."""
        ...

    def count(self, code: str, now: datetime) -> int:
        """Redemptions of ``code``: confirmed ones and holds that have not lapsed at ``now``."""
        ...

    def redeemed(self, code: str, member_id: str) -> bool:
        """Whether the member has redeemed ``code`` for good (a hold does not count)."""
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


class GiftStore(Protocol):
    """Gifts bought for someone else, and the orders they are made from (see
    :mod:`membership_sdk.gifts`). A store that keeps gifts has one as its ``gifts``
    attribute; the program makes and redeems gifts through it, inside
    :meth:`Store.atomic`, so a gift is saved together with the grant or event record
    that goes with it."""

    def save_order(self, order: GiftOrder) -> None:
        """Keep what the buyer entered for the gift checkout ``order.checkout_id``
        (replacing an order saved for the same checkout)."""
        ...

    def take_order(self, buyer_id: str, price_id: str, checkout_id: str) -> GiftOrder | None:
        """Remove and return the buyer's order of the checkout ``checkout_id``; when the
        purchase names no checkout (``""``) or an unknown one, their latest order for
        ``price_id``; ``None`` when they have none."""
        ...

    def create(self, gift: Gift) -> None:
        """Insert a new gift (its ``code`` and ``source`` are unique)."""
        ...

    def by_code(self, code: str) -> Gift | None: ...

    def by_source(self, source: str) -> Gift | None:
        """The gift the purchase ``source`` (``"stripe:pi_123"``) paid, if any."""
        ...

    def bought_by(self, member_id: str) -> Sequence[Gift]:
        """The gifts ``member_id`` paid for, newest first."""
        ...

    def redeemed_by(self, member_id: str) -> Sequence[Gift]:
        """The gifts ``member_id`` redeemed, newest first."""
        ...

    def redeem(self, code: str, member_id: str, when: datetime) -> Gift:
        """Mark the gift with ``code`` redeemed by ``member_id``; returns it as stored.

        MUST be atomic in every process: of parallel calls for one code exactly one
        succeeds, and none succeeds for a refunded gift.

        :raises GiftError: the one :func:`membership_sdk.gifts.refusal` gives: no such
            code, already redeemed, or refunded. Nothing is changed then.
        """
        ...

    def mark_refunded(self, gift_id: str, when: datetime, version: int) -> Gift:
        """Mark the gift refunded (once: a later call keeps the first time) at the
        purchase snapshot ``version``; returns it as stored. Takes the gift's row lock,
        so a redemption running at the same moment is seen, or sees the refund."""
        ...

    def new_id(self) -> str: ...


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
