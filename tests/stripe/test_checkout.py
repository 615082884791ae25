"""Checkout, the Billing Portal and plan changes, against recorded Stripe responses.

These tests use the real ``stripe`` SDK with :class:`~tests.stripe.replay.ReplayClient`,
which answers with objects recorded in the shape of API version 2026-10-28.endive
(``recordings/objects-2026-10-28.endive.json``, built from Stripe's OpenAPI fixtures). They
are replays, not a live Stripe: localstripe has no Price, Checkout Session or Billing
Portal, and the tests must not reach the Internet.
"""

from __future__ import annotations

import pytest

from membership_sdk import CouponError, MembershipProgram, MemoryStore, ProviderError, Status
from membership_sdk.plugins import get_plugin_manager

from .conftest import WEBHOOK_SECRET, gold_catalog
from .replay import ReplayClient, error, load_objects

pytestmark = pytest.mark.stripe_replay

OBJ = load_objects()


def program_with(replay: ReplayClient, store: MemoryStore | None = None) -> MembershipProgram:
    """A program whose Stripe provider is registered through the plugin hook, as a site
    configures it, with the replay client as its HTTP client."""
    return MembershipProgram(
        gold_catalog(),
        store or MemoryStore(),
        pm=get_plugin_manager(load_entrypoints=False),
        provider_config={
            "stripe": {
                "api_key": "sk_test_replay",
                "webhook_secret": WEBHOOK_SECRET,
                "http_client": replay,
                "max_network_retries": 0,
            }
        },
    )


def answer_new_customer_checkout(replay: ReplayClient) -> None:
    replay.on("GET /v1/customers", {"object": "list", "data": [], "has_more": False})
    replay.on("POST /v1/customers", OBJ["customer"])
    replay.on("POST /v1/checkout/sessions", OBJ["checkout.session"])


def start(program: MembershipProgram, price: str = "gold-monthly", **kwargs: object):
    options: dict[str, object] = {
        "provider": "stripe",
        "success_url": "https://news.example.com/welcome",
        "cancel_url": "https://news.example.com/pricing",
        "email": "reader@example.com",
        "attempt": "form-nonce-1",
    }
    options.update(kwargs)
    return program.start_checkout("member-42", price, **options)  # type: ignore[arg-type]


def test_checkout_sends_the_visitor_to_stripes_hosted_page(replay: ReplayClient) -> None:
    answer_new_customer_checkout(replay)
    session = start(program_with(replay))
    assert session.url == "https://checkout.stripe.com/c/pay/cs_test_RecGoldSubscription"
    assert session.customer_id == "cus_RecMember42"


def test_a_recurring_price_is_sold_as_a_subscription_to_our_member(
    replay: ReplayClient,
) -> None:
    answer_new_customer_checkout(replay)
    start(program_with(replay))
    [sent] = replay.sent("POST /v1/checkout/sessions")
    assert sent.params["mode"] == "subscription"
    assert sent.params["line_items[0][price]"] == "price_RecGoldMonthly"
    assert sent.params["client_reference_id"] == "member-42"
    assert sent.params["subscription_data[metadata][member_id]"] == "member-42"
    assert sent.params["customer"] == "cus_RecMember42"


def test_a_one_off_price_is_sold_as_a_payment(replay: ReplayClient) -> None:
    answer_new_customer_checkout(replay)
    replay.on("POST /v1/checkout/sessions", OBJ["checkout.session.payment"])
    start(program_with(replay), "ebook")
    [sent] = replay.sent("POST /v1/checkout/sessions")
    assert sent.params["mode"] == "payment"
    assert sent.params["payment_intent_data[metadata][stripe_price]"] == "price_RecEbook"
    assert "subscription_data[metadata][member_id]" not in sent.params


def test_a_price_with_trial_days_starts_a_stripe_trial(replay: ReplayClient) -> None:
    answer_new_customer_checkout(replay)
    start(program_with(replay), "gold-yearly")
    [sent] = replay.sent("POST /v1/checkout/sessions")
    assert sent.params["subscription_data[trial_period_days]"] == "14"


def test_a_member_who_bought_before_reuses_their_stripe_customer(replay: ReplayClient) -> None:
    store = MemoryStore()
    store.customers.link("stripe", "cus_RecMember42", "member-42")
    replay.on("POST /v1/checkout/sessions", OBJ["checkout.session"])
    start(program_with(replay, store))
    assert replay.sent("POST /v1/customers") == []
    assert replay.sent("POST /v1/checkout/sessions")[0].params["customer"] == "cus_RecMember42"


def test_a_customer_made_for_the_member_by_an_earlier_attempt_is_found_by_email(
    replay: ReplayClient,
) -> None:
    replay.on("GET /v1/customers", {"object": "list", "data": [OBJ["customer"]]})
    replay.on("POST /v1/checkout/sessions", OBJ["checkout.session"])
    start(program_with(replay))
    assert replay.sent("POST /v1/customers") == []


def test_a_double_click_makes_one_customer_and_one_session(replay: ReplayClient) -> None:
    answer_new_customer_checkout(replay)
    other = dict(OBJ["checkout.session"], id="cs_test_Duplicate", url="https://dup")
    replay.on("POST /v1/checkout/sessions", OBJ["checkout.session"], other)
    program = program_with(replay)
    first, second = start(program), start(program)
    assert first == second
    keys = {r.idempotency_key for r in replay.sent("POST /v1/checkout/sessions")}
    assert len(keys) == 1
    assert None not in keys
    customer_keys = {r.idempotency_key for r in replay.sent("POST /v1/customers")}
    assert len(customer_keys) == 1
    assert None not in customer_keys


def test_a_new_checkout_attempt_gets_new_idempotency_keys(replay: ReplayClient) -> None:
    answer_new_customer_checkout(replay)
    program = program_with(replay)
    start(program, attempt="nonce-1")
    start(program, attempt="nonce-2")
    keys = {r.idempotency_key for r in replay.sent("POST /v1/checkout/sessions")}
    assert len(keys) == 2


def test_a_promotion_code_typed_by_the_member_is_applied_to_the_session(
    replay: ReplayClient,
) -> None:
    answer_new_customer_checkout(replay)
    replay.on("GET /v1/promotion_codes", {"object": "list", "data": [OBJ["promotion_code"]]})
    start(program_with(replay), coupon="SPRING25")
    [sent] = replay.sent("POST /v1/checkout/sessions")
    assert sent.params["discounts[0][promotion_code]"] == "promo_RecSpring25"
    assert "allow_promotion_codes" not in sent.params


def test_without_a_code_members_may_enter_one_on_the_checkout_page(
    replay: ReplayClient,
) -> None:
    answer_new_customer_checkout(replay)
    start(program_with(replay))
    [sent] = replay.sent("POST /v1/checkout/sessions")
    assert sent.params["allow_promotion_codes"] == "true"


def test_an_unknown_promotion_code_is_refused_before_any_session(replay: ReplayClient) -> None:
    answer_new_customer_checkout(replay)
    replay.on("GET /v1/promotion_codes", {"object": "list", "data": []})
    with pytest.raises(CouponError) as caught:
        start(program_with(replay), coupon="NOPE")
    assert caught.value.reason == "unknown"
    assert replay.sent("POST /v1/checkout/sessions") == []


def test_stripe_unreachable_during_checkout_is_retryable_and_stores_nothing(
    replay: ReplayClient,
) -> None:
    answer_new_customer_checkout(replay)
    replay.unreachable.add("POST /v1/checkout/sessions")
    store = MemoryStore()
    program = program_with(replay, store)
    with pytest.raises(ProviderError) as caught:
        start(program)
    assert caught.value.retryable is True
    assert caught.value.code == "unreachable"
    assert "Connection refused" in (caught.value.provider_message or "")
    assert store.memberships.rows == {}
    assert store.customers.customer_for("stripe", "member-42") is None


def test_a_retry_after_an_outage_reuses_the_customer_made_before_it(
    replay: ReplayClient,
) -> None:
    answer_new_customer_checkout(replay)
    replay.unreachable.add("POST /v1/checkout/sessions")
    program = program_with(replay)
    with pytest.raises(ProviderError):
        start(program)
    replay.unreachable.clear()
    session = start(program)
    assert session.customer_id == "cus_RecMember42"
    customer_keys = {r.idempotency_key for r in replay.sent("POST /v1/customers")}
    assert len(customer_keys) == 1


def test_a_stripe_refusal_keeps_stripes_words_apart_from_ours(replay: ReplayClient) -> None:
    answer_new_customer_checkout(replay)
    replay.on(
        "POST /v1/checkout/sessions",
        error(
            400,
            "invalid_request_error",
            "No such price: 'price_RecGoldMonthly'",
            "resource_missing",
        ),
    )
    with pytest.raises(ProviderError) as caught:
        start(program_with(replay))
    assert str(caught.value) == "Stripe rejected the request to start a checkout"
    assert caught.value.provider_message == "No such price: 'price_RecGoldMonthly'"
    assert caught.value.retryable is False


def test_a_stripe_server_error_is_retryable(replay: ReplayClient) -> None:
    answer_new_customer_checkout(replay)
    replay.on("POST /v1/checkout/sessions", error(500, "api_error", "Something went wrong"))
    with pytest.raises(ProviderError) as caught:
        start(program_with(replay))
    assert caught.value.retryable is True


def test_a_rejected_api_key_is_reported_as_such(replay: ReplayClient) -> None:
    replay.on("GET /v1/customers", error(401, "invalid_request_error", "Invalid API Key"))
    with pytest.raises(ProviderError) as caught:
        start(program_with(replay))
    assert caught.value.code == "authentication"
    assert caught.value.retryable is False


def test_the_billing_portal_link_is_stripes_session_url(stripe_provider, replay) -> None:
    replay.on("POST /v1/billing_portal/sessions", OBJ["billing_portal.session"])
    url = stripe_provider.portal_url("cus_RecMember42", "https://news.example.com/account")
    assert url == "https://billing.stripe.com/p/session/test_RecPortal"
    [sent] = replay.sent("POST /v1/billing_portal/sessions")
    assert sent.params == {
        "customer": "cus_RecMember42",
        "return_url": "https://news.example.com/account",
    }


def test_a_plan_change_preview_shows_the_prorated_amount(stripe_provider, replay) -> None:
    replay.on("GET /v1/subscriptions/sub_RecGold", OBJ["subscription"])
    replay.on("POST /v1/invoices/create_preview", OBJ["invoice.preview"])
    preview = stripe_provider.preview_plan_change(
        "sub_RecGold", "price_RecGoldYearly", proration_date=1800057600
    )
    assert preview.amount_due == 8565
    assert preview.currency == "eur"
    assert preview.proration_amount == -435
    [sent] = replay.sent("POST /v1/invoices/create_preview")
    # The item is replaced, as change_plan replaces it (see test_lifecycle.py).
    assert sent.params["subscription_details[items][0][id]"] == "si_RecGold"
    assert sent.params["subscription_details[items][0][deleted]"] == "true"
    assert sent.params["subscription_details[items][1][price]"] == "price_RecGoldYearly"
    assert sent.params["subscription_details[proration_date]"] == "1800057600"


def test_changing_the_plan_bills_exactly_what_the_preview_showed(stripe_provider, replay) -> None:
    replay.on("GET /v1/subscriptions/sub_RecGold", OBJ["subscription"])
    replay.on("POST /v1/invoices/create_preview", OBJ["invoice.preview"])
    replay.on("POST /v1/subscriptions/sub_RecGold", OBJ["subscription_yearly"])
    preview = stripe_provider.preview_plan_change("sub_RecGold", "price_RecGoldYearly")
    snap = stripe_provider.change_plan(
        "sub_RecGold", "price_RecGoldYearly", proration_date=preview.proration_date
    )
    assert snap.price == "price_RecGoldYearly"
    assert snap.status is Status.ACTIVE
    [sent] = replay.sent("POST /v1/subscriptions/sub_RecGold")
    assert sent.params["proration_date"] == str(preview.proration_date)
    assert sent.params["items[1][price]"] == "price_RecGoldYearly"


def test_the_billing_period_is_read_from_the_subscription_items(stripe_provider, replay) -> None:
    replay.on("GET /v1/subscriptions/sub_RecGold", OBJ["subscription"])
    snap = stripe_provider.fetch_subscription("sub_RecGold")
    assert snap is not None
    item_end = OBJ["subscription"]["items"]["data"][0]["current_period_end"]
    assert snap.current_period_end is not None
    assert int(snap.current_period_end.timestamp()) == item_end
    assert snap.price == "price_RecGoldMonthly"


def test_a_subscription_stripe_does_not_know_is_fetched_as_none(stripe_provider, replay) -> None:
    replay.on(
        "GET /v1/subscriptions/sub_Gone",
        error(404, "invalid_request_error", "No such subscription: 'sub_Gone'", "resource_missing"),
    )
    assert stripe_provider.fetch_subscription("sub_Gone") is None
