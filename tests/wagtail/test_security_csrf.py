"""CSRF: every form that changes a member's state refuses a post without the site's token.

A browser-like client (``enforce_csrf_checks``) signed in as a Premium member posts each
action the way a forged form on another site would: without the CSRF token. Webhooks are
the one exemption; a signature protects them instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from wagtail_paywall.models import CancellationFeedback, FeedToken, Membership

pytest_plugins = ["tests.wagtail.journey_fixtures"]


@pytest.fixture
def member(
    strict_client: Client, reader: Any, subscribe: Callable[..., Membership]
) -> tuple[Client, Membership]:
    """A browser signed in as a member holding Premium yearly."""
    membership = subscribe(reader, "premium-yearly")
    strict_client.force_login(reader)
    return strict_client, membership


def forms(membership: Membership) -> dict[str, tuple[str, dict[str, str]]]:
    """Each state-changing action: its URL and a form that would otherwise be valid."""
    return {
        "checkout": ("/paywall/checkout/", {"price": "report-2026"}),
        "cancel": (
            "/paywall/account/cancel/",
            {"membership": membership.pk, "reason": "too_expensive"},
        ),
        "resume": ("/paywall/account/resume/", {"membership": membership.pk}),
        "change plan": (
            "/paywall/account/change-plan/",
            {"membership": membership.pk, "price": "supporter-monthly"},
        ),
        "billing portal": ("/paywall/account/portal/", {"provider": "fake"}),
        "issue a private feed": ("/paywall/account/feed/", {}),
        "revoke the private feeds": ("/paywall/account/feed/revoke/", {}),
    }


ACTIONS = [
    "checkout",
    "cancel",
    "resume",
    "change plan",
    "billing portal",
    "issue a private feed",
    "revoke the private feeds",
]


@pytest.mark.parametrize("action", ACTIONS)
def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(
    member: tuple[Client, Membership], action: str
) -> None:
    client, membership = member
    url, form = forms(membership)[action]

    response = client.post(url, form)

    assert response.status_code == 403
    after = Membership.objects.get(pk=membership.pk)
    assert (after.status, after.tier, after.cancel_at_period_end) == ("active", "premium", False)
    assert not CancellationFeedback.objects.exists()
    assert not FeedToken.objects.exists()


@pytest.mark.parametrize("action", ACTIONS)
def test_a_post_with_a_foreign_csrf_token_is_refused(
    member: tuple[Client, Membership], action: str
) -> None:
    client, membership = member
    url, form = forms(membership)[action]
    client.cookies["csrftoken"] = "a" * 32

    response = client.post(url, {**form, "csrfmiddlewaretoken": "b" * 32})

    assert response.status_code == 403


def test_a_cancel_with_the_sites_own_token_goes_through(
    member: tuple[Client, Membership], csrf_token: Callable[[Client], str]
) -> None:
    client, membership = member
    url, form = forms(membership)["cancel"]

    response = client.post(url, {**form, "csrfmiddlewaretoken": csrf_token(client)})

    assert response.status_code == 302
    assert Membership.objects.get(pk=membership.pk).cancel_at_period_end


def test_webhooks_need_no_csrf_token_but_a_valid_signature(strict_client: Client) -> None:
    response = strict_client.post(
        "/paywall/webhooks/fake/", b'{"id": "evt_1"}', content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["error"] == "bad signature"
