"""Changing plan from the account page: a preview of the proration and the amount due,
then a confirmation billed as previewed. Forged or stale confirmations change nothing."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from membership_sdk import Interval, MembershipProgram
from membership_sdk.lifecycle import PREVIEW_VALID_FOR
from membership_sdk.providers.fake import FakeProvider
from membership_sdk.providers.simulated import SimulatedSubscription
from wagtail_paywall.manual_store import DjangoManualBilling
from wagtail_paywall.models import Membership, Price, Tier

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.wagtail.journey_fixtures"]

ACCOUNT = "/paywall/account/"
PREVIEW = "/paywall/account/change-plan/preview/"
CHANGE = "/paywall/account/change-plan/"


@pytest.fixture
def supporter_member(
    client: Client, reader: Any, login: Callable[..., Client], subscribe: Callable[..., Membership]
) -> Membership:
    """``reader``, signed in, on Supporter monthly (EUR 5) through the fake provider."""
    login(reader)
    return subscribe(reader, "supporter-monthly")


def preview(client: Client, membership: Membership, price: str = "premium-yearly") -> Any:
    return client.get(PREVIEW, {"membership": membership.pk, "price": price})


def proration_date(html: str) -> str:
    found = re.search(r'name="proration_date" value="(\d+)"', html)
    assert found is not None
    return found.group(1)


def test_the_account_page_offers_a_plan_change_on_the_fake_provider(
    client: Client, supporter_member: Membership
) -> None:
    html = client.get(ACCOUNT).content.decode()
    assert PREVIEW in html
    assert "Premium" in html


def test_the_preview_shows_the_credit_the_charge_and_the_amount_due(
    client: Client, supporter_member: Membership
) -> None:
    response = preview(client, supporter_member)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Unused time on" in html
    assert "Due now" in html
    assert 'data-amount-due="' in html
    assert "Confirm plan change" in html
    supporter_member.refresh_from_db()
    assert supporter_member.tier == "supporter"  # a preview changes nothing


def test_confirming_the_preview_moves_the_membership_to_the_new_plan(
    client: Client, supporter_member: Membership, fake: FakeProvider
) -> None:
    stamp = proration_date(preview(client, supporter_member).content.decode())
    response = client.post(
        CHANGE,
        {"membership": supporter_member.pk, "price": "premium-yearly", "proration_date": stamp},
    )
    assert response.status_code == 302
    supporter_member.refresh_from_db()
    assert supporter_member.tier == "premium"
    assert supporter_member.price_id == "premium-yearly"
    assert "Your plan is now Premium" in client.get(ACCOUNT).content.decode()


def test_an_upgrade_on_a_declined_card_is_402_and_changes_nothing(
    client: Client, supporter_member: Membership, fake: FakeProvider
) -> None:
    fake.decline_card(supporter_member.provider_customer_id or "")
    stamp = proration_date(preview(client, supporter_member).content.decode())
    response = client.post(
        CHANGE,
        {"membership": supporter_member.pk, "price": "premium-yearly", "proration_date": stamp},
    )
    assert response.status_code == 402
    assert "Your card was declined" in response.content.decode()
    supporter_member.refresh_from_db()
    assert supporter_member.tier == "supporter"


def test_a_downgrade_preview_says_nothing_is_due_until_the_period_ends(
    client: Client, reader: Any, login: Callable[..., Client], subscribe: Callable[..., Membership]
) -> None:
    login(reader)
    member = subscribe(reader, "premium-yearly")
    html = preview(client, member, "supporter-monthly").content.decode()
    assert "Nothing to pay now" in html


def test_a_stale_confirmation_is_409_and_changes_nothing(
    client: Client, supporter_member: Membership, program: MembershipProgram
) -> None:
    stamp = proration_date(preview(client, supporter_member).content.decode())
    old = int(stamp) - int(PREVIEW_VALID_FOR.total_seconds()) - 60
    response = client.post(
        CHANGE,
        {"membership": supporter_member.pk, "price": "premium-yearly", "proration_date": old},
    )
    assert response.status_code == 409
    supporter_member.refresh_from_db()
    assert supporter_member.tier == "supporter"


def test_a_confirmation_without_a_preview_is_400(
    client: Client, supporter_member: Membership
) -> None:
    response = client.post(CHANGE, {"membership": supporter_member.pk, "price": "premium-yearly"})
    assert response.status_code == 400
    supporter_member.refresh_from_db()
    assert supporter_member.tier == "supporter"


def test_another_members_membership_is_404_on_both_steps(
    client: Client,
    supporter_member: Membership,
    make_user: Callable[..., Any],
    login: Callable[..., Client],
) -> None:
    login(make_user("mallory"))
    assert preview(client, supporter_member).status_code == 404
    response = client.post(
        CHANGE,
        {"membership": supporter_member.pk, "price": "premium-yearly", "proration_date": "1"},
    )
    assert response.status_code == 404
    supporter_member.refresh_from_db()
    assert supporter_member.tier == "supporter"


def test_a_price_in_another_currency_is_refused_and_changes_nothing(
    client: Client, supporter_member: Membership, catalog: dict[str, Tier]
) -> None:
    Price.objects.create(
        key="premium-usd",
        tier=catalog["premium"],
        amount=1300,
        currency="USD",
        interval=Price.Interval.MONTH,
        provider_ids={"fake": "fake_price_premium_usd"},
    )
    assert "premium-usd" not in client.get(ACCOUNT).content.decode()  # never offered
    response = preview(client, supporter_member, "premium-usd")
    assert response.status_code == 400
    assert "another currency" in response.content.decode()
    stamp = proration_date(preview(client, supporter_member).content.decode())
    response = client.post(
        CHANGE,
        {"membership": supporter_member.pk, "price": "premium-usd", "proration_date": stamp},
    )
    assert response.status_code == 400
    supporter_member.refresh_from_db()
    assert supporter_member.price_id == "supporter-monthly"


def test_an_unknown_price_is_404(client: Client, supporter_member: Membership) -> None:
    response = preview(client, supporter_member, "platinum")
    assert response.status_code == 404


class Declining:
    """The fake provider as one that declines plan changes and pauses: it lacks the
    methods (everything else is the fake's)."""

    DECLINED = frozenset(
        {"preview_plan_change", "change_plan", "pause_subscription", "unpause_subscription"}
    )

    def __init__(self, provider: FakeProvider) -> None:
        self._provider = provider

    def __getattr__(self, name: str) -> Any:
        if name in self.DECLINED:
            raise AttributeError(name)
        return getattr(self._provider, name)


def test_a_provider_without_plan_changes_is_said_plainly(
    client: Client,
    supporter_member: Membership,
    fake: FakeProvider,
    program: MembershipProgram,
    monkeypatch: Any,
) -> None:
    monkeypatch.setitem(program.providers._providers, "fake", Declining(fake))
    html = client.get(ACCOUNT).content.decode()
    assert "Plan changes are not available" in html
    assert "Pausing is not available" in html
    assert PREVIEW not in html
    assert preview(client, supporter_member).status_code == 400


def test_the_database_keeps_a_bank_transfer_plan_change_and_pause_across_a_restart() -> None:
    moment = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
    sub = SimulatedSubscription(
        id="sub_manual_2026_000001",
        customer_id="cus_manual_1",
        member_id="7",
        price="manual_basic",
        interval=Interval.MONTH,
        status="paused",
        started_at=moment,
        current_period_end=moment.replace(month=6),
        price_since=moment,
        paused_until=moment.replace(month=8),
        pending_price="manual_premium_yearly",
        pending_interval=Interval.YEAR,
        pending_amount=15000,
        pending_invoice="INV-2026-000002",
    )
    DjangoManualBilling().save_subscription(sub)
    assert DjangoManualBilling().subscription(sub.id) == sub
