"""The account page: the membership and its renewal, cancel with a reason, resume, change
plan, the billing portal and the purchase history."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client, override_settings

from membership_sdk.providers.fake import FakeProvider
from wagtail_paywall import program as program_module
from wagtail_paywall.models import CancellationFeedback, Membership, Tier

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.wagtail.journey_fixtures"]

ACCOUNT = "/paywall/account/"
CANCEL = "/paywall/account/cancel/"
RESUME = "/paywall/account/resume/"
CHANGE = "/paywall/account/change-plan/"
PORTAL = "/paywall/account/portal/"


@pytest.fixture
def member(
    client: Client,
    reader: Any,
    login: Callable[..., Client],
    subscribe: Callable[..., Membership],
) -> Membership:
    """``reader``, signed in on the test client, holding Premium yearly."""
    login(reader)
    return subscribe(reader, "premium-yearly")


def account(client: Client) -> str:
    response = client.get(ACCOUNT)
    assert response.status_code == 200
    return response.content.decode()


def cancel(client: Client, membership: Membership, **form: str) -> Any:
    return client.post(CANCEL, {"membership": membership.pk, "reason": "too_expensive", **form})


# -- what the page shows ----------------------------------------------------------------------
def test_the_account_page_asks_an_anonymous_visitor_to_sign_in(client: Client) -> None:
    response = client.get(ACCOUNT)

    assert response.status_code == 302
    assert "/login" in response["Location"]


def test_it_shows_the_membership_and_its_renewal_date(client: Client, member: Membership) -> None:
    html = account(client)

    assert "Premium" in html
    assert "Active" in html
    assert f"Renews on {member.current_period_end:%b}" in html


def test_a_member_without_a_membership_is_pointed_to_the_plans(
    client: Client, catalog: dict[str, Tier], reader: Any, login: Callable[..., Client]
) -> None:
    html = account(login(reader))

    assert "You have no paid membership." in html
    assert 'href="/paywall/pricing/"' in html


def test_the_purchase_history_lists_one_off_purchases(
    client: Client, catalog: dict[str, Tier], reader: Any, login: Callable[..., Client], buy: Any
) -> None:
    buy(reader, "report-2026")

    html = account(login(reader))

    assert "Annual report 2026" in html
    assert "Paid" in html


def test_a_comp_shows_as_other_access(
    client: Client, supporter: Any, login: Callable[..., Client]
) -> None:
    html = account(login(supporter))

    assert "Other access" in html
    assert "Supporter" in html


# -- cancel, with the survey ------------------------------------------------------------------
def test_cancel_keeps_access_until_the_period_ends(client: Client, member: Membership) -> None:
    response = cancel(client, member)

    member.refresh_from_db()
    assert response.status_code == 302
    assert member.cancel_at_period_end
    assert member.status == "active"
    assert "You keep access until" in client.get(ACCOUNT).content.decode()


def test_cancel_records_the_members_reason_for_the_publisher(
    client: Client, member: Membership
) -> None:
    cancel(client, member, reason="content", comment="Too much sport, not enough science.")

    feedback = CancellationFeedback.objects.get()
    assert feedback.reason == "content"
    assert feedback.comment == "Too much sport, not enough science."
    assert feedback.membership_id == member.pk
    assert feedback.tier == "premium"


def test_cancel_without_a_reason_is_refused_and_changes_nothing(
    client: Client, member: Membership
) -> None:
    response = client.post(CANCEL, {"membership": member.pk})

    member.refresh_from_db()
    assert response.status_code == 400
    assert "Please tell us why you are leaving." in response.content.decode()
    assert not member.cancel_at_period_end
    assert not CancellationFeedback.objects.exists()


def test_a_member_cannot_cancel_someone_elses_membership(
    client: Client,
    member: Membership,
    make_user: Callable[..., Any],
    login: Callable[..., Client],
) -> None:
    login(make_user("intruder"))

    response = cancel(client, member)

    member.refresh_from_db()
    assert response.status_code == 404
    assert not member.cancel_at_period_end


def test_a_get_on_cancel_is_405(client: Client, member: Membership) -> None:
    assert client.get(CANCEL).status_code == 405


def test_cancel_without_a_csrf_token_is_403(
    strict_client: Client, member: Membership, reader: Any
) -> None:
    strict_client.force_login(reader)

    response = cancel(strict_client, member)

    member.refresh_from_db()
    assert response.status_code == 403
    assert not member.cancel_at_period_end


def test_a_provider_failure_on_cancel_is_502_and_changes_nothing(
    client: Client, member: Membership, fake: FakeProvider
) -> None:
    fake.simulate_outage()

    response = cancel(client, member)

    member.refresh_from_db()
    assert response.status_code == 502
    assert not member.cancel_at_period_end
    assert not CancellationFeedback.objects.exists()


# -- resume -----------------------------------------------------------------------------------
def test_resume_undoes_a_cancellation(client: Client, member: Membership) -> None:
    cancel(client, member)

    response = client.post(RESUME, {"membership": member.pk})

    member.refresh_from_db()
    assert response.status_code == 302
    assert not member.cancel_at_period_end
    assert "Renews on" in client.get(ACCOUNT).content.decode()


def test_the_page_offers_resume_only_after_a_cancellation(
    client: Client, member: Membership
) -> None:
    assert RESUME not in account(client)
    cancel(client, member)

    assert RESUME in account(client)


def test_resuming_a_membership_not_set_to_end_is_409(client: Client, member: Membership) -> None:
    assert client.post(RESUME, {"membership": member.pk}).status_code == 409


# -- change plan: see test_account_plans.py ----------------------------------------------------


# -- the billing portal -----------------------------------------------------------------------
@pytest.fixture
def with_portal(catalog: dict[str, Tier]) -> Iterator[None]:
    providers = {
        "fake": {
            "secret": "tests-webhook-secret",
            "portal_url": "https://billing.example/{customer}",
        }
    }
    with override_settings(PAYWALL={"PROVIDERS": providers, "DEFAULT_PROVIDER": "fake"}):
        program_module.reset_program()
        yield
    program_module.reset_program()


def test_the_portal_button_sends_the_member_to_the_providers_portal(
    with_portal: None, client: Client, member: Membership
) -> None:
    assert PORTAL in account(client)

    response = client.post(PORTAL, {"provider": "fake"})

    assert response.status_code == 302
    assert response["Location"] == f"https://billing.example/{member.provider_customer_id}"


def test_without_a_portal_the_page_offers_none(client: Client, member: Membership) -> None:
    assert PORTAL not in account(client)


def test_the_portal_of_a_provider_the_member_never_paid_is_404(
    with_portal: None,
    client: Client,
    catalog: dict[str, Tier],
    reader: Any,
    login: Callable[..., Client],
) -> None:
    login(reader)

    assert client.post(PORTAL, {"provider": "fake"}).status_code == 404


# -- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize("url", [CANCEL, RESUME, CHANGE])
def test_an_account_action_naming_no_membership_is_400(
    client: Client, member: Membership, url: str
) -> None:
    response = client.post(url, {"reason": "other", "price": "supporter-monthly"})

    member.refresh_from_db()
    assert response.status_code == 400
    assert not member.cancel_at_period_end


@pytest.mark.parametrize("url", [CANCEL, RESUME, CHANGE])
def test_an_account_action_on_an_unknown_membership_is_404(
    client: Client, member: Membership, url: str
) -> None:
    response = client.post(
        url, {"membership": "mem_forged", "reason": "other", "price": "supporter-monthly"}
    )

    assert response.status_code == 404


@pytest.mark.parametrize("url", [CANCEL, RESUME, CHANGE, PORTAL])
def test_an_anonymous_account_action_is_sent_to_sign_in(
    client: Client, catalog: dict[str, Tier], url: str
) -> None:
    response = client.post(url, {"membership": "mem_1"})

    assert response.status_code == 302
    assert "/login" in response["Location"]
