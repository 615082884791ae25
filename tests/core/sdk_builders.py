"""Builders shared by the core tests: a small catalog, a settable clock, a program on a
memory store, billing events, a hook recorder and a store-state snapshot.

Events are built directly as :class:`BillingEvent` values, so these tests depend on no
particular provider. (A uniquely named module rather than ``conftest`` so that test
files can import it without clashing with other test trees.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from membership_sdk import (
    BillingEvent,
    Catalog,
    EventType,
    Interval,
    MembershipProgram,
    MemoryStore,
    Price,
    PurchaseSnapshot,
    PurchaseState,
    Status,
    SubscriptionSnapshot,
    Tier,
    get_plugin_manager,
    hookimpl,
)
from membership_sdk.providers import CheckoutRequest, CheckoutSession, SettingsSpec
from membership_sdk.providers.fake import FakeProvider

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
PROVIDER = "acme"


def make_catalog() -> Catalog:
    """Free, basic and premium tiers; monthly and yearly prices; one item for sale."""
    return Catalog(
        tiers=[
            Tier("free", "Free", rank=0, entitlements=("newsletter",)),
            Tier(
                "basic",
                "Basic",
                rank=1,
                entitlements=("content.basic", "downloads: 3 per month"),
            ),
            Tier(
                "premium",
                "Premium",
                rank=2,
                entitlements=("content.basic", "content.premium", "downloads: 10 per month"),
            ),
        ],
        prices=[
            Price("basic-monthly", 500, "EUR", tier="basic", provider_ids={PROVIDER: "p_basic"}),
            Price(
                "premium-monthly",
                1500,
                "EUR",
                tier="premium",
                trial_days=14,
                provider_ids={PROVIDER: "p_premium"},
            ),
            Price(
                "premium-yearly",
                15000,
                "EUR",
                Interval.YEAR,
                tier="premium",
                provider_ids={PROVIDER: "p_premium_y"},
            ),
            Price(
                "ebook",
                900,
                "EUR",
                Interval.ONE_OFF,
                item="ebook:python",
                provider_ids={PROVIDER: "p_ebook"},
            ),
        ],
        items={"ebook:python": "Python, the e-book"},
    )


class Clock:
    """A settable clock: ``clock()`` is now, ``clock.advance(days=3)`` moves it."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class HookRecorder:
    """A plugin recording every lifecycle hook call as ``(hook name, kwargs)``."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def names(self) -> list[str]:
        return [name for name, _ in self.calls if name != "membership_access_changed"]

    def _add(self, name: str, **kwargs: Any) -> None:
        self.calls.append((name, kwargs))

    @hookimpl
    def membership_activated(self, membership: Any, event: Any) -> None:
        self._add("membership_activated", membership=membership, event=event)

    @hookimpl
    def membership_renewed(self, membership: Any, event: Any) -> None:
        self._add("membership_renewed", membership=membership, event=event)

    @hookimpl
    def membership_payment_failed(self, membership: Any, event: Any) -> None:
        self._add("membership_payment_failed", membership=membership, event=event)

    @hookimpl
    def membership_canceled(self, membership: Any, event: Any) -> None:
        self._add("membership_canceled", membership=membership, event=event)

    @hookimpl
    def membership_expired(self, membership: Any, event: Any) -> None:
        self._add("membership_expired", membership=membership, event=event)

    @hookimpl
    def membership_access_changed(self, member_id: str) -> None:
        self._add("membership_access_changed", member_id=member_id)

    @hookimpl
    def membership_grant_changed(self, grant: Any, action: str) -> None:
        self._add("membership_grant_changed", grant=grant, action=action)

    @hookimpl
    def membership_event_ignored(self, result: Any) -> None:
        self._add("membership_event_ignored", result=result)


def make_program(
    catalog: Catalog | None = None,
    *,
    clock: Callable[[], datetime] | None = None,
    plugins: tuple[object, ...] = (),
    store: MemoryStore | None = None,
) -> MembershipProgram:
    pm = get_plugin_manager(plugins=plugins, load_entrypoints=False)
    return MembershipProgram(
        catalog or make_catalog(),
        store or MemoryStore(),
        pm=pm,
        clock=clock or (lambda: NOW),
    )


def sub_event(
    event_id: str,
    *,
    version: int,
    status: Status | str = Status.ACTIVE,
    sub_id: str = "sub_1",
    customer: str = "cus_1",
    price: str = "p_premium",
    member_id: str | None = "alice",
    period_end: datetime | None = NOW + timedelta(days=30),
    started_at: datetime | None = NOW - timedelta(days=1),
    cancel_at_period_end: bool = False,
    canceled_at: datetime | None = None,
    type: EventType = EventType.SUBSCRIPTION_UPDATED,
    occurred_at: datetime = NOW,
    provider: str = PROVIDER,
    paid_through: datetime | None = None,
    unpaid_since: datetime | None = None,
) -> BillingEvent:
    """A subscription event carrying the subscription's state at ``version``."""
    return BillingEvent(
        provider=provider,
        id=event_id,
        type=type,
        occurred_at=occurred_at,
        member_id=member_id,
        subscription=SubscriptionSnapshot(
            id=sub_id,
            customer_id=customer,
            price=price,
            status=Status.parse(status),
            version=version,
            current_period_end=period_end,
            started_at=started_at,
            cancel_at_period_end=cancel_at_period_end,
            canceled_at=canceled_at,
            raw_status=str(status),
            paid_through=paid_through,
            unpaid_since=unpaid_since,
        ),
    )


def purchase_event(
    event_id: str,
    *,
    version: int = 1,
    state: PurchaseState = PurchaseState.PAID,
    purchase_id: str = "pi_1",
    customer: str = "cus_1",
    price: str = "p_ebook",
    member_id: str | None = "alice",
    paid_at: datetime | None = NOW,
    occurred_at: datetime = NOW,
) -> BillingEvent:
    """A one-off purchase event carrying the payment's state at ``version``."""
    return BillingEvent(
        provider=PROVIDER,
        id=event_id,
        type=EventType.PURCHASE_COMPLETED
        if state is PurchaseState.PAID
        else EventType.PURCHASE_REFUNDED,
        occurred_at=occurred_at,
        member_id=member_id,
        purchase=PurchaseSnapshot(
            id=purchase_id,
            customer_id=customer,
            price=price,
            state=state,
            version=version,
            paid_at=paid_at,
        ),
    )


def store_state(store: MemoryStore) -> dict[str, Any]:
    """Everything a member's access depends on, keyed by what is stable across orders of
    application (the provider's ids and grant sources, not the store's generated ids)."""
    memberships = {}
    for m in store.memberships.rows.values():
        memberships[m.provider, m.provider_subscription_id] = m.replace(id="")
    grants = {}
    for g in store.grants.rows.values():
        grants[g.source or g.id] = g.replace(id="")
    return {
        "memberships": memberships,
        "grants": grants,
        "customers": dict(store.customers.members),
        "meters": {k: {m: list(u) for m, u in v.items()} for k, v in store.meters.uses.items()},
    }


def full_state(store: MemoryStore) -> dict[str, Any]:
    """:func:`store_state` plus the event inbox: for checking that nothing at all changed."""
    return {**store_state(store), "inbox": dict(store.inbox.results)}


class StubProvider:
    """A provider plugin for tests: registers itself under :attr:`name`; every call a
    test does not override answers as an unreachable provider would not (it raises
    ``NotImplementedError``, so a test that reaches one fails loudly)."""

    name = "stub"
    refetch_subscriptions = False
    settings_spec = SettingsSpec()

    @hookimpl
    def membership_register_providers(
        self, register: Callable[[object], None], config: Mapping[str, Any]
    ) -> None:
        register(self)

    def fetch_subscription(self, subscription_id: str) -> SubscriptionSnapshot | None:
        return None

    def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        raise NotImplementedError

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Sequence[BillingEvent]:
        raise NotImplementedError

    def cancel_subscription(
        self, subscription_id: str, *, at_period_end: bool = True
    ) -> SubscriptionSnapshot:
        raise NotImplementedError

    def resume_subscription(self, subscription_id: str) -> SubscriptionSnapshot:
        raise NotImplementedError

    def portal_url(self, customer_id: str, return_url: str) -> str | None:
        return None


def fake_of(program: MembershipProgram) -> FakeProvider:
    """The program's ``fake`` provider."""
    provider = program.providers["fake"]
    assert isinstance(provider, FakeProvider)
    return provider


def paid_without_webhook(
    program: MembershipProgram, fake: FakeProvider, member: str, price: str = "gold-monthly"
) -> str:
    """``member`` pays ``price`` at the fake provider, whose webhook never reaches the
    program. Returns the subscription id."""
    session = program.start_checkout(
        member, price, provider="fake", success_url="/ok", cancel_url="/no"
    )
    fake.complete_checkout(session.id)
    return fake.checkout(session.id).result or ""
