"""Staff act on a member from the admin's member page: cancel, refund, pause, change plan,
give a gift. Each action needs its permission, is a CSRF-protected POST (confirmed first
when it destroys something), is written to Wagtail's audit log and shown in the member's
history; bad input is refused with a message and changes nothing."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.test import Client, override_settings
from django.urls import reverse
from wagtail.models import ModelLogEntry

from membership_sdk import GrantKind, MinTier, Resource
from membership_sdk.providers import Pausing, PlanChanges
from membership_sdk.providers.fake import FakeProvider
from membership_sdk.providers.manual import ManualProvider
from wagtail_paywall.access import check_access
from wagtail_paywall.models import Grant, ManualInvoice, Membership
from wagtail_paywall.models import Price as PriceRow
from wagtail_paywall.program import get_program, reset_program
from wagtail_paywall.tasks import deliver

pytest_plugins = ["tests.wagtail.journey_fixtures"]
pytestmark = pytest.mark.django_db

PREMIUM = Resource("page:1", MinTier("premium"))
MANUAL_SECRET = "tests-manual-secret"


# -- fixtures ------------------------------------------------------------------------------
@pytest.fixture
def admin_client(client: Client, editor: Any) -> Client:
    client.force_login(editor)
    return client


@pytest.fixture
def member(make_user: Callable[..., Any]) -> Any:
    return make_user("member")


@pytest.fixture
def other(make_user: Callable[..., Any]) -> Any:
    return make_user("other")


def detail(user: Any) -> str:
    return reverse("paywall_members:detail", args=[user.pk])


def url(name: str, user: Any, membership: Membership) -> str:
    return reverse(f"paywall_members:{name}", args=[user.pk, membership.pk])


def page(client: Client, user: Any) -> str:
    return client.get(detail(user)).content.decode()


def shown(response: Any) -> str:
    """The messages a redirect leaves for the next page, joined."""
    return " ".join(str(m) for m in response.wsgi_request._messages)


def logged(user: Any) -> list[str]:
    return list(
        ModelLogEntry.objects.for_instance(user)
        .filter(action__startswith="wagtail_paywall.")
        .values_list("action", flat=True)
    )


@pytest.fixture
def with_manual(catalog: Any) -> Iterator[ManualProvider]:
    """The site with the ``manual`` provider too; Supporter monthly sold through both."""
    PriceRow.objects.filter(key="supporter-monthly").update(
        provider_ids={"fake": "fake_price_supporter_monthly", "manual": "manual_supporter"}
    )
    PriceRow.objects.filter(key="report-2026").update(
        provider_ids={"fake": "fake_price_report", "manual": "manual_report"}
    )
    providers = {**settings.PAYWALL["PROVIDERS"], "manual": {"secret": MANUAL_SECRET}}
    with override_settings(PAYWALL={**settings.PAYWALL, "PROVIDERS": providers}):
        reset_program()
        provider = get_program().providers["manual"]
        assert isinstance(provider, ManualProvider)
        yield provider
    reset_program()


def pay_by_transfer(manual: ManualProvider, user: Any, price: str = "supporter-monthly") -> None:
    session = get_program().start_checkout(
        str(user.pk), price, provider="manual", success_url="/ok/", cancel_url="/no/"
    )
    webhook = manual.confirm_payment(session.id)
    deliver("manual", webhook.headers, webhook.body)


# -- the page ----------------------------------------------------------------------------------
def test_the_member_page_offers_cancel_refund_and_a_gift(
    admin_client: Client, member: Any, subscribe: Any
) -> None:
    membership = subscribe(member)

    html = page(admin_client, member)

    assert "Staff actions" in html
    assert url("cancel", member, membership) in html
    assert url("refund", member, membership) in html
    assert reverse("paywall_members:gift", args=[member.pk]) in html


def test_pause_and_plan_change_are_offered_where_the_provider_can(
    admin_client: Client, member: Any, subscribe: Any
) -> None:
    membership = subscribe(member, "supporter-monthly")
    assert isinstance(get_program().providers["fake"], Pausing | PlanChanges)

    html = page(admin_client, member)

    assert url("pause", member, membership) in html
    assert url("change_plan", member, membership) in html
    assert "premium-yearly" in html  # a plan to move to


def test_a_membership_of_a_provider_the_site_dropped_offers_nothing_and_says_why(
    admin_client: Client, member: Any, subscribe: Any
) -> None:
    membership = subscribe(member)
    Membership.objects.filter(pk=membership.pk).update(provider="gone")

    html = page(admin_client, member)

    for name in ("cancel", "refund", "pause", "change_plan"):
        assert url(name, member, membership) not in html
    assert "not configured on this site" in html


# -- cancel ------------------------------------------------------------------------------------
def test_cancel_shows_a_confirmation_first_and_changes_nothing(
    admin_client: Client, member: Any, subscribe: Any
) -> None:
    membership = subscribe(member)

    response = admin_client.get(url("cancel", member, membership))

    assert response.status_code == 200
    assert "Yes: Cancel membership" in response.content.decode()
    assert not Membership.objects.get(pk=membership.pk).cancel_at_period_end


def test_staff_cancel_at_period_end_with_a_reason_on_the_fake_provider(
    admin_client: Client, member: Any, subscribe: Any, request_for: Any
) -> None:
    membership = subscribe(member)

    response = admin_client.post(
        url("cancel", member, membership), {"when": "period_end", "reason": "asked by phone"}
    )

    assert response.status_code == 302
    after = Membership.objects.get(pk=membership.pk)
    assert after.cancel_at_period_end
    assert after.cancel_reason == "asked by phone"
    assert check_access(request_for(member), PREMIUM).allowed  # until the period ends
    assert logged(member) == ["wagtail_paywall.cancel"]
    html = page(admin_client, member)
    assert "Membership canceled" in html
    assert "asked by phone" in html


def test_staff_cancel_now_ends_access_at_once(
    admin_client: Client, member: Any, subscribe: Any, request_for: Any
) -> None:
    membership = subscribe(member)

    admin_client.post(url("cancel", member, membership), {"when": "now", "reason": "fraud"})

    assert Membership.objects.get(pk=membership.pk).status == "canceled"
    assert not check_access(request_for(member), PREMIUM).allowed


def test_a_cancel_needs_a_reason(admin_client: Client, member: Any, subscribe: Any) -> None:
    membership = subscribe(member)

    response = admin_client.post(url("cancel", member, membership), {"when": "now", "reason": ""})

    assert response.status_code == 400
    assert Membership.objects.get(pk=membership.pk).status == "active"
    assert logged(member) == []


def test_staff_cancel_on_the_manual_provider(
    admin_client: Client, member: Any, with_manual: ManualProvider
) -> None:
    pay_by_transfer(with_manual, member)
    membership = Membership.objects.get(member_id=str(member.pk))

    admin_client.post(url("cancel", member, membership), {"when": "now", "reason": "moved away"})

    assert Membership.objects.get(pk=membership.pk).status == "canceled"
    assert logged(member) == ["wagtail_paywall.cancel"]


def test_another_members_membership_is_a_404_and_changes_nothing(
    admin_client: Client, member: Any, other: Any, subscribe: Any
) -> None:
    theirs = subscribe(other)

    response = admin_client.post(
        url("cancel", member, theirs), {"when": "now", "reason": "wrong member"}
    )

    assert response.status_code == 404
    assert Membership.objects.get(pk=theirs.pk).status == "active"
    assert logged(member) == []
    assert logged(other) == []


def test_an_ended_membership_cannot_be_canceled_again(
    admin_client: Client, member: Any, subscribe: Any
) -> None:
    membership = subscribe(member)
    admin_client.post(url("cancel", member, membership), {"when": "now", "reason": "first"})

    response = admin_client.post(url("cancel", member, membership), {"when": "now", "reason": "2"})

    assert response.status_code == 302
    assert "already ended" in shown(response)
    assert logged(member) == ["wagtail_paywall.cancel"]


def test_a_provider_outage_is_a_message_and_changes_nothing(
    admin_client: Client, member: Any, subscribe: Any, fake: FakeProvider
) -> None:
    membership = subscribe(member)
    fake.simulate_outage()
    try:
        response = admin_client.post(
            url("cancel", member, membership), {"when": "now", "reason": "outage"}
        )
    finally:
        fake.simulate_outage(None)

    assert response.status_code == 302
    assert "unreachable" in shown(response)
    assert Membership.objects.get(pk=membership.pk).status == "active"
    assert logged(member) == []


# -- permissions and CSRF -----------------------------------------------------------------------
@pytest.fixture
def viewer(make_user: Callable[..., Any]) -> Any:
    """Staff who may open the admin and view members, not change them."""
    user = make_user("viewer", is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(codename="access_admin"),
        Permission.objects.get(codename="view_grant"),
    )
    return user


def test_staff_without_the_permission_get_403_and_nothing_changes(
    client: Client, viewer: Any, member: Any, subscribe: Any
) -> None:
    membership = subscribe(member)
    client.force_login(viewer)

    assert client.get(detail(member)).status_code == 200
    for name in ("cancel", "refund", "pause", "unpause", "change_plan"):
        response = client.post(url(name, member, membership), {"when": "now", "reason": "x"})
        assert response.status_code == 403, name
    gift = client.post(
        reverse("paywall_members:gift", args=[member.pk]), {"tier": "premium", "days": 5}
    )
    assert gift.status_code == 403
    assert Membership.objects.get(pk=membership.pk).status == "active"
    assert not Grant.objects.filter(kind="gift").exists()


def test_an_action_without_the_csrf_token_is_refused(
    editor: Any, member: Any, subscribe: Any
) -> None:
    membership = subscribe(member)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(editor)

    response = strict.post(url("cancel", member, membership), {"when": "now", "reason": "x"})

    assert response.status_code == 403
    assert Membership.objects.get(pk=membership.pk).status == "active"


# -- refunds -----------------------------------------------------------------------------------
def test_refund_confirmation_says_what_the_refund_policy_does(
    admin_client: Client, member: Any, subscribe: Any
) -> None:
    membership = subscribe(member)

    html = admin_client.get(url("refund", member, membership)).content.decode()

    assert "keep_to_period_end" in html
    assert "Yes: Refund" in html


def test_staff_refund_on_the_fake_provider_keeps_access_to_the_period_end(
    admin_client: Client, member: Any, subscribe: Any, request_for: Any
) -> None:
    membership = subscribe(member)

    response = admin_client.post(url("refund", member, membership), {"reason": "goodwill"})

    assert response.status_code == 302
    assert "Refunded €120.00" in shown(response)
    after = Membership.objects.get(pk=membership.pk)
    assert after.cancel_at_period_end  # ON_REFUND = keep_to_period_end
    assert check_access(request_for(member), PREMIUM).allowed
    assert logged(member) == ["wagtail_paywall.refund"]


def test_a_payment_is_refunded_once(admin_client: Client, member: Any, subscribe: Any) -> None:
    membership = subscribe(member)
    admin_client.post(url("refund", member, membership), {"reason": "once"})

    response = admin_client.post(url("refund", member, membership), {"reason": "twice"})

    assert "already refunded" in shown(response)
    assert logged(member) == ["wagtail_paywall.refund"]


def test_with_on_refund_end_now_a_staff_refund_ends_access(
    admin_client: Client, member: Any, catalog: Any, request_for: Any
) -> None:
    with override_settings(PAYWALL={**settings.PAYWALL, "ON_REFUND": "end_now"}):
        reset_program()
        program = get_program()
        fake = program.providers["fake"]
        assert isinstance(fake, FakeProvider)
        session = program.start_checkout(
            str(member.pk), "premium-yearly", provider="fake", success_url="/", cancel_url="/"
        )
        webhook = fake.complete_checkout(session.id)
        deliver("fake", webhook.headers, webhook.body)
        membership = Membership.objects.get(member_id=str(member.pk))

        admin_client.post(url("refund", member, membership), {"reason": "chargeback threat"})

        assert Membership.objects.get(pk=membership.pk).status == "canceled"
        assert not check_access(request_for(member), PREMIUM).allowed
    reset_program()


def test_a_trial_has_no_payment_to_refund(
    admin_client: Client, member: Any, subscribe: Any
) -> None:
    membership = subscribe(member, "premium-monthly")  # 14 trial days

    response = admin_client.post(url("refund", member, membership), {"reason": "x"})

    assert "paid nothing" in shown(response)
    assert not Membership.objects.get(pk=membership.pk).cancel_at_period_end
    assert logged(member) == []


def test_staff_refund_of_a_bank_transfer_marks_the_invoice_refunded(
    admin_client: Client, member: Any, with_manual: ManualProvider
) -> None:
    pay_by_transfer(with_manual, member)
    membership = Membership.objects.get(member_id=str(member.pk))

    response = admin_client.post(url("refund", member, membership), {"reason": "paid twice"})

    assert "Refunded €5.00" in shown(response)
    assert ManualInvoice.objects.get().state == "refunded"
    assert Membership.objects.get(pk=membership.pk).cancel_at_period_end


def test_staff_refund_a_one_off_purchase_and_it_is_revoked(
    admin_client: Client, member: Any, buy: Any
) -> None:
    buy(member)
    grant = Grant.objects.get(member_id=str(member.pk), kind="purchase")
    target = reverse("paywall_members:refund_purchase", args=[member.pk, grant.pk])
    assert target in page(admin_client, member)

    response = admin_client.post(target, {"reason": "never downloaded"})

    assert "Refunded €9.00" in shown(response)
    assert Grant.objects.get(pk=grant.pk).revoked_at is not None
    assert logged(member) == ["wagtail_paywall.refund_purchase"]


def test_staff_refund_a_purchase_paid_by_bank_transfer(
    admin_client: Client, member: Any, with_manual: ManualProvider
) -> None:
    pay_by_transfer(with_manual, member, "report-2026")
    grant = Grant.objects.get(member_id=str(member.pk), kind="purchase")

    admin_client.post(
        reverse("paywall_members:refund_purchase", args=[member.pk, grant.pk]), {"reason": "x"}
    )

    assert Grant.objects.get(pk=grant.pk).revoked_at is not None


def test_another_members_purchase_is_a_404(
    admin_client: Client, member: Any, other: Any, buy: Any
) -> None:
    buy(other)
    grant = Grant.objects.get(member_id=str(other.pk), kind="purchase")

    response = admin_client.post(
        reverse("paywall_members:refund_purchase", args=[member.pk, grant.pk]), {"reason": "x"}
    )

    assert response.status_code == 404
    assert Grant.objects.get(pk=grant.pk).revoked_at is None


def test_a_provider_without_refunds_has_no_button_and_the_page_says_why(
    admin_client: Client, member: Any, subscribe: Any, fake: FakeProvider, monkeypatch: Any
) -> None:
    membership = subscribe(member)
    # A provider declines a capability by not having its method (None blocks it).
    declining = type("NoRefunds", (FakeProvider,), {"refund_latest_payment": None})
    monkeypatch.setattr(fake, "__class__", declining)

    html = page(admin_client, member)
    forged = admin_client.post(url("refund", member, membership), {"reason": "x"})

    assert url("refund", member, membership) not in html
    assert "fake cannot refund payments from here" in html
    assert "cannot refund payments" in shown(forged)
    assert not Membership.objects.get(pk=membership.pk).cancel_at_period_end
    assert logged(member) == []


# -- gifts and comps ---------------------------------------------------------------------------
def test_staff_give_a_gift_that_ends_by_itself(
    admin_client: Client, member: Any, program: Any, request_for: Any
) -> None:
    response = admin_client.post(
        reverse("paywall_members:gift", args=[member.pk]),
        {"tier": "premium", "days": 7, "note": "from the editor"},
    )

    assert response.status_code == 302
    grant = Grant.objects.get(member_id=str(member.pk))
    assert (grant.kind, grant.tier, grant.note) == ("gift", "premium", "from the editor")
    assert (grant.ends_at - grant.starts_at).days == 7
    assert check_access(request_for(member), PREMIUM).allowed
    assert logged(member) == ["wagtail_paywall.gift"]
    assert "Gift given" in page(admin_client, member)


def test_a_gift_of_an_unknown_tier_is_refused(
    admin_client: Client, member: Any, program: Any
) -> None:
    response = admin_client.post(
        reverse("paywall_members:gift", args=[member.pk]), {"tier": "platinum", "days": 7}
    )

    assert "No gift given" in shown(response)
    assert not Grant.objects.exists()


def test_a_comp_is_written_to_the_history_too(
    admin_client: Client, member: Any, program: Any
) -> None:
    admin_client.post(detail(member), {"tier": "supporter", "days": 30, "note": "press"})

    assert logged(member) == ["wagtail_paywall.comp"]
    assert Grant.objects.get().kind == GrantKind.COMP


def test_get_on_a_post_only_action_is_a_404(
    admin_client: Client, member: Any, program: Any
) -> None:
    assert admin_client.get(reverse("paywall_members:gift", args=[member.pk])).status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "/admin/paywall_members/abc/",
        "/admin/paywall_members/abc/gift/",
        "/admin/paywall_members/abc/memberships/m1/cancel/",
    ],
)
def test_an_id_that_is_not_a_member_id_is_a_404_not_a_500(admin_client: Client, url: str) -> None:
    assert admin_client.post(url).status_code == 404


# -- pause and plan changes ---------------------------------------------------------------
def test_staff_pause_a_membership_for_a_month_with_a_reason(
    admin_client: Client, member: Any, subscribe: Any
) -> None:
    membership = subscribe(member)

    response = admin_client.post(url("pause", member, membership), {"months": 1, "reason": "ill"})

    assert response.status_code == 302
    assert Membership.objects.get(pk=membership.pk).paused_until is not None
    assert logged(member) == ["wagtail_paywall.pause"]


def test_a_pause_longer_than_three_months_is_refused(
    admin_client: Client, member: Any, subscribe: Any
) -> None:
    membership = subscribe(member)

    response = admin_client.post(url("pause", member, membership), {"months": 12})

    assert "1, 2 or 3 months" in shown(response)
    assert Membership.objects.get(pk=membership.pk).paused_until is None


def test_plan_change_shows_the_proration_preview_before_anything_changes(
    admin_client: Client, member: Any, subscribe: Any
) -> None:
    membership = subscribe(member, "supporter-monthly")

    response = admin_client.get(url("change_plan", member, membership), {"price": "premium-yearly"})

    assert response.status_code == 200
    assert "Due now" in response.content.decode()
    assert Membership.objects.get(pk=membership.pk).price_id == "supporter-monthly"


def test_staff_change_the_plan_after_the_preview(
    admin_client: Client, member: Any, subscribe: Any
) -> None:
    membership = subscribe(member, "supporter-monthly")

    admin_client.post(url("change_plan", member, membership), {"price": "premium-yearly"})

    assert Membership.objects.get(pk=membership.pk).price_id == "premium-yearly"
    assert logged(member) == ["wagtail_paywall.change_plan"]


def test_staff_pause_a_bank_transfer_membership(
    admin_client: Client, member: Any, with_manual: ManualProvider
) -> None:
    pay_by_transfer(with_manual, member)
    membership = Membership.objects.get(member_id=str(member.pk))

    response = admin_client.post(
        url("pause", member, membership), {"months": 2, "reason": "travelling"}
    )

    assert "Paused" in shown(response)
    assert Membership.objects.get(pk=membership.pk).paused_until is not None
    assert logged(member) == ["wagtail_paywall.pause"]


def test_a_bank_transfer_plan_change_is_previewed_then_made(
    admin_client: Client, member: Any, with_manual: ManualProvider
) -> None:
    yearly = PriceRow.objects.get(key="premium-yearly")
    yearly.provider_ids = {"fake": "fake_price_premium_yearly", "manual": "manual_premium_yearly"}
    yearly.save()  # the catalog is rebuilt
    pay_by_transfer(with_manual, member)
    membership = Membership.objects.get(member_id=str(member.pk))

    preview = admin_client.get(url("change_plan", member, membership), {"price": "premium-yearly"})
    assert "Due now" in preview.content.decode()
    response = admin_client.post(
        url("change_plan", member, membership), {"price": "premium-yearly"}
    )

    assert "Plan changed" in shown(response)
    assert logged(member) == ["wagtail_paywall.change_plan"]


def test_a_price_in_another_currency_is_a_form_error(
    admin_client: Client, member: Any, subscribe: Any, catalog: Any
) -> None:
    PriceRow.objects.create(
        key="premium-usd",
        tier=catalog["premium"],
        amount=1300,
        currency="USD",
        interval=PriceRow.Interval.MONTH,
        provider_ids={"fake": "fake_price_premium_usd"},
    )
    reset_program()
    membership = subscribe(member, "supporter-monthly")

    response = admin_client.post(url("change_plan", member, membership), {"price": "premium-usd"})

    assert response.status_code == 400
    assert "premium-usd is not one of the available choices" in response.content.decode()
    assert Membership.objects.get(pk=membership.pk).price_id == "supporter-monthly"
    assert logged(member) == []


# -- Stripe ------------------------------------------------------------------------------------
stripe = pytest.importorskip("stripe")


@pytest.fixture
def replay() -> Any:
    from tests.stripe.replay import ReplayClient

    return ReplayClient()


@pytest.fixture
def on_stripe(catalog: Any, replay: Any, member: Any) -> Iterator[Membership]:
    """The site selling Premium yearly through a replayed Stripe, and ``member``'s
    membership there."""
    PriceRow.objects.filter(key="premium-yearly").update(
        provider_ids={"fake": "fake_price_premium_yearly", "stripe": "price_StaffYearly"}
    )
    providers = {
        **settings.PAYWALL["PROVIDERS"],
        "stripe": {"api_key": "sk_test_x", "webhook_secret": "whsec_x", "http_client": replay},
    }
    with override_settings(PAYWALL={**settings.PAYWALL, "PROVIDERS": providers}):
        reset_program()
        yield Membership.objects.create(
            id="mem_staff_stripe",
            member_id=str(member.pk),
            tier="premium",
            status="active",
            provider="stripe",
            price_id="premium-yearly",
            provider_subscription_id="sub_Staff1",
            provider_customer_id="cus_Staff1",
        )
    reset_program()


def _stripe_subscription(**changes: Any) -> dict[str, Any]:
    from tests.stripe.replay import load_objects

    sub = copy.deepcopy(load_objects()["subscription"])
    sub.update(id="sub_Staff1", customer="cus_Staff1", **changes)
    return sub


def test_staff_refund_on_stripe_refunds_the_latest_paid_invoice(
    admin_client: Client, member: Any, on_stripe: Membership, replay: Any
) -> None:
    replay.on(
        "GET /v1/invoices",
        {"object": "list", "data": [{"id": "in_1", "amount_paid": 12000, "currency": "eur"}]},
    )
    replay.on(
        "GET /v1/invoice_payments",
        {
            "object": "list",
            "data": [{"payment": {"type": "payment_intent", "payment_intent": "pi_1"}}],
        },
    )
    replay.on("POST /v1/refunds", {"id": "re_1", "amount": 12000, "currency": "eur"})
    replay.on("POST /v1/subscriptions/sub_Staff1", _stripe_subscription(cancel_at_period_end=True))

    response = admin_client.post(url("refund", member, on_stripe), {"reason": "duplicate"})

    assert "Refunded €120.00" in shown(response)
    [refund] = replay.sent("POST /v1/refunds")
    assert refund.params["payment_intent"] == "pi_1"
    assert refund.idempotency_key == "refund-in_1"
    assert Membership.objects.get(pk=on_stripe.pk).cancel_at_period_end
    assert logged(member) == ["wagtail_paywall.refund"]


def test_a_stripe_error_on_refund_is_a_message_and_changes_nothing(
    admin_client: Client, member: Any, on_stripe: Membership, replay: Any
) -> None:
    from tests.stripe.replay import error

    replay.on(
        "GET /v1/invoices",
        {
            "object": "list",
            "data": [{"id": "in_1", "amount_paid": 12000, "payment_intent": "pi_1"}],
        },
    )
    replay.on(
        "POST /v1/refunds",
        error(
            400,
            "invalid_request_error",
            "Charge pi_1 has already been refunded.",
            "charge_already_refunded",
        ),
    )

    response = admin_client.post(url("refund", member, on_stripe), {"reason": "again"})

    assert response.status_code == 302
    assert "Stripe rejected the request to refund the latest payment" in shown(response)
    assert not Membership.objects.get(pk=on_stripe.pk).cancel_at_period_end
    assert logged(member) == []


def test_stripe_cancel_at_period_end_from_the_member_page(
    admin_client: Client, member: Any, on_stripe: Membership, replay: Any
) -> None:
    replay.on("POST /v1/subscriptions/sub_Staff1", _stripe_subscription(cancel_at_period_end=True))

    admin_client.post(url("cancel", member, on_stripe), {"when": "period_end", "reason": "asked"})

    [sent] = replay.sent("POST /v1/subscriptions/sub_Staff1")
    assert sent.params["cancel_at_period_end"] == "true"
    assert Membership.objects.get(pk=on_stripe.pk).cancel_at_period_end


def test_a_stripe_outage_is_a_message(
    admin_client: Client, member: Any, on_stripe: Membership, replay: Any
) -> None:
    replay.unreachable.add("*")

    response = admin_client.post(url("refund", member, on_stripe), {"reason": "x"})

    assert "Stripe is unreachable" in shown(response)
    assert logged(member) == []
