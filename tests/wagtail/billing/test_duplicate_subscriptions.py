"""A member who pays twice (two tabs) keeps both memberships, the
``membership_duplicate_subscription`` hook fires once, and the admin's member list flags the
member, with the fake provider and with Stripe's webhooks alike."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.urls import reverse

from membership_sdk import hookimpl
from wagtail_paywall.models import Membership, Price
from wagtail_paywall.program import get_program, reset_program

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.wagtail.journey_fixtures"]

STRIPE_SECRET = "whsec_tests_duplicates"


class Duplicates:
    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    @hookimpl
    def membership_duplicate_subscription(self, member_id: str, memberships: list[Any]) -> None:
        self.calls.append((member_id, sorted(m.provider_subscription_id for m in memberships)))


def post(client: Client, url: str, body: bytes, headers: dict[str, str]) -> Any:
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    response = client.post(url, data=body, content_type="application/json", **extra)
    assert response.status_code == 200, response.content
    return response


def pay_in_a_tab(client: Client, program: Any, member: Any) -> None:
    """``member`` completes a fake checkout of Premium yearly; its webhook is delivered."""
    session = program.start_checkout(
        str(member.pk),
        "premium-yearly",
        provider="fake",
        success_url="http://testserver/ok",
        cancel_url="http://testserver/no",
        attempt=f"tab-{time.monotonic_ns()}",
    )
    hook = program.providers["fake"].complete_checkout(session.id)
    post(client, "/paywall/webhooks/fake/", hook.body, hook.headers)


def test_paying_twice_in_two_tabs_keeps_both_and_fires_the_hook_once(
    client: Client, program: Any, reader: Any
) -> None:
    duplicates = Duplicates()
    program.pm.register(duplicates)

    pay_in_a_tab(client, program, reader)
    pay_in_a_tab(client, program, reader)

    subscriptions = sorted(
        Membership.objects.filter(member_id=str(reader.pk)).values_list(
            "provider_subscription_id", flat=True
        )
    )
    assert len(subscriptions) == 2
    assert duplicates.calls == [(str(reader.pk), subscriptions)]


def test_the_admin_flags_a_member_paying_twice(
    client: Client, program: Any, reader: Any, make_user: Any, editor: Any
) -> None:
    pay_in_a_tab(client, program, reader)
    pay_in_a_tab(client, program, reader)
    once = make_user("once")
    pay_in_a_tab(client, program, once)
    client.force_login(editor)

    flagged = client.get(reverse("paywall_members:index"), {"duplicates": "1"}).content.decode()
    everyone = client.get(reverse("paywall_members:index")).content.decode()
    detail = client.get(reverse("paywall_members:detail", args=[reader.pk])).content.decode()

    assert ">reader<" in flagged
    assert ">once<" not in flagged
    assert "Paying twice" in flagged
    assert ">once<" in everyone
    assert "2 live subscriptions will charge this member" in detail


def test_a_member_paying_once_is_not_flagged(
    client: Client, program: Any, reader: Any, editor: Any
) -> None:
    pay_in_a_tab(client, program, reader)
    client.force_login(editor)

    flagged = client.get(reverse("paywall_members:index"), {"duplicates": "1"}).content.decode()

    assert "No member pays for more than one live subscription." in flagged


def _stripe_subscription_event(n: int, member: str) -> tuple[bytes, dict[str, str]]:
    from tests.stripe.replay import load_objects, sign

    sub = load_objects()["subscription"]
    sub = dict(
        sub,
        id=f"sub_Tab{n}",
        customer=f"cus_Tab{n}",
        metadata=dict(sub["metadata"], member_id=member),
    )
    body = json.dumps(
        {
            "id": f"evt_Tab{n}",
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": int(time.time()),
            "data": {"object": sub},
            "livemode": False,
            "pending_webhooks": 1,
            "type": "customer.subscription.created",
        }
    )
    return body.encode(), sign(body, STRIPE_SECRET)


def test_two_stripe_subscriptions_of_one_member_fire_the_hook_once(
    client: Client, catalog: Any, reader: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("stripe")
    Price.objects.filter(key="premium-monthly").update(
        provider_ids={"fake": "fake_price_premium_monthly", "stripe": "price_RecGoldMonthly"}
    )
    paywall = {
        **settings.PAYWALL,
        "PROVIDERS": {
            **settings.PAYWALL["PROVIDERS"],
            "stripe": {"api_key": "sk_test_duplicates", "webhook_secret": STRIPE_SECRET},
        },
    }
    with override_settings(PAYWALL=paywall):
        reset_program()
        program = get_program()
        # The events carry the subscription; Stripe is not asked again in this test.
        monkeypatch.setattr(program.providers["stripe"], "fetch_subscription", lambda _id: None)
        duplicates = Duplicates()
        program.pm.register(duplicates)

        for n in (1, 2):
            body, headers = _stripe_subscription_event(n, str(reader.pk))
            post(client, "/paywall/webhooks/stripe/", body, headers)

    assert Membership.objects.filter(member_id=str(reader.pk), provider="stripe").count() == 2
    assert duplicates.calls == [(str(reader.pk), ["sub_Tab1", "sub_Tab2"])]
