"""Conformance: real Stripe webhook shapes of several API versions, and what each becomes.

Every file under ``payloads/<api-version>/`` holds one webhook event, trimmed from a public
Stripe fixture (``payloads/README.md`` says which one), and the canonical event the
provider must make of it: ``expected`` is a subset of :meth:`BillingEvent.to_dict`,
``"ignored"`` (no event), or ``{"malformed": <field>}`` (a :class:`MalformedEvent` naming
the field). Then real event *sequences* that peers reported as bugs are played through
the program, with the subscription Stripe would return when the program fetches it.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from membership_sdk import (
    ApplyResult,
    Catalog,
    Interval,
    MalformedEvent,
    MembershipProgram,
    MemoryStore,
    Price,
    ProviderError,
    Tier,
    get_plugin_manager,
    hookimpl,
)
from membership_sdk.providers.stripe import StripeProvider
from membership_sdk.providers.stripe.provider import (
    _CHECKOUT_EVENTS,
    _INVOICE_EVENTS,
    _SUBSCRIPTION_EVENTS,
    WEBHOOK_EVENTS,
)

from .conftest import WEBHOOK_SECRET
from .replay import ReplayClient, error, sign

pytestmark = pytest.mark.stripe_replay

PAYLOADS = Path(__file__).parent / "payloads"
#: API versions whose shapes cover every event type (2019-05-16 covers the subscription
#: and invoice shapes of dj-stripe's older fixtures only).
FULL_VERSIONS = ("2024-12-18.acacia", "2025-03-31.basil", "2025-09-30.clover")
HANDLED = (
    set(_SUBSCRIPTION_EVENTS) | set(_INVOICE_EVENTS) | set(_CHECKOUT_EVENTS) | set(WEBHOOK_EVENTS)
)
#: Types the provider receives (on a shared endpoint) and deliberately ignores.
IGNORED_ON_PURPOSE = {"charge.dispute.created"}


def payload_files() -> Iterator[Path]:
    yield from sorted(PAYLOADS.glob("*/*.json"))


def load(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def provider() -> StripeProvider:
    return StripeProvider("sk_test_payloads", webhook_secrets=[WEBHOOK_SECRET])


def is_subset(expected: object, actual: object) -> bool:
    if isinstance(expected, Mapping):
        return isinstance(actual, Mapping) and all(
            k in actual and is_subset(v, actual[k]) for k, v in expected.items()
        )
    return expected == actual


@pytest.mark.parametrize("path", list(payload_files()), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_each_real_payload_becomes_its_canonical_event(path: Path) -> None:
    doc = load(path)
    expected = doc["expected"]
    if isinstance(expected, Mapping) and "malformed" in expected:
        with pytest.raises(MalformedEvent, match=expected["malformed"]):
            provider().translate_event(doc["event"])
        return
    events = provider().translate_event(doc["event"])
    if expected == "ignored":
        assert events == []
        return
    [event] = events
    got = event.to_dict()
    assert is_subset(expected, got), f"expected {expected}\ngot {got}"


@pytest.mark.parametrize("version", FULL_VERSIONS)
def test_every_handled_and_deliberately_ignored_event_type_has_a_real_payload(
    version: str,
) -> None:
    covered = {load(p)["event"]["type"] for p in (PAYLOADS / version).glob("*.json")}
    assert covered >= HANDLED | IGNORED_ON_PURPOSE, sorted(HANDLED - covered)


def test_every_payload_names_where_it_came_from_and_its_api_version() -> None:
    readme = (PAYLOADS / "README.md").read_text()
    for path in payload_files():
        doc = load(path)
        assert doc["event"]["api_version"] == path.parent.name
        repository = doc["source"].split(" ", 1)[0]
        [commit] = re.findall(r"@ ([0-9a-f]{40})", doc["source"])
        assert f"`{repository}`" in readme
        assert f"`{commit}`" in readme


# -- sequences peers reported, through the program ---------------------------------------------


def payload(version: str, name: str) -> dict[str, Any]:
    return copy.deepcopy(load(PAYLOADS / version / f"{name}.json")["event"])


def catalog() -> Catalog:
    return Catalog(
        tiers=[Tier("gold", "Gold", rank=1, entitlements=("content.premium",))],
        prices=[
            Price(
                "gold-monthly",
                2000,
                "USD",
                Interval.MONTH,
                tier="gold",
                provider_ids={"stripe": "price_PayGoldMonthly"},
            ),
            Price(
                "issue-7",
                900,
                "USD",
                Interval.ONE_OFF,
                item="issue.7",
                provider_ids={"stripe": "price_PayIssue7"},
            ),
        ],
    )


class Lifecycle:
    """Records the lifecycle hooks the program fires, in order."""

    def __init__(self) -> None:
        self.fired: list[str] = []

    @hookimpl
    def membership_activated(self, membership: object, event: object) -> None:
        self.fired.append("activated")

    @hookimpl
    def membership_renewed(self, membership: object, event: object) -> None:
        self.fired.append("renewed")

    @hookimpl
    def membership_payment_failed(self, membership: object, event: object) -> None:
        self.fired.append("payment_failed")

    @hookimpl
    def membership_canceled(self, membership: object, event: object) -> None:
        self.fired.append("canceled")


class Site:
    """A program on Stripe, its clock and the subscription Stripe holds right now."""

    def __init__(self, now: datetime, **policies: str) -> None:
        self.now = now
        self.replay = ReplayClient()
        self.hooks = Lifecycle()
        self.program = MembershipProgram(
            catalog(),
            MemoryStore(),
            clock=lambda: self.now,
            grace=timedelta(days=3),
            **policies,
            pm=get_plugin_manager(plugins=(self.hooks,), load_entrypoints=False),
            provider_config={
                "stripe": {
                    "api_key": "sk_test_replay",
                    "webhook_secret": WEBHOOK_SECRET,
                    "http_client": self.replay,
                    "max_network_retries": 0,
                    "clock_ms": lambda: int(self.now.timestamp() * 1000),
                }
            },
        )

    def stripe_holds(self, subscription: Mapping[str, Any]) -> None:
        self.replay.on(f"GET /v1/subscriptions/{subscription['id']}", subscription)

    def deliver(self, event: Mapping[str, Any]) -> list[ApplyResult]:
        body = json.dumps(event)
        headers = sign(body, WEBHOOK_SECRET, int(self.now.timestamp()))
        return self.program.handle_webhook("stripe", headers, body.encode())

    def sees(self, event: Mapping[str, Any]) -> None:
        """Stripe sends ``event``; its subscription is what Stripe holds from now on."""
        obj = event["data"]["object"]
        if obj["object"] == "subscription":
            self.stripe_holds(obj)
        self.now = datetime.fromtimestamp(event["created"], UTC)
        self.deliver(event)

    def has_premium(self, at: datetime) -> bool:
        self.now = at
        return "content.premium" in self.program.context("42").entitlements


def at(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


PERIOD_END = at(1769904000)  # 2026-02-01: the paid period ends, the new one starts
NEXT_END = at(1772323200)  # 2026-03-01: the new, unpaid period's end


def first_payment(site: Site, version: str) -> None:
    """The member subscribed and paid the first period (2026-01-01 to 02-01)."""
    created = payload(version, "customer.subscription.created.active")
    site.sees(created)
    paid = payload(version, "invoice.paid.subscription_cycle")
    invoice = paid["data"]["object"]
    invoice["billing_reason"] = "subscription_create"
    invoice["lines"]["data"][0]["period"] = {"start": 1767225600, "end": 1769904000}
    paid["id"], paid["created"] = "evt_PayFirstPaid", 1767225700
    site.sees(paid)


def renewal_period_starts(site: Site, version: str) -> dict[str, Any]:
    """An hour before it charges, Stripe starts the next period (still active)."""
    rolled = payload(version, "customer.subscription.updated.renewal_period_started")
    site.sees(rolled)
    return rolled


def renewal_charge(site: Site, version: str, *, succeeds: bool) -> None:
    """Stripe charges the new period: the invoice is paid, or it fails and the
    subscription turns past_due."""
    if succeeds:
        site.sees(payload(version, "invoice.paid.subscription_cycle"))
        return
    past_due = payload(version, "customer.subscription.updated.past_due")
    site.stripe_holds(past_due["data"]["object"])
    site.sees(payload(version, "invoice.payment_failed.subscription_cycle"))
    site.sees(past_due)


@pytest.mark.parametrize("version", FULL_VERSIONS)
def test_a_failed_renewal_keeps_access_to_the_paid_period_plus_grace_not_the_new_one(
    version: str,
) -> None:
    site = Site(at(1767225600))
    first_payment(site, version)
    renewal_period_starts(site, version)
    renewal_charge(site, version, succeeds=False)
    assert site.has_premium(PERIOD_END + timedelta(days=2, hours=23))
    assert not site.has_premium(PERIOD_END + timedelta(days=3, seconds=1))
    assert not site.has_premium(NEXT_END - timedelta(days=1))


@pytest.mark.parametrize("version", FULL_VERSIONS)
def test_a_new_period_starting_before_its_charge_is_no_renewal(version: str) -> None:
    site = Site(at(1767225600))
    first_payment(site, version)
    renewal_period_starts(site, version)
    renewal_charge(site, version, succeeds=False)
    assert site.hooks.fired == ["activated", "payment_failed"]


@pytest.mark.parametrize("version", FULL_VERSIONS)
def test_a_paid_renewal_fires_membership_renewed_once_when_paid(version: str) -> None:
    site = Site(at(1767225600))
    first_payment(site, version)
    renewal_period_starts(site, version)
    assert site.hooks.fired == ["activated"]
    renewal_charge(site, version, succeeds=True)
    assert site.hooks.fired == ["activated", "renewed"]
    assert site.has_premium(NEXT_END - timedelta(days=1))


@pytest.mark.parametrize("version", FULL_VERSIONS)
def test_a_trial_that_ends_unpaid_keeps_only_the_grace_days_after_the_trial(
    version: str,
) -> None:
    # trial_settings.end_behavior.missing_payment_method = create_invoice: Stripe starts a
    # paid period at the trial's end, cannot charge it, and the subscription turns past_due.
    site = Site(at(1766016000))
    site.sees(payload(version, "customer.subscription.trial_will_end.trialing"))
    site.sees(payload(version, "customer.subscription.updated.trial_ended_without_payment"))
    trial_end = at(1767225600)
    assert site.has_premium(trial_end + timedelta(days=2))
    assert not site.has_premium(trial_end + timedelta(days=3, seconds=1))


@pytest.mark.parametrize("version", FULL_VERSIONS)
def test_a_one_off_purchase_with_a_100_percent_promotion_code_grants_the_item(
    version: str,
) -> None:
    site = Site(at(1767225600))
    site.sees(payload(version, "checkout.session.completed.payment_no_payment_required"))
    assert "issue.7" in site.program.context("42").purchases


@pytest.mark.parametrize("taken_back_by", ["charge.dispute.closed.lost", "charge.refunded.full"])
@pytest.mark.parametrize("version", FULL_VERSIONS)
def test_a_lost_chargeback_takes_a_purchase_back_as_a_refund_does(
    version: str, taken_back_by: str
) -> None:
    site = Site(at(1767225600))
    site.sees(payload(version, "checkout.session.completed.payment_paid"))
    assert "issue.7" in site.program.context("42").purchases
    site.sees(payload(version, taken_back_by))
    assert "issue.7" not in site.program.context("42").purchases


@pytest.mark.parametrize("version", FULL_VERSIONS)
def test_a_won_dispute_leaves_the_purchase_in_place(version: str) -> None:
    site = Site(at(1767225600))
    site.sees(payload(version, "checkout.session.completed.payment_paid"))
    site.sees(payload(version, "charge.dispute.created.needs_response"))
    site.sees(payload(version, "charge.dispute.closed.won"))
    assert "issue.7" in site.program.context("42").purchases


def test_a_lost_dispute_of_a_subscription_payment_is_ignored_naming_the_payment() -> None:
    site = Site(at(1767225600))
    event = payload("2025-09-30.clover", "charge.dispute.closed.lost")
    event["data"]["object"]["payment_intent"] = "pi_PayRenewal"
    [result] = site.deliver(event)
    assert result.outcome.value == "ignored"
    assert "pi_PayRenewal" in result.detail


def test_an_active_subscription_without_any_period_end_is_refused_naming_the_fields() -> None:
    site = Site(at(1767225600))
    event = payload(
        "2025-09-30.clover", "customer.subscription.updated.active_without_any_period_end"
    )
    with pytest.raises(MalformedEvent, match=r"items\.data\[\]\.current_period_end"):
        site.deliver(event)
    assert site.program.store.memberships.for_member("42") == []


# -- a subscription's payment refunded, or charged back ------------------------------------------

REFUND_SEEN = at(1769904000 + 5 * 86400)  # 2026-02-06, in the renewed period


def renewed_member(version: str, **policies: str) -> tuple[Site, dict[str, Any]]:
    """A member whose renewal (2026-02-01 to 03-01) was paid; Stripe knows which
    subscription the renewal's PaymentIntent paid."""
    site = Site(at(1767225600), **policies)
    first_payment(site, version)
    rolled = renewal_period_starts(site, version)
    renewal_charge(site, version, succeeds=True)
    site.replay.on(
        "GET /v1/invoice_payments",
        {
            "object": "list",
            "data": [
                {
                    "object": "invoice_payment",
                    "id": "inpay_PayRenewal",
                    "invoice": "in_PayRenewal",
                    "payment": {"type": "payment_intent", "payment_intent": "pi_PayRenewal"},
                    "status": "paid",
                }
            ],
            "has_more": False,
        },
    )
    site.replay.on(
        "GET /v1/invoices/in_PayRenewal",
        payload(version, "invoice.paid.subscription_cycle")["data"]["object"],
    )
    subscription = rolled["data"]["object"]
    site.replay.on(
        f"POST /v1/subscriptions/{subscription['id']}",
        dict(subscription, cancel_at_period_end=True, canceled_at=int(REFUND_SEEN.timestamp())),
    )
    site.replay.on(
        f"DELETE /v1/subscriptions/{subscription['id']}",
        dict(
            subscription,
            status="canceled",
            canceled_at=int(REFUND_SEEN.timestamp()),
            ended_at=int(REFUND_SEEN.timestamp()),
        ),
    )
    site.now = REFUND_SEEN
    return site, subscription


def refund_of_the_renewal(version: str) -> dict[str, Any]:
    event = payload(version, "charge.refunded.subscription_payment")
    event["created"] = int(REFUND_SEEN.timestamp())
    return event


def lost_dispute_of_the_renewal(version: str) -> dict[str, Any]:
    event = payload(version, "charge.dispute.closed.lost")
    event["data"]["object"].update(payment_intent="pi_PayRenewal", charge="ch_PayRenewal")
    event["created"] = int(REFUND_SEEN.timestamp())
    return event


@pytest.mark.parametrize("version", FULL_VERSIONS)
def test_by_default_a_refunded_renewal_keeps_access_to_the_period_end_and_stops_renewing(
    version: str,
) -> None:
    site, subscription = renewed_member(version)
    [result] = site.deliver(refund_of_the_renewal(version))
    assert result.outcome.value == "applied"
    assert "keep_to_period_end" in result.detail
    [sent] = site.replay.sent(f"POST /v1/subscriptions/{subscription['id']}")
    assert sent.params["cancel_at_period_end"] == "true"
    assert site.replay.sent(f"DELETE /v1/subscriptions/{subscription['id']}") == []
    assert site.has_premium(NEXT_END - timedelta(hours=1))
    assert site.hooks.fired[-1] == "canceled"


@pytest.mark.parametrize("version", FULL_VERSIONS)
def test_by_default_a_lost_chargeback_of_a_renewal_ends_access_now(version: str) -> None:
    site, subscription = renewed_member(version)
    site.deliver(lost_dispute_of_the_renewal(version))
    assert len(site.replay.sent(f"DELETE /v1/subscriptions/{subscription['id']}")) == 1
    assert not site.has_premium(REFUND_SEEN + timedelta(seconds=1))


def test_a_publisher_may_end_access_at_once_on_a_refund() -> None:
    site, subscription = renewed_member("2025-09-30.clover", on_refund="end_now")
    site.deliver(refund_of_the_renewal("2025-09-30.clover"))
    assert len(site.replay.sent(f"DELETE /v1/subscriptions/{subscription['id']}")) == 1
    assert not site.has_premium(REFUND_SEEN + timedelta(seconds=1))


def test_a_publisher_may_keep_access_to_the_period_end_on_a_lost_chargeback() -> None:
    site, subscription = renewed_member("2025-09-30.clover", on_dispute_lost="keep_to_period_end")
    site.deliver(lost_dispute_of_the_renewal("2025-09-30.clover"))
    assert site.replay.sent(f"DELETE /v1/subscriptions/{subscription['id']}") == []
    assert site.has_premium(NEXT_END - timedelta(hours=1))


def test_before_basil_the_payments_invoice_is_read_from_the_payment_intent() -> None:
    site, subscription = renewed_member("2024-12-18.acacia", on_refund="end_now")
    site.replay.on(
        "GET /v1/invoice_payments",
        error(400, "invalid_request_error", "Unrecognized request URL", "parameter_unknown"),
    )
    site.replay.on(
        "GET /v1/payment_intents/pi_PayRenewal",
        {"object": "payment_intent", "id": "pi_PayRenewal", "invoice": "in_PayRenewal"},
    )
    site.deliver(refund_of_the_renewal("2024-12-18.acacia"))
    assert len(site.replay.sent(f"DELETE /v1/subscriptions/{subscription['id']}")) == 1


def test_stripe_unreachable_while_taking_back_leaves_the_refund_to_be_retried() -> None:
    site, subscription = renewed_member("2025-09-30.clover")
    site.replay.unreachable.add("GET /v1/invoice_payments")
    with pytest.raises(ProviderError) as caught:
        site.deliver(refund_of_the_renewal("2025-09-30.clover"))
    assert caught.value.retryable
    site.replay.unreachable.clear()
    [result] = site.deliver(refund_of_the_renewal("2025-09-30.clover"))
    assert result.outcome.value == "applied"
    assert len(site.replay.sent(f"POST /v1/subscriptions/{subscription['id']}")) == 1


def test_a_refund_delivered_twice_cancels_once() -> None:
    site, subscription = renewed_member("2025-09-30.clover", on_refund="end_now")
    site.deliver(refund_of_the_renewal("2025-09-30.clover"))
    [again] = site.deliver(refund_of_the_renewal("2025-09-30.clover"))
    assert again.outcome.value == "duplicate"
    assert len(site.replay.sent(f"DELETE /v1/subscriptions/{subscription['id']}")) == 1


# -- a subscription left past due ---------------------------------------------------------------

ROLLED_END = at(1775001600)  # 2026-04-01: the end of the second unpaid period


def set_period(subscription: dict[str, Any], start: datetime, end: datetime) -> None:
    """Move ``subscription`` (any API version's shape) to the period ``start``-``end``."""
    where = [subscription, *subscription.get("items", {}).get("data", [])]
    for obj in where:
        if "current_period_end" in obj:
            obj["current_period_start"] = int(start.timestamp())
            obj["current_period_end"] = int(end.timestamp())


@pytest.mark.parametrize("version", FULL_VERSIONS)
def test_a_subscription_left_past_due_gets_no_new_grace_when_its_period_rolls_on(
    version: str,
) -> None:
    # Stripe's "leave the subscription past-due": January paid, the February charge
    # failed, and on 2026-03-01 the period rolls on, still unpaid.
    site = Site(at(1767225600))
    first_payment(site, version)
    renewal_period_starts(site, version)
    renewal_charge(site, version, succeeds=False)
    rolled = payload(version, "customer.subscription.updated.past_due")
    set_period(rolled["data"]["object"], NEXT_END, ROLLED_END)
    rolled["id"], rolled["created"] = "evt_PayRolledUnpaid", int(NEXT_END.timestamp()) + 3
    site.sees(rolled)
    [membership] = site.program.store.memberships.for_member("42")
    assert membership.paid_through == PERIOD_END
    assert not site.has_premium(NEXT_END + timedelta(days=1))


# -- refunds and chargebacks of an earlier period's payment --------------------------------------

FIRST_INVOICE = "in_PayFirst"


def payment_of_the_first_invoice(site: Site, version: str) -> None:
    """Stripe says the refunded or disputed payment paid the first invoice (2026-01-01 to
    02-01), not the renewal the member is in now."""
    first = payload(version, "invoice.paid.subscription_cycle")["data"]["object"]
    first["id"] = FIRST_INVOICE
    first["lines"]["data"][0]["period"] = {"start": 1767225600, "end": 1769904000}
    site.replay.on(
        "GET /v1/invoice_payments",
        {
            "object": "list",
            "data": [{"object": "invoice_payment", "invoice": FIRST_INVOICE, "status": "paid"}],
            "has_more": False,
        },
    )
    site.replay.on(f"GET /v1/invoices/{FIRST_INVOICE}", first)


@pytest.mark.parametrize("version", FULL_VERSIONS)
def test_refunding_an_earlier_periods_invoice_leaves_the_current_subscription_alone(
    version: str, caplog: pytest.LogCaptureFixture
) -> None:
    site, subscription = renewed_member(version, on_refund="end_now")
    payment_of_the_first_invoice(site, version)
    with caplog.at_level(logging.INFO, logger="membership_sdk.program"):
        [result] = site.deliver(refund_of_the_renewal(version))
    assert result.outcome.value == "applied"
    assert "earlier period" in result.detail
    assert site.replay.sent(f"DELETE /v1/subscriptions/{subscription['id']}") == []
    assert site.replay.sent(f"POST /v1/subscriptions/{subscription['id']}") == []
    assert site.has_premium(NEXT_END - timedelta(hours=1))
    assert "before its current period" in caplog.text


def test_a_lost_chargeback_of_an_earlier_periods_invoice_still_applies_the_policy() -> None:
    site, subscription = renewed_member("2025-09-30.clover")
    payment_of_the_first_invoice(site, "2025-09-30.clover")
    site.deliver(lost_dispute_of_the_renewal("2025-09-30.clover"))
    assert len(site.replay.sent(f"DELETE /v1/subscriptions/{subscription['id']}")) == 1
    assert not site.has_premium(REFUND_SEEN + timedelta(seconds=1))


# -- a lost dispute of a charge made without a PaymentIntent (legacy Charges API) --------------


def legacy_charge_dispute() -> dict[str, Any]:
    event = payload("2024-12-18.acacia", "charge.dispute.closed.lost.legacy_charge")
    event["created"] = int(REFUND_SEEN.timestamp())
    return event


def test_a_lost_dispute_of_a_legacy_charge_finds_the_subscription_through_the_charge() -> None:
    site, subscription = renewed_member("2024-12-18.acacia")
    site.replay.on(
        "GET /v1/invoice_payments",
        error(400, "invalid_request_error", "Unrecognized request URL", "parameter_unknown"),
    )
    site.replay.on(
        "GET /v1/charges/ch_PayLegacy",
        {"object": "charge", "id": "ch_PayLegacy", "invoice": "in_PayRenewal"},
    )
    [result] = site.deliver(legacy_charge_dispute())
    assert result.outcome.value == "applied"
    [asked] = site.replay.sent("GET /v1/invoice_payments")
    assert asked.params["payment[type]"] == "charge"
    assert asked.params["payment[charge]"] == "ch_PayLegacy"
    assert len(site.replay.sent(f"DELETE /v1/subscriptions/{subscription['id']}")) == 1


def test_a_lost_dispute_of_a_legacy_charge_stripe_cannot_place_is_ignored_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    site = Site(REFUND_SEEN)
    with caplog.at_level(logging.WARNING):
        [result] = site.deliver(legacy_charge_dispute())
    assert result.outcome.value == "ignored"
    assert "ch_PayLegacy" in result.detail
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("dp_PayLegacy" in w and "ch_PayLegacy" in w for w in warnings), warnings


def test_a_lost_dispute_naming_no_payment_at_all_is_ignored_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    site = Site(REFUND_SEEN)
    event = legacy_charge_dispute()
    event["data"]["object"]["charge"] = None
    with caplog.at_level(logging.WARNING):
        assert site.deliver(event) == []
    assert "dp_PayLegacy" in caplog.text
