"""``manage.py paywall_reconcile`` against localstripe: Stripe's subscriptions, listed page
by page (``status=all``), repair memberships whose webhooks never arrived."""

from __future__ import annotations

import io
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from wagtail_paywall.models import Membership

from .conftest import LocalStripe

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db]


def member(name: str) -> str:
    return str(get_user_model().objects.create_user(name, f"{name}@example.com", "pw").pk)


def reconcile(tmp_path: Path, *args: str) -> str:
    out = io.StringIO()
    call_command(
        "paywall_reconcile",
        "--provider",
        "stripe",
        "--state-file",
        str(tmp_path / "state.json"),
        "--page-size",
        "2",
        *args,
        stdout=out,
        stderr=io.StringIO(),
    )
    return out.getvalue()


def test_stripe_subscriptions_without_webhooks_are_reconciled_into_memberships(
    stripe_site: None, gold: Any, no_webhooks: None, localstripe: LocalStripe, tmp_path: Path
) -> None:
    paying, leaving = member("paying"), member("leaving")
    kept = localstripe.subscribe(paying)
    ending = localstripe.subscribe(leaving)
    localstripe.call("post", f"/v1/subscriptions/{ending['id']}", cancel_at_period_end=True)
    stranger = localstripe.call(  # made in Stripe's dashboard: no member id anywhere
        "post",
        "/v1/subscriptions",
        customer=localstripe.customer("someone"),
        items=[{"plan": localstripe.plan}],
    )

    out = reconcile(tmp_path)

    assert Membership.objects.get(member_id=paying).status == "active"
    assert Membership.objects.get(member_id=leaving).cancel_at_period_end
    assert Membership.objects.count() == 2
    assert f"created: {kept['id']} member {paying}: gold (active)" in out
    assert f"created: {ending['id']} member {leaving}: gold (active)" in out
    assert f"unknown customer: {stranger['id']}: customer " in out


def test_a_cancellation_whose_webhook_was_lost_is_updated_from_stripe(
    stripe_site: None, gold: Any, no_webhooks: None, localstripe: LocalStripe, tmp_path: Path
) -> None:
    leaving = member("leaving")
    sub = localstripe.subscribe(leaving)
    reconcile(tmp_path)
    localstripe.call("post", f"/v1/subscriptions/{sub['id']}", cancel_at_period_end=True)

    out = reconcile(tmp_path)

    assert Membership.objects.get(member_id=leaving).cancel_at_period_end
    assert f"updated: {sub['id']} member {leaving}: cancel_at_period_end False -> True" in out


def test_a_second_reconcile_against_stripe_finds_nothing_to_change(
    stripe_site: None, gold: Any, no_webhooks: None, localstripe: LocalStripe, tmp_path: Path
) -> None:
    localstripe.subscribe(member("paying"))
    reconcile(tmp_path)

    out = reconcile(tmp_path)

    assert " 0 created, 0 updated, " in out
    assert Membership.objects.count() == 1


def wipe_test_data(localstripe: LocalStripe) -> None:
    """What "Delete all test data" in Stripe's Dashboard does: every object is gone."""
    request = urllib.request.Request(f"{localstripe.url}/_config/data", method="DELETE")
    urllib.request.urlopen(request, timeout=5).close()


def test_a_membership_whose_subscription_was_wiped_from_stripe_is_canceled(
    stripe_site: None, gold: Any, no_webhooks: None, localstripe: LocalStripe, tmp_path: Path
) -> None:
    paying = member("paying")
    sub = localstripe.subscribe(paying)
    reconcile(tmp_path)
    wipe_test_data(localstripe)

    out = reconcile(tmp_path)

    membership = Membership.objects.get(member_id=paying)
    assert membership.status == "canceled"
    assert (
        f"vanished: {sub['id']} member {paying}: membership {membership.pk} (active): "
        "stripe has no such subscription; canceled, access ends now"
    ) in out
