"""The paywall's Wagtail admin: tiers and prices, members and grants, the webhook inbox."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from membership_sdk import GrantKind, MinTier, Resource
from wagtail_paywall.access import check_access
from wagtail_paywall.models import Grant, Price, Tier, WebhookEvent
from wagtail_paywall.program import get_program

pytestmark = pytest.mark.django_db

PREMIUM = Resource("page:1", MinTier("premium"))


@pytest.fixture
def admin_client(client: Any, editor: Any) -> Any:
    client.force_login(editor)
    return client


def test_the_paywall_menu_lists_tiers_prices_members_and_the_inbox(
    admin_client: Any, catalog: Any
) -> None:
    html = admin_client.get(reverse("wagtailadmin_home")).content.decode()
    for label in ("Paywall", "Tiers", "Prices", "Members", "Webhook inbox"):
        assert label in html


def test_editors_see_the_tiers(admin_client: Any, catalog: Any) -> None:
    response = admin_client.get(reverse("paywall_tiers:index"))
    assert response.status_code == 200
    assert "Supporter" in response.content.decode()
    assert "Premium" in response.content.decode()


def test_a_tier_added_in_the_admin_is_in_the_catalog(admin_client: Any, program: Any) -> None:
    response = admin_client.post(
        reverse("paywall_tiers:add"),
        {"name": "Patron", "slug": "patron", "rank": 3, "description": "", "entitlements": ""},
    )
    assert response.status_code == 302
    assert Tier.objects.filter(slug="patron").exists()
    assert get_program().catalog.tier("patron").rank == 3


def test_a_price_edited_in_the_admin_changes_the_catalog(admin_client: Any, program: Any) -> None:
    price = Price.objects.get(key="premium-monthly")
    response = admin_client.post(
        reverse("paywall_prices:edit", args=[price.pk]),
        {
            "key": "premium-monthly",
            "nickname": "Premium monthly",
            "tier": price.tier_id,
            "item": "",
            "item_name": "",
            "amount": 1500,
            "currency": "EUR",
            "interval": "month",
            "trial_days": 0,
            "provider_ids": '{"fake": "fake_price_premium_monthly"}',
        },
    )
    assert response.status_code == 302
    assert get_program().catalog.price("premium-monthly").amount == 1500


def test_members_with_grants_are_listed(admin_client: Any, premium: Any, reader: Any) -> None:
    html = admin_client.get(reverse("paywall_members:index")).content.decode()
    assert "premium" in html
    assert "reader" not in html


def test_any_user_can_be_found_by_search(admin_client: Any, program: Any, reader: Any) -> None:
    html = admin_client.get(reverse("paywall_members:index"), {"q": "read"}).content.decode()
    assert "reader" in html


def test_a_member_page_shows_their_grants(admin_client: Any, premium: Any) -> None:
    html = admin_client.get(reverse("paywall_members:detail", args=[premium.pk])).content.decode()
    assert "Comp" in html
    assert "premium" in html
    assert "active" in html


def test_an_editor_comps_a_tier_for_n_days(
    admin_client: Any, program: Any, reader: Any, request_for: Any
) -> None:
    assert not check_access(request_for(reader), PREMIUM).allowed
    response = admin_client.post(
        reverse("paywall_members:detail", args=[reader.pk]),
        {"tier": "premium", "days": 14, "note": "press"},
    )
    assert response.status_code == 302
    grant = Grant.objects.get(member_id=str(reader.pk))
    assert (grant.kind, grant.tier, grant.note) == ("comp", "premium", "press")
    assert (grant.ends_at - grant.starts_at).days == 14
    assert check_access(request_for(reader), PREMIUM).allowed


def test_a_comp_needs_a_positive_number_of_days(
    admin_client: Any, program: Any, reader: Any
) -> None:
    response = admin_client.post(
        reverse("paywall_members:detail", args=[reader.pk]), {"tier": "premium", "days": 0}
    )
    assert response.status_code == 200
    assert not Grant.objects.exists()


def test_an_editor_extends_a_grant(admin_client: Any, premium: Any) -> None:
    grant = Grant.objects.get(member_id=str(premium.pk))
    before = grant.ends_at
    response = admin_client.post(
        reverse("paywall_members:extend_grant", args=[grant.pk]), {"days": 10}
    )
    assert response.status_code == 302
    grant.refresh_from_db()
    assert (grant.ends_at - before).days == 10


def test_an_editor_revokes_a_grant_and_access_ends_at_once(
    admin_client: Any, premium: Any, request_for: Any
) -> None:
    assert check_access(request_for(premium), PREMIUM).allowed
    grant = Grant.objects.get(member_id=str(premium.pk))
    response = admin_client.post(reverse("paywall_members:revoke_grant", args=[grant.pk]))
    assert response.status_code == 302
    assert not check_access(request_for(premium), PREMIUM).allowed


def test_grant_actions_need_the_change_permission(
    client: Any, make_user: Any, premium: Any
) -> None:
    from django.contrib.auth.models import Permission

    viewer = make_user("viewer")
    viewer.user_permissions.add(
        Permission.objects.get(codename="access_admin"),
        Permission.objects.get(codename="view_grant"),
    )
    client.force_login(viewer)
    grant = Grant.objects.get(member_id=str(premium.pk))
    response = client.post(reverse("paywall_members:revoke_grant", args=[grant.pk]))
    # Wagtail answers a denied admin action by sending the user back to the dashboard.
    assert response.status_code == 302
    assert response["Location"] == reverse("wagtailadmin_home")
    grant.refresh_from_db()
    assert grant.revoked_at is None


def _event(status: str, event_id: str, **extra: Any) -> WebhookEvent:
    return WebhookEvent.objects.create(
        provider="fake", event_id=event_id, status=status, event_type="x", **extra
    )


def test_the_inbox_filters_by_status(admin_client: Any, program: Any) -> None:
    _event("failed", "evt_failed_1", last_error="boom")
    _event("processed", "evt_done_1")
    html = admin_client.get(reverse("paywall_webhooks:index"), {"status": "failed"}).content
    assert b"evt_failed_1" in html
    assert b"evt_done_1" not in html


def test_the_inbox_cannot_be_edited(admin_client: Any, program: Any) -> None:
    row = _event("processed", "evt_done_2")
    html = admin_client.get(reverse("paywall_webhooks:index")).content.decode()
    assert f"/edit/{row.pk}/" not in html
    assert "/new/" not in html


def test_a_failed_event_shows_a_retry_button(admin_client: Any, program: Any) -> None:
    row = _event("failed", "evt_failed_2", last_error="ValueError: boom")
    html = admin_client.get(reverse("paywall_webhooks:inspect", args=[row.pk])).content.decode()
    assert "Retry this event" in html
    assert "ValueError: boom" in html


def test_retrying_a_failed_event_applies_it(
    admin_client: Any, program: Any, reader: Any, request_for: Any
) -> None:
    from wagtail_paywall.billing import inbox

    fake = program.providers["fake"]
    session = program.start_checkout(
        str(reader.pk),
        "premium-yearly",
        provider="fake",
        success_url="https://example.com/ok",
        cancel_url="https://example.com/no",
    )
    webhook = fake.complete_checkout(session.id)
    row = inbox.receive("fake", webhook.headers, webhook.body)
    WebhookEvent.objects.filter(pk=row.pk).update(status="failed", attempts=1, last_error="x")
    response = admin_client.post(reverse("paywall_webhooks:retry", args=[row.pk]))
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.status == "processed"
    assert row.attempts == 2
    assert check_access(request_for(reader), PREMIUM).allowed


def test_a_comp_given_in_code_shows_in_the_admin(
    admin_client: Any, reader: Any, program: Any
) -> None:
    program.grant(str(reader.pk), GrantKind.GIFT, tier="supporter", days=5)
    html = admin_client.get(reverse("paywall_members:detail", args=[reader.pk])).content.decode()
    assert "Gift" in html


def test_the_members_screen_header_names_members_not_home(admin_client: Any, program: Any) -> None:
    response = admin_client.get("/admin/paywall_members/")

    # Wagtail's header shows the last breadcrumb (the h1 is for screen readers only).
    assert [item["label"] for item in response.context["breadcrumbs_items"]] == [
        "Home",
        "Members",
    ]
