"""The fake provider's payment page: "Pay" or "Decline", delivered to the site's own
webhook handling as a real provider's event would be."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client, override_settings

from membership_sdk.providers.fake import FakeProvider
from wagtail_paywall import program as program_module
from wagtail_paywall.models import Grant, Membership, Tier, WebhookEvent

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.wagtail.journey_fixtures"]

CHECKOUT = "/paywall/checkout/"


@pytest.fixture
def member(
    client: Client, catalog: dict[str, Tier], reader: Any, login: Callable[..., Client]
) -> Client:
    return login(reader)


def start(client: Client, price: str = "premium-yearly", next: str = "/articles/1/") -> str:
    """Start a checkout from the pricing page; returns the fake payment page's path."""
    response = client.post(CHECKOUT, {"price": price, "next": next})
    assert response.status_code == 302
    return str(response["Location"])


def test_the_payment_page_shows_what_is_sold(member: Client) -> None:
    html = member.get(start(member, "premium-monthly")).content.decode()

    assert "€12.00" in html
    assert "14 days free" in html
    assert 'value="pay"' in html
    assert 'value="decline"' in html


def test_paying_activates_the_membership_through_the_webhook(member: Client, reader: Any) -> None:
    response = member.post(start(member), {"action": "pay"})

    assert response.status_code == 302
    assert response["Location"].startswith("http://testserver/paywall/checkout/success/")
    assert Membership.objects.get(member_id=str(reader.pk)).status == "active"
    assert WebhookEvent.objects.get().status == "processed"


def test_after_paying_the_success_page_shows_the_membership(member: Client) -> None:
    response = member.post(start(member), {"action": "pay"}, follow=True)

    assert "Your Premium membership is active." in response.content.decode()
    assert 'href="/articles/1/"' in response.content.decode()


def test_paying_for_an_item_adds_it_to_the_purchase_history(member: Client, reader: Any) -> None:
    member.post(start(member, "report-2026"), {"action": "pay"})

    assert Grant.objects.get(member_id=str(reader.pk), kind="purchase").item == "doc:annual-report"
    assert "Annual report 2026" in member.get("/paywall/account/").content.decode()


def test_declining_grants_nothing(member: Client, reader: Any) -> None:
    response = member.post(start(member), {"action": "decline"})

    assert response.status_code == 200
    assert "The payment was declined" in response.content.decode()
    assert not Membership.objects.filter(
        member_id=str(reader.pk), status__in=["active", "trialing"]
    ).exists()


def test_a_session_cannot_be_paid_twice(member: Client) -> None:
    page = start(member)
    member.post(page, {"action": "pay"})

    response = member.post(page, {"action": "pay"})

    assert response.status_code == 409
    assert Membership.objects.count() == 1


def test_an_unknown_action_is_400(member: Client) -> None:
    assert member.post(start(member), {"action": "steal"}).status_code == 400


def test_an_unknown_session_is_404(member: Client, fake: FakeProvider) -> None:
    assert member.get("/paywall/fake/checkout/cs_fake_999999/").status_code == 404


def test_another_members_session_is_404(
    member: Client, make_user: Callable[..., Any], login: Callable[..., Client]
) -> None:
    page = start(member)
    login(make_user("intruder"))

    assert member.post(page, {"action": "pay"}).status_code == 404
    assert not Membership.objects.exists()


def test_the_page_is_404_when_the_site_does_not_use_the_fake_provider(
    member: Client,
) -> None:
    page = start(member)
    with override_settings(PAYWALL={"PROVIDERS": {"manual": {}}, "DEFAULT_PROVIDER": "manual"}):
        program_module.reset_program()

        assert member.get(page).status_code == 404
