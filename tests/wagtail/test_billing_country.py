"""Where a member's billing country comes from, on each built-in provider: the fake
provider's payment page, the site's checkout form (bank transfer), and Stripe Checkout's
``customer_details.address.country`` in its webhook."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client, override_settings

from wagtail_paywall import program as program_module
from wagtail_paywall.models import MemberCountry, Membership, Price, Tier, WebhookEvent

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.wagtail.journey_fixtures"]

CHECKOUT = "/paywall/checkout/"
STRIPE_SECRET = "whsec_tests_billing_country"
CHECKOUT_COMPLETED = (
    Path(__file__).parents[1]
    / "stripe/payloads/2025-09-30.clover/checkout.session.completed.subscription.json"
)


@pytest.fixture
def member(catalog: dict[str, Tier], reader: Any, login: Callable[..., Client]) -> Client:
    return login(reader)


def country_of(user: Any) -> tuple[str, str] | None:
    row = MemberCountry.objects.filter(member_id=str(user.pk)).first()
    return None if row is None else (row.country, row.source)


# -- fake: its payment page asks ------------------------------------------------------------
def fake_page(client: Client) -> str:
    response = client.post(CHECKOUT, {"price": "premium-yearly"})
    assert response.status_code == 302
    return str(response["Location"])


def test_the_fake_payment_page_asks_for_the_billing_country(member: Client) -> None:
    html = member.get(fake_page(member)).content.decode()

    assert 'name="country"' in html


def test_paying_on_the_fake_page_keeps_the_country_given(member: Client, reader: Any) -> None:
    member.post(fake_page(member), {"action": "pay", "country": "nl"})

    assert country_of(reader) == ("NL", "fake")
    assert Membership.objects.get(member_id=str(reader.pk)).status == "active"


def test_declining_on_the_fake_page_keeps_no_country(member: Client, reader: Any) -> None:
    member.post(fake_page(member), {"action": "decline", "country": "NL"})

    assert country_of(reader) is None


def test_a_country_that_is_no_code_is_refused_and_nothing_is_paid(
    member: Client, reader: Any
) -> None:
    response = member.post(fake_page(member), {"action": "pay", "country": "Holland"})

    assert response.status_code == 400
    assert "Holland" in response.content.decode()
    assert country_of(reader) is None
    assert not Membership.objects.filter(member_id=str(reader.pk)).exists()


# -- manual: the site's checkout form asks --------------------------------------------------
@pytest.fixture
def bank_transfer(catalog: dict[str, Tier]) -> Iterator[None]:
    Price.objects.filter(key="supporter-monthly").update(
        provider_ids={"fake": "fake_price_supporter_monthly", "manual": "manual_supporter"}
    )
    providers = {"fake": {"secret": "tests-webhook-secret"}, "manual": {"secret": "tests-manual"}}
    with override_settings(PAYWALL={"PROVIDERS": providers, "DEFAULT_PROVIDER": "fake"}):
        program_module.reset_program()
        yield
    program_module.reset_program()


def test_the_pricing_page_asks_for_the_billing_country(member: Client) -> None:
    html = member.get("/paywall/pricing/").content.decode()

    assert 'name="country"' in html


def test_a_bank_transfer_checkout_keeps_the_country_given(
    bank_transfer: None, member: Client, reader: Any
) -> None:
    response = member.post(
        CHECKOUT, {"price": "supporter-monthly", "provider": "manual", "country": "at"}
    )

    assert response.status_code == 200
    assert country_of(reader) == ("AT", "manual")


def test_a_bank_transfer_checkout_with_a_bad_country_is_refused_naming_it(
    bank_transfer: None, member: Client, reader: Any
) -> None:
    response = member.post(
        CHECKOUT, {"price": "supporter-monthly", "provider": "manual", "country": "Austria"}
    )

    assert response.status_code == 400
    assert "Austria" in response.content.decode()
    assert country_of(reader) is None


def test_a_checkout_without_a_country_keeps_none(
    bank_transfer: None, member: Client, reader: Any
) -> None:
    member.post(CHECKOUT, {"price": "supporter-monthly", "provider": "manual"})

    assert country_of(reader) is None


# -- stripe: Checkout's collected address, from the webhook ---------------------------------
@pytest.fixture
def stripe_site(catalog: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    pytest.importorskip("stripe")
    Price.objects.filter(key="premium-monthly").update(
        provider_ids={"fake": "fake_price_premium_monthly", "stripe": "price_PayGoldMonthly"}
    )
    paywall = {
        **settings.PAYWALL,
        "PROVIDERS": {
            **settings.PAYWALL["PROVIDERS"],
            "stripe": {"api_key": "sk_test_billing_country", "webhook_secret": STRIPE_SECRET},
        },
    }
    with override_settings(PAYWALL=paywall):
        program_module.reset_program()
        program = program_module.get_program()
        # The event carries what this test needs; Stripe is not asked again.
        monkeypatch.setattr(program.providers["stripe"], "fetch_subscription", lambda _id: None)
        yield program
    program_module.reset_program()


def deliver_checkout(client: Client, member: str, address: object) -> Any:
    from tests.stripe.replay import sign

    event = json.loads(CHECKOUT_COMPLETED.read_text())["event"]
    session = event["data"]["object"]
    session["client_reference_id"] = member
    session["metadata"].update(member_id=member, price_id="premium-monthly")
    # Stripe's documented shape (the trimmed fixture collected no address).
    session["customer_details"] = {"email": "reader@example.com", "address": address}
    body = json.dumps(event)
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in sign(body, STRIPE_SECRET).items()}
    return client.post(
        "/paywall/webhooks/stripe/", data=body, content_type="application/json", **extra
    )


def test_stripe_checkouts_collected_country_is_kept(
    client: Client, stripe_site: Any, reader: Any
) -> None:
    response = deliver_checkout(client, str(reader.pk), {"country": "DE", "postal_code": "10115"})

    assert response.status_code == 200
    assert WebhookEvent.objects.get(provider="stripe").status == "processed"
    assert country_of(reader) == ("DE", "stripe")


def test_a_stripe_checkout_without_an_address_keeps_no_country(
    client: Client, stripe_site: Any, reader: Any
) -> None:
    deliver_checkout(client, str(reader.pk), None)

    assert WebhookEvent.objects.get(provider="stripe").status == "processed"
    assert country_of(reader) is None


def test_stripes_country_replaces_the_one_given_on_the_site(
    client: Client, stripe_site: Any, reader: Any
) -> None:
    from django.utils import timezone

    MemberCountry.record(
        str(reader.pk), "FR", "fake", at=timezone.now() - timezone.timedelta(days=3650)
    )

    deliver_checkout(client, str(reader.pk), {"country": "DE"})

    assert country_of(reader) == ("DE", "stripe")
