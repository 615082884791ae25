"""Checkout: a POST with CSRF that starts the provider's checkout; success only shows;
cancel returns the visitor to where they were, if that is this site."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client, override_settings

from membership_sdk.providers.fake import FakeProvider
from wagtail_paywall import program as program_module
from wagtail_paywall.models import Grant, Membership, Price, Tier, WebhookEvent

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.wagtail.journey_fixtures"]

CHECKOUT = "/paywall/checkout/"
SUCCESS = "/paywall/checkout/success/"
CANCEL = "/paywall/checkout/cancel/"
FOREIGN = ["https://evil.example/phish", "//evil.example/phish", "javascript:alert(1)"]


@pytest.fixture
def member(
    client: Client, catalog: dict[str, Tier], reader: Any, login: Callable[..., Client]
) -> Client:
    """The test client, signed in as a reader with no paid access."""
    return login(reader)


def session_of(fake: FakeProvider, response: Any) -> Any:
    session_id = response["Location"].rstrip("/").rsplit("/", 1)[-1]
    return fake.checkout(session_id)


# -- starting a checkout ----------------------------------------------------------------------
def test_a_checkout_sends_the_member_to_the_providers_payment_page(member: Client) -> None:
    response = member.post(CHECKOUT, {"price": "premium-monthly"})

    assert response.status_code == 302
    assert response["Location"].startswith("/paywall/fake/checkout/cs_fake_")


def test_a_checkout_sells_the_price_to_the_signed_in_member(
    member: Client, reader: Any, fake: FakeProvider
) -> None:
    session = session_of(fake, member.post(CHECKOUT, {"price": "premium-monthly"}))

    assert session.member_id == str(reader.pk)
    assert session.price == "fake_price_premium_monthly"
    assert session.trial_days == 14


def test_a_checkout_grants_nothing_and_stores_nothing(member: Client) -> None:
    member.post(CHECKOUT, {"price": "premium-monthly"})

    assert not Membership.objects.exists()
    assert not Grant.objects.exists()
    assert not WebhookEvent.objects.exists()


def test_a_one_off_purchase_starts_a_checkout_too(member: Client, fake: FakeProvider) -> None:
    session = session_of(fake, member.post(CHECKOUT, {"price": "report-2026"}))

    assert session.price == "fake_price_report"


def test_a_double_click_starts_one_checkout(member: Client) -> None:
    form = {"price": "premium-monthly", "attempt": "nonce-1"}

    first = member.post(CHECKOUT, form)
    second = member.post(CHECKOUT, form)

    assert first["Location"] == second["Location"]


def test_a_checkout_for_an_unknown_price_is_404_naming_the_price(member: Client) -> None:
    response = member.post(CHECKOUT, {"price": "platinum-forever"})

    assert response.status_code == 404
    assert "platinum-forever" in response.content.decode()
    assert "unknown or no longer offered" in response.content.decode()


def test_a_checkout_for_an_archived_price_is_404_naming_the_price(member: Client) -> None:
    Price.objects.filter(key="supporter-monthly").update(archived=True)
    from wagtail_paywall.program import catalog_changed

    catalog_changed()

    response = member.post(CHECKOUT, {"price": "supporter-monthly"})

    assert response.status_code == 404
    assert "supporter-monthly" in response.content.decode()


def test_a_price_without_an_id_for_the_provider_says_which_id_is_missing(
    member: Client, caplog: pytest.LogCaptureFixture
) -> None:
    Price.objects.filter(key="supporter-monthly").update(provider_ids={})
    from wagtail_paywall.program import catalog_changed

    catalog_changed()

    response = member.post(CHECKOUT, {"price": "supporter-monthly"})

    assert response.status_code == 404
    assert "has no id for the payment provider “fake”" in response.content.decode()
    assert "Add a 'fake' id to the price" in caplog.text
    assert not WebhookEvent.objects.exists()


def test_a_checkout_without_a_price_is_400(member: Client) -> None:
    assert member.post(CHECKOUT, {}).status_code == 400


def test_a_get_on_checkout_is_405(member: Client) -> None:
    assert member.get(CHECKOUT, {"price": "premium-monthly"}).status_code == 405


def test_a_checkout_without_a_csrf_token_is_403(
    strict_client: Client, catalog: dict[str, Tier], reader: Any
) -> None:
    strict_client.force_login(reader)

    response = strict_client.post(CHECKOUT, {"price": "premium-monthly"})

    assert response.status_code == 403
    assert not Membership.objects.exists()


def test_a_checkout_with_the_pages_csrf_token_goes_through(
    strict_client: Client,
    catalog: dict[str, Tier],
    reader: Any,
    csrf_token: Callable[[Client], str],
) -> None:
    strict_client.force_login(reader)
    token = csrf_token(strict_client)

    response = strict_client.post(
        CHECKOUT, {"price": "premium-monthly", "csrfmiddlewaretoken": token}
    )

    assert response.status_code == 302


def test_an_anonymous_checkout_is_sent_to_sign_in(client: Client, catalog: dict[str, Tier]) -> None:
    response = client.post(CHECKOUT, {"price": "premium-monthly"})

    assert response.status_code == 302
    assert "/login" in response["Location"]


def test_a_provider_this_site_does_not_configure_is_404(member: Client) -> None:
    # "manual" is built in and registered, but the test site does not configure it.
    response = member.post(CHECKOUT, {"price": "premium-monthly", "provider": "manual"})

    assert response.status_code == 404
    assert "manual" in response.content.decode()


def test_a_provider_failure_is_a_502_and_stores_nothing(member: Client, fake: FakeProvider) -> None:
    fake.simulate_outage()

    response = member.post(CHECKOUT, {"price": "premium-monthly"})

    assert response.status_code == 502
    assert "Nothing was charged" in response.content.decode()
    assert not Membership.objects.exists()


def test_a_member_who_already_has_a_membership_is_sent_to_change_plan_instead(
    member: Client, reader: Any, subscribe: Callable[..., Membership]
) -> None:
    subscribe(reader, "supporter-monthly")

    response = member.post(CHECKOUT, {"price": "premium-monthly"})

    assert response["Location"] == "/paywall/account/"


# -- where the visitor returns to -------------------------------------------------------------
def test_the_provider_returns_the_member_to_a_local_next(
    member: Client, fake: FakeProvider
) -> None:
    response = member.post(CHECKOUT, {"price": "premium-monthly", "next": "/articles/42/"})
    session = session_of(fake, response)

    assert parse_qs(urlsplit(session.success_url).query)["next"] == ["/articles/42/"]
    assert parse_qs(urlsplit(session.cancel_url).query)["next"] == ["/articles/42/"]


@pytest.mark.parametrize("foreign", FOREIGN)
def test_a_foreign_next_on_checkout_is_ignored_for_the_pricing_page(
    member: Client, fake: FakeProvider, foreign: str
) -> None:
    session = session_of(fake, member.post(CHECKOUT, {"price": "premium-monthly", "next": foreign}))

    assert parse_qs(urlsplit(session.cancel_url).query)["next"] == ["/paywall/pricing/"]
    assert "evil" not in session.success_url


def test_the_cancel_page_returns_the_visitor_to_a_local_next(client: Client) -> None:
    response = client.get(CANCEL, {"next": "/articles/42/"})

    assert response.status_code == 302
    assert response["Location"] == "/articles/42/"


@pytest.mark.parametrize("foreign", FOREIGN)
def test_the_cancel_page_ignores_a_foreign_next_and_falls_back_to_pricing(
    client: Client, foreign: str
) -> None:
    response = client.get(CANCEL, {"next": foreign})

    assert response["Location"] == "/paywall/pricing/"


def test_a_secure_request_ignores_a_plain_http_next(client: Client) -> None:
    response = client.get(CANCEL, {"next": "http://testserver/articles/42/"}, secure=True)

    assert response["Location"] == "/paywall/pricing/"


def test_the_cancel_page_tells_the_visitor_nothing_was_charged(client: Client) -> None:
    response = client.get(CANCEL, {"next": "/paywall/pricing/"}, follow=True)

    assert "Nothing was charged" in response.content.decode()


# -- the success page shows, never grants -----------------------------------------------------
def test_the_success_page_grants_nothing_for_a_forged_session_id(
    member: Client, reader: Any
) -> None:
    response = member.get(SUCCESS, {"session_id": "cs_fake_999999"})

    assert response.status_code == 200
    assert "confirming your payment" in response.content.decode()
    assert not Membership.objects.exists()
    assert not Grant.objects.filter(member_id=str(reader.pk)).exists()


def test_the_success_page_grants_nothing_for_someone_elses_session(
    member: Client,
    reader: Any,
    make_user: Callable[..., Any],
    subscribe: Callable[..., Membership],
    fake: FakeProvider,
) -> None:
    other = make_user("other")
    subscribe(other, "premium-yearly")
    (their_session,) = fake.sessions

    response = member.get(SUCCESS, {"session_id": their_session})

    assert "confirming your payment" in response.content.decode()
    assert not Membership.objects.filter(member_id=str(reader.pk)).exists()


def test_the_success_page_shows_the_membership_once_the_provider_confirmed_it(
    member: Client, reader: Any, subscribe: Callable[..., Membership]
) -> None:
    subscribe(reader, "premium-yearly")

    response = member.get(SUCCESS)

    assert "Your Premium membership is active." in response.content.decode()


def test_the_success_page_continues_only_to_a_local_next(member: Client) -> None:
    html = member.get(SUCCESS, {"next": "https://evil.example/"}).content.decode()

    assert "evil.example" not in html
    assert 'href="/paywall/pricing/"' in html


# -- providers without a hosted payment page --------------------------------------------------
@pytest.fixture
def bank_transfer(catalog: dict[str, Tier]) -> Iterator[None]:
    """The site also takes bank transfers (the manual provider) for Supporter monthly."""
    Price.objects.filter(key="supporter-monthly").update(
        provider_ids={"fake": "fake_price_supporter_monthly", "manual": "manual_supporter"}
    )
    providers = {"fake": {"secret": "tests-webhook-secret"}, "manual": {"secret": "tests-manual"}}
    with override_settings(PAYWALL={"PROVIDERS": providers, "DEFAULT_PROVIDER": "fake"}):
        program_module.reset_program()
        yield
    program_module.reset_program()


def test_a_provider_without_a_payment_page_shows_how_to_pay(
    bank_transfer: None, member: Client
) -> None:
    response = member.post(CHECKOUT, {"price": "supporter-monthly", "provider": "manual"})

    html = response.content.decode()
    assert response.status_code == 200
    assert "Amount due: €5.00" in html
    assert "IBAN" in html
    assert not Membership.objects.exists()


def test_a_price_the_chosen_provider_does_not_sell_is_404(
    bank_transfer: None, member: Client
) -> None:
    response = member.post(CHECKOUT, {"price": "premium-monthly", "provider": "manual"})

    assert response.status_code == 404
    assert "premium-monthly" in response.content.decode()
