"""Insecure direct object references: ids that belong to another member grant nothing.

Every id a member can put in a form or a URL (a membership on the account actions, a
checkout session on the payment and success pages, an item another member bought) is
checked against the signed-in member; someone else's looks exactly like one that does not
exist.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.test import Client, override_settings
from django.urls import reverse

from membership_sdk import Resource, decide
from membership_sdk.providers.fake import FakeProvider
from tests.wagtail.testapp.models import PaywalledDocument
from wagtail_paywall.access import member_context
from wagtail_paywall.models import CancellationFeedback, Membership

pytest_plugins = ["tests.wagtail.journey_fixtures", "tests.wagtail.gating_fixtures"]


@pytest.fixture
def victim(make_user: Callable[..., Any], subscribe: Callable[..., Membership]) -> Membership:
    """Another member's Premium membership."""
    return subscribe(make_user("victim"), "premium-yearly")


@pytest.fixture
def attacker(client: Client, reader: Any, catalog: Any) -> Client:
    """A signed-in member with no membership of their own."""
    client.force_login(reader)
    return client


ACCOUNT_ACTIONS = {
    "cancel": ("/paywall/account/cancel/", {"reason": "too_expensive"}),
    "resume": ("/paywall/account/resume/", {}),
    "change plan": ("/paywall/account/change-plan/", {"price": "supporter-monthly"}),
}


@pytest.mark.parametrize("action", list(ACCOUNT_ACTIONS))
def test_another_members_membership_id_is_a_404_and_changes_nothing(
    attacker: Client, victim: Membership, action: str
) -> None:
    url, form = ACCOUNT_ACTIONS[action]

    response = attacker.post(url, {"membership": victim.pk, **form})

    assert response.status_code == 404
    after = Membership.objects.get(pk=victim.pk)
    assert (after.status, after.tier, after.cancel_at_period_end) == ("active", "premium", False)
    assert not CancellationFeedback.objects.exists()


def test_another_members_checkout_session_is_a_404_on_the_payment_page(
    attacker: Client, program: Any, fake: FakeProvider, make_user: Callable[..., Any]
) -> None:
    owner = make_user("owner")
    session = program.start_checkout(
        str(owner.pk),
        "premium-yearly",
        provider="fake",
        success_url="http://testserver/paywall/checkout/success/",
        cancel_url="http://testserver/paywall/checkout/cancel/",
    )
    url = f"/paywall/fake/checkout/{session.id}/"

    assert attacker.get(url).status_code == 404
    assert attacker.post(url, {"action": "pay"}).status_code == 404
    assert fake.checkout(session.id).state == "open"
    assert not Membership.objects.exists()


@pytest.mark.parametrize("session_id", ["cs_forged_123", "victims-session"])
def test_the_success_page_with_a_forged_or_another_members_session_grants_nothing(
    attacker: Client,
    victim: Membership,
    reader: Any,
    request_for: Callable[..., Any],
    session_id: str,
) -> None:
    if session_id == "victims-session":
        session_id = victim.provider_subscription_id or ""

    html = attacker.get(
        "/paywall/checkout/success/", {"session_id": session_id, "checkout": session_id}
    ).content.decode()

    assert "Premium" not in html
    assert not Membership.objects.filter(member_id=str(reader.pk)).exists()
    ctx = member_context(request_for(reader))
    assert "premium" not in ctx.tiers


@pytest.fixture
def bought_document(tmp_path: Any, catalog: Any) -> Iterator[PaywalledDocument]:
    """The annual report, sold alone as item ``doc:annual-report``."""
    with override_settings(
        WAGTAILDOCS_DOCUMENT_MODEL="testapp.PaywalledDocument", MEDIA_ROOT=str(tmp_path)
    ):
        document = PaywalledDocument(
            title="Annual report",
            paywall_rule="purchase",
            paywall_purchase_item="doc:annual-report",
        )
        document.file.save("annual-report.pdf", ContentFile(b"%PDF report"), save=False)
        document.save()
        yield document


def test_another_members_purchase_does_not_open_the_download(
    attacker: Client,
    bought_document: PaywalledDocument,
    make_user: Callable[..., Any],
    buy: Callable[..., None],
) -> None:
    buyer = make_user("buyer")
    buy(buyer, "report-2026")
    url = reverse("wagtaildocs_serve", args=(bought_document.pk, bought_document.filename))

    assert attacker.get(url).status_code == 403
    buyers_client = Client()
    buyers_client.force_login(buyer)
    assert buyers_client.get(url).status_code == 200


def test_a_purchase_grants_only_its_own_item(
    reader: Any, buy: Callable[..., None], request_for: Callable[..., Any], catalog: Any
) -> None:
    from membership_sdk import Purchase

    buy(reader, "report-2026")
    ctx = member_context(request_for(reader))

    assert decide(Resource("doc:annual-report", Purchase("doc:annual-report")), ctx).allowed
    assert not decide(Resource("doc:other-report", Purchase("doc:other-report")), ctx).allowed
