"""The Stripe provider against a real Stripe-compatible server: localstripe.

localstripe (PyPI) runs as a subprocess on 127.0.0.1, started from scratch once per test
session (see ``conftest.py``). It keeps state like Stripe does, so customers, subscriptions,
cancellations and card declines here are real API round trips, and one webhook is signed
and delivered over HTTP by localstripe itself. It speaks an older API
shape (plans, the billing period on the subscription), has no Price, Checkout Session or
Billing Portal, and never sends ``customer.subscription.updated``; those are covered by
the replay tests. Subscriptions are created here through the API directly, as Checkout
would create them.
"""

from __future__ import annotations

import http.server
import json
import queue
import socket
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from membership_sdk import (
    HasEntitlement,
    MembershipProgram,
    MemoryStore,
    Outcome,
    ProviderError,
    Resource,
    Status,
)
from membership_sdk.catalog import Catalog, Interval, Price, Tier
from membership_sdk.plugins import get_plugin_manager
from membership_sdk.providers.stripe import StripeProvider

from .conftest import WEBHOOK_SECRET
from .replay import sign

pytestmark = pytest.mark.localstripe

GOLD = Resource("article-1", HasEntitlement("content.premium"))


class Stripe:
    """Acts as Stripe's own side (Checkout, the Dashboard) against localstripe."""

    def __init__(self, url: str) -> None:
        self.client = stripe.StripeClient(
            "sk_test_localstripe", base_addresses={"api": url}, max_network_retries=0
        )
        self.plan = f"gold-{uuid.uuid4().hex[:8]}"
        self.call(
            "post",
            "/v1/plans",
            id=self.plan,
            amount=900,
            currency="eur",
            interval="month",
            product={"name": "Gold"},
        )

    def call(self, method: str, path: str, **params: Any) -> dict[str, Any]:
        return self.client.raw_request(method, path, **params).data  # type: ignore[no-any-return]

    def customer(self, member_id: str, card: str = "pm_card_visa") -> str:
        found = self.call(
            "post",
            "/v1/customers",
            email=f"{member_id}@example.com",
            metadata={"member_id": member_id},
            payment_method=card,
            invoice_settings={"default_payment_method": card},
        )
        return str(found["id"])

    def subscribe(self, customer: str, member_id: str) -> dict[str, Any]:
        return self.call(
            "post",
            "/v1/subscriptions",
            customer=customer,
            items=[{"plan": self.plan}],
            metadata={"member_id": member_id},
        )

    def events_for(self, object_id: str, type_: str) -> list[dict[str, Any]]:
        found = self.call("get", "/v1/events", type=type_, limit=100)["data"]
        return [e for e in found if e["data"]["object"].get("id") == object_id]


@pytest.fixture
def server(localstripe_url: str) -> Stripe:
    return Stripe(localstripe_url)


def member() -> str:
    return f"member-{uuid.uuid4().hex[:8]}"


def test_a_paid_subscription_is_fetched_as_active_with_its_plan_and_period(
    localstripe: StripeProvider, server: Stripe
) -> None:
    who = member()
    sub = server.subscribe(server.customer(who), who)
    snap = localstripe.fetch_subscription(sub["id"])
    assert snap is not None
    assert snap.status is Status.ACTIVE
    assert snap.price == server.plan
    assert snap.current_period_end is not None
    assert int(snap.current_period_end.timestamp()) == sub["current_period_end"]


def test_a_declined_first_payment_leaves_the_subscription_incomplete(
    localstripe: StripeProvider, server: Stripe
) -> None:
    who = member()
    sub = server.subscribe(server.customer(who, card="pm_card_chargeCustomerFail"), who)
    snap = localstripe.fetch_subscription(sub["id"])
    assert snap is not None
    assert snap.status is Status.INCOMPLETE
    assert snap.raw_status == "incomplete"


def test_cancel_at_period_end_keeps_the_subscription_active_until_then(
    localstripe: StripeProvider, server: Stripe
) -> None:
    who = member()
    sub = server.subscribe(server.customer(who), who)
    snap = localstripe.cancel_subscription(sub["id"], at_period_end=True)
    assert snap.status is Status.ACTIVE
    assert snap.cancel_at_period_end is True


def test_resuming_undoes_a_cancel_at_period_end(
    localstripe: StripeProvider, server: Stripe
) -> None:
    who = member()
    sub = server.subscribe(server.customer(who), who)
    localstripe.cancel_subscription(sub["id"], at_period_end=True)
    snap = localstripe.resume_subscription(sub["id"])
    assert snap.cancel_at_period_end is False
    assert snap.status is Status.ACTIVE


def test_canceling_now_ends_the_subscription(localstripe: StripeProvider, server: Stripe) -> None:
    who = member()
    sub = server.subscribe(server.customer(who), who)
    snap = localstripe.cancel_subscription(sub["id"], at_period_end=False)
    assert snap.status is Status.CANCELED
    assert localstripe.fetch_subscription(sub["id"]).status is Status.CANCELED  # type: ignore[union-attr]


def test_a_subscription_the_server_does_not_know_is_fetched_as_none(
    localstripe: StripeProvider,
) -> None:
    assert localstripe.fetch_subscription("sub_DoesNotExist") is None


def test_a_member_keeps_one_customer_across_checkouts(localstripe: StripeProvider) -> None:
    who = member()
    email = f"{who}@example.com"
    first = localstripe.ensure_customer(who, email=email, idempotency_key=f"{who}-1")
    again = localstripe.ensure_customer(who, email=email, idempotency_key=f"{who}-2")
    assert first == again


def test_another_member_with_the_same_email_gets_their_own_customer(
    localstripe: StripeProvider,
) -> None:
    email = f"shared-{uuid.uuid4().hex[:8]}@example.com"
    first = localstripe.ensure_customer(member(), email=email)
    second = localstripe.ensure_customer(member(), email=email)
    assert first != second


def test_checkout_on_a_server_without_checkout_sessions_is_a_clear_provider_error(
    localstripe_url: str, server: Stripe
) -> None:
    program = _program_for(localstripe_url, server.plan)
    with pytest.raises(ProviderError) as caught:
        program.start_checkout(
            member(),
            "gold",
            provider="stripe",
            success_url="https://x.example/ok",
            cancel_url="https://x.example/no",
        )
    assert caught.value.retryable is False
    assert caught.value.provider_message


def test_an_unreachable_server_is_a_retryable_provider_error() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = StripeProvider(
        "sk_test_x", api_base=f"http://127.0.0.1:{port}", max_network_retries=0
    )
    with pytest.raises(ProviderError) as caught:
        provider.fetch_subscription("sub_Any")
    assert caught.value.retryable is True
    assert caught.value.code == "unreachable"


def _program_for(url: str, plan: str) -> MembershipProgram:
    """A program configured for the localstripe server as a site would configure Stripe."""
    return MembershipProgram(
        Catalog(
            tiers=[Tier("gold", "Gold", rank=1, entitlements=("content.premium",))],
            prices=[
                Price(
                    "gold", 900, "EUR", Interval.MONTH, tier="gold", provider_ids={"stripe": plan}
                )
            ],
        ),
        MemoryStore(),
        pm=get_plugin_manager(load_entrypoints=False),
        provider_config={
            "stripe": {
                "api_key": "sk_test_localstripe",
                "webhook_secret": WEBHOOK_SECRET,
                "api_base": url,
                "max_network_retries": 0,
            }
        },
    )


def _deliver(program: MembershipProgram, event: dict[str, Any]) -> list[Any]:
    body = json.dumps(event)
    return program.handle_webhook("stripe", sign(body, WEBHOOK_SECRET), body.encode())


def test_the_servers_own_subscription_created_event_grants_access(
    localstripe_url: str, localstripe: StripeProvider, server: Stripe
) -> None:
    who = member()
    sub = server.subscribe(server.customer(who), who)
    program = _program_for(localstripe_url, server.plan)
    [created] = server.events_for(sub["id"], "customer.subscription.created")
    [result] = _deliver(program, created)
    assert result.outcome is Outcome.APPLIED
    assert program.access(GOLD, who).allowed


def test_a_server_event_after_an_immediate_cancel_applies_the_canceled_state(
    localstripe_url: str, localstripe: StripeProvider, server: Stripe
) -> None:
    who = member()
    sub = server.subscribe(server.customer(who), who)
    program = _program_for(localstripe_url, server.plan)
    [created] = server.events_for(sub["id"], "customer.subscription.created")
    localstripe.cancel_subscription(sub["id"], at_period_end=False)
    [result] = _deliver(program, created)  # arrives late, after the cancel
    assert result.outcome is Outcome.APPLIED
    [membership] = program.store.memberships.for_member(who)
    assert membership.status is Status.CANCELED


def test_a_declined_subscriptions_event_grants_nothing(
    localstripe_url: str, server: Stripe
) -> None:
    who = member()
    sub = server.subscribe(server.customer(who, card="pm_card_chargeCustomerFail"), who)
    program = _program_for(localstripe_url, server.plan)
    for created in server.events_for(sub["id"], "customer.subscription.created"):
        _deliver(program, created)
    assert not program.access(GOLD, who).allowed


class _Receiver:
    """An HTTP endpoint on 127.0.0.1 that keeps the webhooks POSTed to it."""

    def __init__(self) -> None:
        self.deliveries: queue.Queue[tuple[dict[str, str], bytes]] = queue.Queue()
        deliveries = self.deliveries

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                deliveries.put((dict(self.headers.items()), body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/stripe/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    endpoint = _Receiver()
    yield endpoint
    endpoint.close()


def test_a_webhook_localstripe_signs_and_delivers_over_http_verifies_and_grants_access(
    localstripe_url: str, server: Stripe, receiver: _Receiver
) -> None:
    who = member()
    config = json.dumps(
        {"url": receiver.url, "secret": WEBHOOK_SECRET, "events": ["customer.subscription.created"]}
    ).encode()
    request = urllib.request.Request(
        f"{localstripe_url}/_config/webhooks/{uuid.uuid4().hex}",
        data=config,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=5).close()  # localstripe sends webhooks there now
    sub = server.subscribe(server.customer(who), who)
    program = _program_for(localstripe_url, server.plan)
    while True:
        try:
            headers, body = receiver.deliveries.get(timeout=15)
        except queue.Empty:
            pytest.fail("localstripe delivered no webhook within 15 s")
        if json.loads(body)["data"]["object"]["id"] == sub["id"]:
            break
    [result] = program.handle_webhook("stripe", headers, body)
    assert result.outcome is Outcome.APPLIED
    assert program.access(GOLD, who).allowed
