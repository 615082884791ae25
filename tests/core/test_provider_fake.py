"""The ``fake`` provider: the contract suite, then what only a simulated card service does."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from membership_sdk import (
    MalformedEvent,
    MembershipProgram,
    MemoryStore,
    MinTier,
    Outcome,
    ProviderError,
    Purchase,
    Resource,
    SignatureError,
    Status,
    UnknownProvider,
)
from membership_sdk.providers.base import CheckoutRequest
from membership_sdk.providers.fake import DEV_SECRET, FakeProvider
from membership_sdk.providers.simulated import add_interval
from membership_sdk.providers.webhooks import encode_event
from membership_sdk.testing import HookRecorder, ProviderContract, sample_catalog, sample_program

GOLD = Resource("page:1", MinTier("gold"))
REPORT = Resource("report", Purchase())


class TestFakeProviderContract(ProviderContract):
    provider_name = "fake"

    def pay(self, provider: FakeProvider, session: Any) -> Any:
        return provider.complete_checkout(session.id)

    def sign(self, provider: FakeProvider, body: bytes) -> Any:
        return provider.signer.sign(body)

    def break_provider(self, provider: FakeProvider) -> None:
        provider.simulate_outage()


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 31, 9, 30, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hooks() -> HookRecorder:
    return HookRecorder()


@pytest.fixture
def program(clock: Clock, hooks: HookRecorder) -> MembershipProgram:
    catalog = sample_catalog(
        "fake", monthly="fake_gold_m", yearly="fake_gold_y", one_off="fake_report"
    )
    program = sample_program(
        catalog, config={"fake": {"secret": "whsec_test", "clock": clock}}, plugins=[hooks]
    )
    program.clock = clock
    return program


@pytest.fixture
def fake(program: MembershipProgram) -> FakeProvider:
    provider = program.providers["fake"]
    assert isinstance(provider, FakeProvider)
    return provider


def checkout(program: MembershipProgram, price: str = "gold-monthly", member: str = "ann") -> Any:
    return program.start_checkout(
        member, price, provider="fake", success_url="/ok/", cancel_url="/no/", attempt=price
    )


def deliver(program: MembershipProgram, webhook: Any) -> Outcome:
    (result,) = program.handle_webhook("fake", webhook.headers, webhook.body)
    return result.outcome


def subscribe(program: MembershipProgram, fake: FakeProvider, member: str = "ann") -> str:
    deliver(program, fake.complete_checkout(checkout(program, member=member).id))
    (membership,) = program.store.memberships.for_member(member)
    assert membership.provider_subscription_id is not None
    return membership.provider_subscription_id


def membership(program: MembershipProgram, member: str = "ann") -> Any:
    (found,) = program.store.memberships.for_member(member)
    return found


# -- registration and configuration ------------------------------------------------------------


def test_in_development_mode_fake_registers_without_any_settings_using_the_dev_secret() -> None:
    program = sample_program(sample_catalog("fake", monthly="x"), development=True)

    assert program.providers["fake"].using_dev_secret  # type: ignore[attr-defined]


def test_outside_development_mode_fake_without_a_secret_is_not_available() -> None:
    program = MembershipProgram(sample_catalog("fake", monthly="x"), MemoryStore())

    with pytest.raises(UnknownProvider, match="'fake' is not available: no webhook secret"):
        program.providers["fake"]


def test_outside_development_mode_fake_with_a_secret_of_its_own_verifies_with_it() -> None:
    program = sample_program(
        sample_catalog("fake", monthly="x"), config={"fake": {"secret": "s"}}, development=False
    )
    fake = program.providers["fake"]
    assert isinstance(fake, FakeProvider)
    forged = FakeProvider().signer.sign(b"{}")

    assert fake.signer.secrets == ("s",)
    with pytest.raises(SignatureError):
        fake.parse_webhook(forged.headers, forged.body)


def test_a_configured_secret_replaces_the_dev_secret() -> None:
    provider = FakeProvider.from_config({"secret": "whsec_live"})

    assert provider.signer.secrets == ("whsec_live",)
    assert not provider.using_dev_secret


def test_checkout_url_points_at_the_fake_payment_page(program: MembershipProgram) -> None:
    session = checkout(program)

    assert session.url == f"/paywall/fake/checkout/{session.id}/"


def test_checkout_url_is_configurable() -> None:
    program = sample_program(
        sample_catalog("fake", monthly="m"),
        config={"fake": {"checkout_url": "https://demo.test/pay/"}},
    )

    session = checkout(program)

    assert session.url == f"https://demo.test/pay/{session.id}/"


def test_portal_url_names_the_customer_when_configured() -> None:
    provider = FakeProvider(portal_url="https://demo.test/portal/{customer}/")

    assert provider.portal_url("cus_1", "/account/") == "https://demo.test/portal/cus_1/"


# -- signatures ------------------------------------------------------------------------------


def test_a_webhook_within_the_tolerance_verifies(
    program: MembershipProgram, fake: FakeProvider, clock: Clock
) -> None:
    webhook = fake.complete_checkout(checkout(program).id)
    clock.advance(seconds=299)

    assert deliver(program, webhook) is Outcome.APPLIED


def test_a_webhook_older_than_the_tolerance_is_rejected_as_a_replay(
    program: MembershipProgram, fake: FakeProvider, clock: Clock
) -> None:
    webhook = fake.complete_checkout(checkout(program).id)
    clock.advance(seconds=301)

    with pytest.raises(SignatureError, match="outside the 300s tolerance"):
        deliver(program, webhook)
    assert program.store.memberships.for_member("ann") == []


def test_a_webhook_dated_in_the_future_is_rejected(fake: FakeProvider, clock: Clock) -> None:
    webhook = fake.signer.sign(b"{}", timestamp=int(clock().timestamp()) + 3600)

    with pytest.raises(SignatureError, match="tolerance"):
        fake.parse_webhook(webhook.headers, webhook.body)


def test_the_tolerance_is_configurable(clock: Clock) -> None:
    provider = FakeProvider.from_config({"tolerance": 5, "clock": clock})
    webhook = provider.signer.sign(b"{}")
    clock.advance(seconds=6)

    with pytest.raises(SignatureError, match="5s tolerance"):
        provider.parse_webhook(webhook.headers, webhook.body)


def test_while_rotating_a_secret_webhooks_signed_with_either_verify(clock: Clock) -> None:
    old = FakeProvider(secrets="whsec_old", clock=clock)
    new = FakeProvider(secrets="whsec_new", clock=clock)
    site = FakeProvider.from_config({"secrets": ["whsec_new", "whsec_old"], "clock": clock})
    body = b'{"id": "evt_1", "type": "customer.updated"}'

    for sender in (old, new):
        webhook = sender.signer.sign(body)
        assert site.parse_webhook(webhook.headers, webhook.body) == []


def test_after_rotation_the_retired_secret_no_longer_verifies(clock: Clock) -> None:
    old = FakeProvider(secrets="whsec_old", clock=clock)
    site = FakeProvider(secrets="whsec_new", clock=clock)
    webhook = old.signer.sign(b"{}")

    with pytest.raises(SignatureError, match="any configured secret"):
        site.parse_webhook(webhook.headers, webhook.body)


def test_the_signature_header_name_is_case_insensitive(fake: FakeProvider) -> None:
    webhook = fake.signer.sign(b'{"id": "evt_1", "type": "customer.updated"}')
    headers = {k.lower(): v for k, v in webhook.headers.items()}

    assert fake.parse_webhook(headers, webhook.body) == []


@pytest.mark.parametrize("header", ["garbage", "t=abc,v1=00", "t=1767225600", "v1=00"])
def test_an_unreadable_signature_header_is_rejected_naming_the_format(
    fake: FakeProvider, header: str
) -> None:
    with pytest.raises(SignatureError, match="expected 't=<unix time>,v1=<hex>'"):
        fake.parse_webhook({"Fake-Signature": header}, b"{}")


def test_the_dev_secret_is_labelled_as_such() -> None:
    assert "dev-only" in DEV_SECRET
    assert FakeProvider().using_dev_secret


def test_a_signer_needs_a_secret() -> None:
    with pytest.raises(ValueError, match="non-empty secrets"):
        FakeProvider(secrets=[])


# -- malformed bodies ------------------------------------------------------------------------


def _body(**changes: Any) -> bytes:
    payload: dict[str, Any] = {
        "id": "evt_x",
        "type": "subscription.updated",
        "created": 1769851800,
        "data": {
            "object": "subscription",
            "id": "sub_x",
            "customer": "cus_x",
            "price": "fake_gold_m",
            "status": "active",
            "version": 1,
        },
    }
    for key, value in changes.items():
        target = payload["data"] if key.startswith("data_") else payload
        name = key.removeprefix("data_")
        if value is ...:
            del target[name]
        else:
            target[name] = value
    return json.dumps(payload).encode()


@pytest.mark.parametrize(
    ("body", "culprit"),
    [
        (b"[1, 2]", "fake webhook must be a JSON object, got list"),
        (b"\xff\xfe", "not JSON"),
        (_body(id=...), "fake webhook.id must be a non-empty string, got missing"),
        (_body(id=""), "fake webhook.id must be a non-empty string, got ''"),
        (_body(created="yesterday"), "created must be a unix timestamp, got str"),
        (_body(data="sub_x"), "data must be a JSON object, got str"),
        (_body(data_status=3), "data.status must be a non-empty string, got int 3"),
        (_body(data_version=True), "data.version must be an integer, got bool True"),
        (_body(data_customer=...), "data.customer must be a non-empty string, got missing"),
        (_body(data_object="invoice"), "data.object must be 'subscription' or 'purchase'"),
        (_body(data_cancel_at_period_end="yes"), "data.cancel_at_period_end must be true"),
        (_body(data_object="purchase", data_state="stolen"), "data.state must be one of"),
    ],
)
def test_a_malformed_body_raises_malformed_event_naming_the_field(
    fake: FakeProvider, body: bytes, culprit: str
) -> None:
    webhook = fake.signer.sign(body)

    with pytest.raises(MalformedEvent, match=culprit.replace("[", r"\[")):
        fake.parse_webhook(webhook.headers, webhook.body)


def test_unknown_event_types_are_ignored(fake: FakeProvider) -> None:
    webhook = fake.signer.sign(_body(type="customer.tax_id.created"))

    assert fake.parse_webhook(webhook.headers, webhook.body) == []


def test_an_unknown_subscription_status_denies_access(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    sub = subscribe(program, fake)

    deliver(program, fake.set_status(sub, "on_hold_by_bank"))

    assert membership(program).status is Status.UNKNOWN
    assert not program.access(GOLD, "ann").allowed


# -- checkout --------------------------------------------------------------------------------


def test_one_customer_per_member_is_reused_by_every_checkout(program: MembershipProgram) -> None:
    monthly = checkout(program, "gold-monthly")
    yearly = checkout(program, "gold-yearly")

    assert monthly.id != yearly.id
    assert monthly.customer_id == yearly.customer_id
    assert checkout(program, member="bob").customer_id != monthly.customer_id


def test_an_idempotency_key_reused_for_another_price_is_refused(
    fake: FakeProvider, program: MembershipProgram
) -> None:
    session = checkout(program)
    request = fake.sessions[session.id]
    clash = CheckoutRequest(
        member_id="ann",
        price=program.catalog.price("gold-yearly"),
        provider_price="fake_gold_y",
        success_url="/",
        cancel_url="/",
        idempotency_key=request.idempotency_key,
    )

    with pytest.raises(ProviderError, match="idempotency key") as raised:
        fake.create_checkout(clash)
    assert raised.value.code == "idempotency_conflict"


def test_completing_a_session_twice_is_refused(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    session = checkout(program)
    fake.complete_checkout(session.id)

    with pytest.raises(ProviderError, match="already complete") as raised:
        fake.complete_checkout(session.id)
    assert raised.value.code == "session_closed"


def test_completing_an_unknown_session_names_it(fake: FakeProvider) -> None:
    with pytest.raises(ProviderError, match="'cs_nope'") as raised:
        fake.complete_checkout("cs_nope")
    assert raised.value.code == "no_such_session"


def test_a_price_with_trial_days_starts_a_trial(clock: Clock, hooks: HookRecorder) -> None:
    program = sample_program(
        sample_catalog("fake", monthly="fake_trial", trial_days=14),
        config={"fake": {"clock": clock}},
        plugins=[hooks],
    )
    program.clock = clock
    fake = program.providers["fake"]
    assert isinstance(fake, FakeProvider)

    deliver(program, fake.complete_checkout(checkout(program).id))

    found = membership(program)
    assert found.status is Status.TRIALING
    assert found.trial_end == found.current_period_end == clock() + timedelta(days=14)
    assert program.access(GOLD, "ann").allowed


def test_a_failed_card_payment_leaves_an_incomplete_membership_without_access(
    program: MembershipProgram, fake: FakeProvider, hooks: HookRecorder
) -> None:
    deliver(program, fake.complete_checkout(checkout(program).id, succeed=False))

    assert membership(program).status is Status.INCOMPLETE
    assert not program.access(GOLD, "ann").allowed
    assert hooks.names() == []


def test_a_one_off_purchase_unlocks_the_item(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    deliver(program, fake.complete_checkout(checkout(program, "report").id))

    assert program.access(REPORT, "ann").allowed
    assert not program.access(GOLD, "ann").allowed


def test_a_refund_revokes_the_purchase(program: MembershipProgram, fake: FakeProvider) -> None:
    deliver(program, fake.complete_checkout(checkout(program, "report").id))
    (purchase,) = fake.purchases

    deliver(program, fake.refund(purchase))

    assert not program.access(REPORT, "ann").allowed
    with pytest.raises(ProviderError, match="already refunded"):
        fake.refund(purchase)


def test_a_failed_one_off_payment_sends_an_event_sites_ignore(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    webhook = fake.complete_checkout(checkout(program, "report").id, succeed=False)

    assert program.handle_webhook("fake", webhook.headers, webhook.body) == []
    assert fake.purchases == {}


# -- the simulated lifecycle ------------------------------------------------------------------


def test_a_renewal_extends_the_period_by_a_calendar_month(
    program: MembershipProgram, fake: FakeProvider, clock: Clock
) -> None:
    sub = subscribe(program, fake)  # on Jan 31: paid until Feb 28

    deliver(program, fake.renew(sub))

    assert membership(program).current_period_end == datetime(2026, 3, 28, 9, 30, tzinfo=UTC)


def test_every_change_sends_one_webhook_with_a_higher_version(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    sub = subscribe(program, fake)
    fake.renew(sub)
    fake.fail_payment(sub)
    fake.recover(sub)

    versions = [json.loads(w.body)["data"]["version"] for w in fake.outbox if b"sub_fake" in w.body]

    assert versions == [1, 2, 3, 4]


def test_a_failed_renewal_makes_the_membership_past_due_until_recovered(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    sub = subscribe(program, fake)

    deliver(program, fake.fail_payment(sub))
    assert membership(program).status is Status.PAST_DUE
    deliver(program, fake.recover(sub))

    assert membership(program).status is Status.ACTIVE


def test_only_a_past_due_subscription_can_recover(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    sub = subscribe(program, fake)

    with pytest.raises(ProviderError, match="not past_due"):
        fake.recover(sub)


def test_a_subscription_set_to_cancel_does_not_renew(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    sub = subscribe(program, fake)
    fake.cancel_subscription(sub, at_period_end=True)

    with pytest.raises(ProviderError, match="set to cancel") as raised:
        fake.renew(sub)
    assert raised.value.code == "not_renewable"


def test_canceling_now_ends_access_now(program: MembershipProgram, fake: FakeProvider) -> None:
    subscribe(program, fake)

    program.cancel(membership(program).id, at_period_end=False)

    assert membership(program).status is Status.CANCELED
    assert not program.access(GOLD, "ann").allowed


def test_the_cancel_webhook_after_a_cancel_through_the_api_changes_nothing_more(
    program: MembershipProgram, fake: FakeProvider, hooks: HookRecorder
) -> None:
    subscribe(program, fake)
    program.cancel(membership(program).id)

    deliver(program, fake.outbox[-1])

    assert hooks.names() == ["membership_activated", "membership_canceled"]


def test_an_ended_subscription_cannot_be_changed(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    sub = subscribe(program, fake)
    deliver(program, fake.expire(sub))

    with pytest.raises(ProviderError, match="it is expired") as raised:
        fake.cancel_subscription(sub)
    assert raised.value.code == "subscription_ended"


def test_resuming_a_subscription_not_set_to_cancel_is_refused(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    sub = subscribe(program, fake)

    with pytest.raises(ProviderError, match="nothing to resume"):
        fake.resume_subscription(sub)


def test_webhooks_delivered_in_any_order_converge_to_the_latest_state(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    sub = subscribe(program, fake)
    for change in (fake.renew, fake.fail_payment, fake.recover, fake.renew):
        change(sub)
    in_order = fake.fetch_subscription(sub)
    shuffled = fake.outbox[1:]
    random.Random(7).shuffle(shuffled)

    for webhook in shuffled + shuffled:
        deliver(program, webhook)

    assert in_order is not None
    assert membership(program).status is in_order.status
    assert membership(program).current_period_end == in_order.current_period_end


def test_an_outage_ends_when_the_service_is_back(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    fake.simulate_outage()
    with pytest.raises(ProviderError, match="unreachable") as raised:
        checkout(program)
    assert raised.value.retryable

    fake.simulate_outage(None)

    assert checkout(program).provider == "fake"


def test_unknown_subscriptions_and_purchases_are_named(fake: FakeProvider) -> None:
    with pytest.raises(ProviderError, match="'sub_nope'"):
        fake.renew("sub_nope")
    with pytest.raises(ProviderError, match="'pur_nope'"):
        fake.refund("pur_nope")


# -- helpers the simulation relies on ---------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "interval", "expected"),
    [
        (datetime(2026, 1, 31), "month", datetime(2026, 2, 28)),
        (datetime(2028, 1, 31), "month", datetime(2028, 2, 29)),
        (datetime(2026, 12, 15), "month", datetime(2027, 1, 15)),
        (datetime(2028, 2, 29), "year", datetime(2029, 2, 28)),
    ],
)
def test_intervals_are_calendar_months_and_years(
    start: datetime, interval: str, expected: datetime
) -> None:
    assert add_interval(start, interval) == expected


def test_a_one_off_price_has_no_interval() -> None:
    with pytest.raises(ValueError, match="one-off"):
        add_interval(datetime(2026, 1, 1), "one_off")


def test_encoded_events_round_trip(fake: FakeProvider, program: MembershipProgram) -> None:
    sub = subscribe(program, fake)
    snapshot = fake.fetch_subscription(sub)
    assert snapshot is not None
    webhook = fake.signer.sign(
        encode_event("evt_rt", "subscription.updated", datetime.now(UTC), snapshot)
    )

    (event,) = fake.parse_webhook(webhook.headers, webhook.body)

    assert event.subscription == snapshot


def test_a_fake_service_with_a_state_file_remembers_subscriptions_across_restarts(
    tmp_path: Path,
) -> None:
    state = tmp_path / "fake-state.pickle"
    catalog = sample_catalog("fake", monthly="fake_gold_m")
    program = sample_program(catalog, config={"fake": {"state_file": str(state)}})
    first = program.providers["fake"]
    assert isinstance(first, FakeProvider)
    subscription_id = subscribe(program, first)

    restarted = FakeProvider(state_file=state)

    current = restarted.fetch_subscription(subscription_id)
    assert current is not None
    assert current.status is Status.ACTIVE
    assert restarted.cancel_subscription(subscription_id).cancel_at_period_end is True


# -- ids are never reused --------------------------------------------------------------------


def _ids_of_a_fresh_service(_: int = 0) -> list[str]:
    """The ids a newly started fake service gives its first checkout, subscription and
    event (what a restarted process, or another worker, hands out)."""
    provider = FakeProvider(secrets="whsec_test")
    request = CheckoutRequest(
        member_id="ann",
        price=sample_catalog("fake", monthly="m").price("gold-monthly"),
        provider_price="m",
        success_url="/ok/",
        cancel_url="/no/",
        idempotency_key="k",
    )
    session = provider.create_checkout(request)
    webhook = provider.complete_checkout(session.id)
    event = json.loads(webhook.body)
    return [session.id, event["data"]["id"], event["id"], event["data"]["customer"]]


def test_a_restarted_fake_service_never_reuses_an_id() -> None:
    before_restart, after_restart = _ids_of_a_fresh_service(), _ids_of_a_fresh_service()

    assert set(before_restart).isdisjoint(after_restart)


def test_fake_services_in_separate_processes_never_share_an_id() -> None:
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(2) as pool:
        first, second = pool.map(_ids_of_a_fresh_service, [1, 2])

    assert set(first).isdisjoint(second)


def test_a_payment_after_a_restart_is_applied_not_dropped_as_a_duplicate() -> None:
    catalog = sample_catalog("fake", monthly="m")
    program = sample_program(catalog, config={"fake": {"secret": "whsec_test"}})
    before = program.providers["fake"]
    assert isinstance(before, FakeProvider)
    subscribe(program, before, member="ann")
    restarted = FakeProvider(secrets="whsec_test")  # no state_file: a fresh service
    session = restarted.create_checkout(
        CheckoutRequest("bob", catalog.price("gold-monthly"), "m", "/ok/", "/no/", "k-bob")
    )

    outcome = deliver(program, restarted.complete_checkout(session.id))

    assert outcome is Outcome.APPLIED
    assert membership(program, "bob").status is Status.ACTIVE


def test_ids_keep_counting_across_a_restart_with_a_state_file(tmp_path: Path) -> None:
    state = tmp_path / "fake-state.pickle"
    price = sample_catalog("fake", monthly="m").price("gold-monthly")
    first = FakeProvider(secrets="s", state_file=state)
    ann = first.create_checkout(CheckoutRequest("ann", price, "m", "/ok/", "/no/", "k-ann"))
    restarted = FakeProvider(secrets="s", state_file=state)

    bob = restarted.create_checkout(CheckoutRequest("bob", price, "m", "/ok/", "/no/", "k-bob"))

    assert ann.id.startswith("cs_fake_000001_")
    assert bob.id.startswith("cs_fake_000002_")
    assert restarted.checkout(ann.id).member_id == "ann"
