"""Checkout and local cancel/resume through a provider plugin.

The provider here is a tiny in-test plugin registered exactly as any plugin is, so these
tests depend on none of the built-in providers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

import pytest
from sdk_builders import NOW, HookRecorder, full_state, make_catalog, make_program, sub_event

from membership_sdk import (
    BillingEvent,
    Catalog,
    InvalidTransition,
    MembershipError,
    MembershipProgram,
    MemoryStore,
    Price,
    ProviderError,
    Status,
    SubscriptionSnapshot,
    Tier,
    UnknownPrice,
    UnknownProvider,
    hookimpl,
)
from membership_sdk.providers import CheckoutRequest, CheckoutSession, SettingsSpec


class RecordingProvider:
    """Records what it was asked; cancels and resumes by answering the next snapshot."""

    name = "acme"
    refetch_subscriptions = False
    settings_spec = SettingsSpec()

    def __init__(self) -> None:
        self.requests: list[CheckoutRequest] = []
        self.fail_with: Exception | None = None
        self.version = 10

    def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        if self.fail_with is not None:
            raise self.fail_with
        self.requests.append(request)
        return CheckoutSession("acme", f"cs_{len(self.requests)}", "https://pay.example/cs")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Sequence[BillingEvent]:
        return [sub_event(body.decode(), version=int(headers["version"]))]

    def fetch_subscription(self, subscription_id: str) -> SubscriptionSnapshot | None:
        return None

    def _snapshot(self, subscription_id: str, **changes: Any) -> SubscriptionSnapshot:
        self.version += 1
        return SubscriptionSnapshot(
            id=subscription_id,
            customer_id="cus_1",
            price="p_premium",
            version=self.version,
            current_period_end=NOW + timedelta(days=30),
            **changes,
        )

    def cancel_subscription(
        self, subscription_id: str, *, at_period_end: bool = True
    ) -> SubscriptionSnapshot:
        if at_period_end:
            return self._snapshot(subscription_id, status=Status.ACTIVE, cancel_at_period_end=True)
        return self._snapshot(subscription_id, status=Status.CANCELED, canceled_at=NOW)

    def resume_subscription(self, subscription_id: str) -> SubscriptionSnapshot:
        return self._snapshot(subscription_id, status=Status.ACTIVE)

    def portal_url(self, customer_id: str, return_url: str) -> str | None:
        return None


class AcmePlugin:
    def __init__(self, provider: RecordingProvider) -> None:
        self.provider = provider

    @hookimpl
    def membership_register_providers(
        self, register: Callable[[object], None], config: Mapping[str, Any]
    ) -> None:
        register(self.provider)


@pytest.fixture
def provider() -> RecordingProvider:
    return RecordingProvider()


@pytest.fixture
def shop(provider: RecordingProvider, hooks: HookRecorder) -> MembershipProgram:
    return make_program(plugins=(AcmePlugin(provider), hooks))


def checkout(shop: MembershipProgram, price_id: str = "premium-monthly", **kw: Any) -> Any:
    return shop.start_checkout(
        "alice",
        price_id,
        provider=kw.pop("provider", "acme"),
        success_url="https://site.example/ok",
        cancel_url="https://site.example/pricing",
        **kw,
    )


def test_checkout_asks_the_provider_to_sell_its_own_price_id(
    shop: MembershipProgram, provider: RecordingProvider
) -> None:
    session = checkout(shop, email="alice@example.com", coupon="SPRING")
    assert session.url == "https://pay.example/cs"
    (request,) = provider.requests
    assert (request.provider_price, request.price.id, request.trial_days) == (
        "p_premium",
        "premium-monthly",
        14,
    )
    assert (request.email, request.coupon) == ("alice@example.com", "SPRING")
    assert request.metadata == {"member_id": "alice", "price_id": "premium-monthly"}


def test_checkout_stores_nothing_until_the_provider_reports_payment(
    shop: MembershipProgram,
) -> None:
    assert isinstance(shop.store, MemoryStore)
    before = full_state(shop.store)
    checkout(shop)
    assert full_state(shop.store) == before


def test_retrying_one_checkout_attempt_reuses_its_idempotency_key(
    shop: MembershipProgram, provider: RecordingProvider
) -> None:
    checkout(shop, attempt="form-1")
    checkout(shop, attempt="form-1")
    checkout(shop, attempt="form-2")
    keys = [r.idempotency_key for r in provider.requests]
    assert keys[0] == keys[1] != keys[2]


def test_checkout_passes_the_known_customer_of_the_member(
    shop: MembershipProgram, provider: RecordingProvider
) -> None:
    shop.apply(sub_event("evt_1", version=1))
    checkout(shop)
    assert provider.requests[0].customer_id == "cus_1"


def test_checkout_of_an_unknown_price_raises_and_stores_nothing(
    shop: MembershipProgram, provider: RecordingProvider
) -> None:
    assert isinstance(shop.store, MemoryStore)
    before = full_state(shop.store)
    with pytest.raises(UnknownPrice, match="unknown price 'gold-monthly'"):
        checkout(shop, "gold-monthly")
    assert full_state(shop.store) == before
    assert provider.requests == []


def test_checkout_of_a_price_the_provider_does_not_sell_raises_naming_both(
    provider: RecordingProvider,
) -> None:
    catalog = Catalog(
        tiers=[Tier("basic", "Basic", rank=1)],
        prices=[Price("basic-monthly", 500, "EUR", tier="basic", provider_ids={"other": "x"})],
    )
    shop = make_program(catalog, plugins=(AcmePlugin(provider),))
    with pytest.raises(UnknownPrice, match=r"'basic-monthly' is not sold through provider 'acme'"):
        checkout(shop, "basic-monthly")


def test_checkout_with_an_unregistered_provider_raises_naming_it(
    shop: MembershipProgram,
) -> None:
    with pytest.raises(UnknownProvider, match="no payment provider named 'nopay'"):
        checkout(shop, provider="nopay")


def test_a_provider_failure_at_checkout_reaches_the_caller_and_stores_nothing(
    shop: MembershipProgram, provider: RecordingProvider
) -> None:
    provider.fail_with = ProviderError("card declined", code="card_declined")
    assert isinstance(shop.store, MemoryStore)
    before = full_state(shop.store)
    with pytest.raises(ProviderError, match="card declined"):
        checkout(shop)
    assert full_state(shop.store) == before


def test_a_webhook_is_parsed_by_its_provider_and_applied(shop: MembershipProgram) -> None:
    (result,) = shop.handle_webhook("acme", {"version": "1"}, b"evt_9")
    assert result.outcome == "applied"
    assert shop.store.memberships.for_member("alice")[0].status is Status.ACTIVE


# -- local cancel and resume ----------------------------------------------------------------
@pytest.fixture
def member(shop: MembershipProgram) -> str:
    result = shop.apply(sub_event("evt_1", version=1))
    assert result.membership_id is not None
    return result.membership_id


def test_cancel_at_period_end_keeps_access_and_records_the_reason(
    shop: MembershipProgram, member: str, hooks: HookRecorder
) -> None:
    after = shop.cancel(member, reason="too expensive")
    assert (after.status, after.cancel_at_period_end, after.cancel_reason) == (
        Status.ACTIVE,
        True,
        "too expensive",
    )
    assert shop.store.memberships.get(member) == after
    assert hooks.names()[-1] == "membership_canceled"


def test_cancel_now_ends_the_membership(shop: MembershipProgram, member: str) -> None:
    after = shop.cancel(member, at_period_end=False)
    assert (after.status, after.canceled_at) == (Status.CANCELED, NOW)


def test_cancelling_an_ended_membership_is_an_invalid_transition(
    shop: MembershipProgram, member: str
) -> None:
    shop.cancel(member, at_period_end=False)
    with pytest.raises(InvalidTransition, match="from canceled to canceled"):
        shop.cancel(member)


def test_resume_undoes_a_scheduled_cancellation(shop: MembershipProgram, member: str) -> None:
    shop.cancel(member, reason="moving abroad")
    after = shop.resume(member)
    assert (after.status, after.cancel_at_period_end, after.cancel_reason) == (
        Status.ACTIVE,
        False,
        "",
    )


def test_resume_without_a_scheduled_cancellation_is_refused(
    shop: MembershipProgram, member: str
) -> None:
    with pytest.raises(InvalidTransition, match="from active to active"):
        shop.resume(member)


def test_a_late_webhook_older_than_the_local_change_is_stale(
    shop: MembershipProgram, member: str
) -> None:
    shop.cancel(member, at_period_end=False)
    result = shop.apply(sub_event("evt_2", version=5, status=Status.ACTIVE))
    assert result.outcome == "stale"
    assert shop.store.memberships.get(member).status is Status.CANCELED  # type: ignore[union-attr]


def test_a_provider_answer_older_than_the_stored_state_only_records_the_reason(
    shop: MembershipProgram, member: str, provider: RecordingProvider
) -> None:
    shop.apply(sub_event("evt_2", version=50, cancel_at_period_end=False))
    provider.version = 0
    after = shop.cancel(member, reason="just looking")
    assert (after.cancel_at_period_end, after.cancel_reason, after.version) == (
        False,
        "just looking",
        (50, "evt_2"),
    )


def test_cancelling_an_unknown_membership_raises_naming_it(shop: MembershipProgram) -> None:
    with pytest.raises(MembershipError, match="no membership with id 'mem_404'"):
        shop.cancel("mem_404")


def test_the_default_program_builds_its_own_plugin_manager() -> None:
    program = MembershipProgram(make_catalog(), MemoryStore())
    assert program.pm.get_plugins()
