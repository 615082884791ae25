"""Retention offers in the cancel flow: after the reason, one offer chosen by it (a
discount, a pause, a cheaper plan), declined with one click that cancels at once
(§312k BGB), accepted through the provider; every offer shown and answered is counted,
and the "Retention offers" report counts a save only 30 days after accepting."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core import checks
from django.test import Client, override_settings
from django.utils import timezone

from membership_sdk.providers.fake import FakeProvider
from wagtail_paywall import program as program_module
from wagtail_paywall.formats import local_date
from wagtail_paywall.models import CancellationFeedback, Membership, Price, RetentionAttempt
from wagtail_paywall.tasks import deliver

from ..billing.manual_helpers import MANUAL_SECRET

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.wagtail.journey_fixtures"]

CANCEL = "/paywall/account/cancel/"
ACCEPT = "/paywall/account/cancel/offer/"
REPORT = "/admin/paywall-retention/"
OFFERS = {
    "half-price": {
        "kind": "discount",
        "reasons": ["too_expensive"],
        "percent_off": 50,
        "months": 3,
    },
    "downgrade": {"kind": "cheaper_plan", "reasons": ["too_expensive", "content"]},
    "break": {"kind": "pause", "reasons": ["temporary", "not_enough_time"], "months": 3},
}


def paywall(**extra: Any) -> dict[str, Any]:
    return {
        "PROVIDERS": {"fake": {"secret": "tests-webhook-secret"}},
        "DEFAULT_PROVIDER": "fake",
        **extra,
    }


@pytest.fixture(autouse=True)
def offers(catalog: Any) -> Iterator[None]:
    # Members here pay from the first day: a trial cannot be paused.
    Price.objects.filter(key="premium-monthly").update(trial_days=0)
    with override_settings(PAYWALL=paywall(RETENTION_OFFERS=OFFERS)):
        program_module.reset_program()
        yield
    program_module.reset_program()


@pytest.fixture
def member(
    client: Client,
    reader: Any,
    login: Callable[..., Client],
    subscribe: Callable[..., Membership],
) -> Membership:
    """``reader``, signed in, holding Premium monthly (€12.00) through the fake."""
    login(reader)
    return subscribe(reader, "premium-monthly")


def start_cancel(client: Client, membership: Membership, reason: str, **form: str) -> Any:
    return client.post(CANCEL, {"membership": membership.pk, "reason": reason, **form})


def forms_of(html: str) -> dict[str, dict[str, str]]:
    """The page's forms by action, each with its hidden and checked fields, as a browser
    would post them."""
    found: dict[str, dict[str, str]] = {}
    for action, body in re.findall(
        r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>', html, re.S
    ):
        fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', body))
        fields.update(re.findall(r'<input type="radio" name="(\w+)" value="([^"]*)" checked', body))
        found[action] = fields
    return found


def fresh(membership: Membership) -> Membership:
    return Membership.objects.get(pk=membership.pk)


# -- which offer ------------------------------------------------------------------------------
def test_the_reason_chooses_the_offer(client: Client, member: Membership) -> None:
    expensive = start_cancel(client, member, "too_expensive")
    temporary = start_cancel(client, member, "temporary")

    assert expensive.status_code == 200
    assert "Stay with 50% off for the next 3 payments." in expensive.content.decode()
    assert "You pay €6.00 a month instead of €12.00." in expensive.content.decode()
    assert temporary.status_code == 200
    assert "pause your membership for up to 3 months" in temporary.content.decode()
    assert list(
        RetentionAttempt.objects.order_by("pk").values_list("offer", "reason", "outcome")
    ) == [
        ("half-price", "too_expensive", "shown"),
        ("break", "temporary", "shown"),
    ]
    assert not fresh(member).cancel_at_period_end


def test_a_reason_without_an_offer_cancels_at_once(client: Client, member: Membership) -> None:
    response = start_cancel(client, member, "technical")

    assert response.status_code == 302
    assert fresh(member).cancel_at_period_end
    assert not RetentionAttempt.objects.exists()


class WithoutLifecycle:
    """The fake provider as a provider that declines every optional capability: it has
    the methods every provider has, and no other."""

    def __init__(self, fake: FakeProvider) -> None:
        self.fake = fake
        self.name = fake.name
        self.settings_spec = fake.settings_spec
        self.refetch_subscriptions = fake.refetch_subscriptions

    def create_checkout(self, request: Any) -> Any:
        return self.fake.create_checkout(request)

    def parse_webhook(self, headers: Any, body: bytes) -> Any:
        return self.fake.parse_webhook(headers, body)

    def fetch_subscription(self, subscription_id: str) -> Any:
        return self.fake.fetch_subscription(subscription_id)

    def cancel_subscription(self, subscription_id: str, *, at_period_end: bool = True) -> Any:
        return self.fake.cancel_subscription(subscription_id, at_period_end=at_period_end)

    def resume_subscription(self, subscription_id: str) -> Any:
        return self.fake.resume_subscription(subscription_id)

    def portal_url(self, customer_id: str, return_url: str) -> Any:
        return self.fake.portal_url(customer_id, return_url)


def test_no_offer_is_shown_when_the_provider_cannot_honour_it(
    client: Client, member: Membership, fake: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    providers = program_module.get_program().providers
    monkeypatch.setitem(providers._providers, "fake", WithoutLifecycle(fake))

    response = start_cancel(client, member, "too_expensive")

    assert response.status_code == 302
    assert fresh(member).cancel_at_period_end
    assert not RetentionAttempt.objects.exists()


def test_a_wrong_setting_never_stands_in_the_way_of_a_cancellation(
    client: Client, member: Membership
) -> None:
    with override_settings(PAYWALL=paywall(RETENTION_OFFERS={"x": {"kind": "gift"}})):
        response = start_cancel(client, member, "too_expensive")

    assert response.status_code == 302
    assert fresh(member).cancel_at_period_end


def test_a_wrong_setting_is_a_system_check_error_naming_the_offer() -> None:
    with override_settings(
        PAYWALL=paywall(
            RETENTION_OFFERS={"later": {"kind": "pause", "reasons": ["temporary"], "months": 6}}
        )
    ):
        errors = [e for e in checks.run_checks() if e.id == "wagtail_paywall.E014"]

    assert len(errors) == 1
    assert "'later'" in errors[0].msg
    assert "at most 3" in errors[0].msg


# -- declining: one click -----------------------------------------------------------------------
def test_declining_cancels_with_exactly_one_more_click(client: Client, member: Membership) -> None:
    offer_page = start_cancel(client, member, "too_expensive", comment="Too dear for me")
    decline = forms_of(offer_page.content.decode())[CANCEL]

    response = client.post(CANCEL, decline)  # "No thanks, cancel my membership"

    assert response.status_code == 302
    assert fresh(member).cancel_at_period_end
    attempt = RetentionAttempt.objects.get()
    assert (attempt.outcome, attempt.decided_at is not None) == ("declined", True)
    feedback = CancellationFeedback.objects.get()
    assert (feedback.reason, feedback.comment) == ("too_expensive", "Too dear for me")


def test_the_decline_button_says_it_cancels(client: Client, member: Membership) -> None:
    html = start_cancel(client, member, "too_expensive").content.decode()

    assert "No thanks, cancel my membership" in html
    assert 'type="submit" class="pw-button pw-button--danger"' in html


@pytest.mark.parametrize("declined", ["not-a-number", "9" * 20])
def test_a_declined_value_that_names_nothing_still_cancels(
    client: Client, member: Membership, declined: str
) -> None:
    response = start_cancel(client, member, "too_expensive", declined=declined)

    assert response.status_code == 302
    assert fresh(member).cancel_at_period_end


# -- accepting -----------------------------------------------------------------------------------
def accept_shown(client: Client, member: Membership, reason: str, **form: str) -> Any:
    offer_page = start_cancel(client, member, reason)
    assert offer_page.status_code == 200
    return client.post(ACCEPT, {**forms_of(offer_page.content.decode())[ACCEPT], **form})


def test_accepting_the_discount_keeps_the_membership_at_the_lower_price(
    client: Client, member: Membership
) -> None:
    response = accept_shown(client, member, "too_expensive")

    assert response.status_code == 302
    after = fresh(member)
    assert not after.cancel_at_period_end
    assert after.coupon == "retention-half-price"
    assert after.amount == 600
    assert RetentionAttempt.objects.get().outcome == "accepted"
    assert not CancellationFeedback.objects.exists()


def test_accepting_the_pause_pauses_instead_of_canceling(
    client: Client, member: Membership
) -> None:
    response = accept_shown(client, member, "temporary", months="2")

    assert response.status_code == 302
    after = fresh(member)
    assert after.status == "paused"
    assert not after.cancel_at_period_end
    assert after.paused_until is not None
    attempt = RetentionAttempt.objects.get()
    assert (attempt.outcome, attempt.detail) == ("accepted", "2 months")


def test_accepting_the_cheaper_plan_moves_the_membership_to_it_at_the_period_end(
    client: Client, member: Membership, fake: FakeProvider
) -> None:
    offer_page = start_cancel(client, member, "content")
    html = offer_page.content.decode()
    assert "Switch to Supporter for €5.00 a month instead." in html
    assert f"The new price applies from {local_date(member.current_period_end)}." in html

    response = client.post(ACCEPT, forms_of(html)[ACCEPT])

    assert response.status_code == 302
    after = fresh(member)
    assert not after.cancel_at_period_end
    # A downgrade waits for the paid period's end, at the provider.
    pending = fake.subscription(str(member.provider_subscription_id)).pending_price
    assert pending == "fake_price_supporter_monthly"
    assert RetentionAttempt.objects.get().detail == "supporter-monthly"
    followed = client.get(response["Location"]).content.decode()
    assert f"You move to Supporter on {member.current_period_end:%Y-%m-%d}" in followed


def test_an_offer_is_accepted_once(client: Client, member: Membership) -> None:
    offer_page = start_cancel(client, member, "too_expensive")
    accept = forms_of(offer_page.content.decode())[ACCEPT]

    first = client.post(ACCEPT, accept)
    again = client.post(ACCEPT, accept)

    assert (first.status_code, again.status_code) == (302, 409)
    assert RetentionAttempt.objects.get().outcome == "accepted"


def test_a_pause_longer_than_offered_is_400_and_changes_nothing(
    client: Client, member: Membership
) -> None:
    with override_settings(
        PAYWALL=paywall(
            RETENTION_OFFERS={"short": {"kind": "pause", "reasons": ["temporary"], "months": 1}}
        )
    ):
        response = accept_shown(client, member, "temporary", months="3")

    assert response.status_code == 400
    assert fresh(member).status == "active"
    assert RetentionAttempt.objects.get().outcome == "shown"


def test_a_bank_transfer_member_is_offered_and_given_the_pause_too(
    client: Client, reader: Any, login: Callable[..., Client]
) -> None:
    Price.objects.filter(key="supporter-monthly").update(
        provider_ids={"fake": "fake_price_supporter_monthly", "manual": "manual_supporter"}
    )
    providers = {"fake": {"secret": "tests-webhook-secret"}, "manual": {"secret": MANUAL_SECRET}}
    with override_settings(PAYWALL=paywall(PROVIDERS=providers, RETENTION_OFFERS=OFFERS)):
        program_module.reset_program()
        program = program_module.get_program()
        session = program.start_checkout(
            str(reader.pk),
            "supporter-monthly",
            provider="manual",
            success_url="/ok/",
            cancel_url="/no/",
        )
        webhook = program.providers["manual"].confirm_payment(session.id)  # type: ignore[attr-defined]
        deliver("manual", webhook.headers, webhook.body)
        membership = Membership.objects.get(member_id=str(reader.pk))
        login(reader)

        response = accept_shown(client, membership, "temporary", months="1")

    assert response.status_code == 302
    after = fresh(membership)
    assert (after.provider, after.status, after.cancel_at_period_end) == ("manual", "paused", False)
    assert RetentionAttempt.objects.get().outcome == "accepted"


# -- forged posts ----------------------------------------------------------------------------
def test_accepting_an_offer_for_someone_elses_membership_is_404_and_changes_nothing(
    client: Client,
    member: Membership,
    make_user: Callable[..., Any],
    subscribe: Callable[..., Membership],
) -> None:
    offer_page = start_cancel(client, member, "too_expensive")
    theirs = forms_of(offer_page.content.decode())[ACCEPT]
    intruder = make_user("intruder")
    subscribe(intruder, "premium-monthly")
    client.force_login(intruder)

    response = client.post(ACCEPT, theirs)

    assert response.status_code == 404
    assert fresh(member).coupon == ""
    assert RetentionAttempt.objects.get().outcome == "shown"


def test_an_offer_not_configured_for_the_reason_is_400_and_changes_nothing(
    client: Client, member: Membership
) -> None:
    offer_page = start_cancel(client, member, "too_expensive")
    forged = {**forms_of(offer_page.content.decode())[ACCEPT], "offer": "break"}

    response = client.post(ACCEPT, forged)

    assert response.status_code == 400
    assert "break" in response.content.decode()
    assert fresh(member).status == "active"
    assert fresh(member).coupon == ""


def test_an_unknown_offer_is_400(client: Client, member: Membership) -> None:
    offer_page = start_cancel(client, member, "too_expensive")
    forged = {**forms_of(offer_page.content.decode())[ACCEPT], "offer": "free-forever"}

    assert client.post(ACCEPT, forged).status_code == 400
    assert fresh(member).coupon == ""


def test_an_attempt_id_too_large_for_the_database_is_400(
    client: Client, member: Membership
) -> None:
    offer_page = start_cancel(client, member, "too_expensive")
    forged = {**forms_of(offer_page.content.decode())[ACCEPT], "attempt": "9" * 25}

    assert client.post(ACCEPT, forged).status_code == 400
    assert fresh(member).coupon == ""


def test_an_offer_that_was_never_shown_is_404(client: Client, member: Membership) -> None:
    response = client.post(
        ACCEPT,
        {
            "membership": member.pk,
            "reason": "too_expensive",
            "offer": "half-price",
            "attempt": "999",
        },
    )

    assert response.status_code == 404
    assert fresh(member).coupon == ""


def test_accepting_needs_a_signed_in_member(client: Client, member: Membership) -> None:
    client.logout()

    response = client.post(ACCEPT, {"membership": member.pk})

    assert response.status_code == 302
    assert "/login" in response["Location"]


# -- the report -------------------------------------------------------------------------------
def attempt(membership: Membership, outcome: str, days_ago: int, **extra: Any) -> None:
    when = timezone.now() - timedelta(days=days_ago)
    RetentionAttempt.objects.create(
        membership_id=membership.pk,
        member_id=membership.member_id,
        reason=extra.pop("reason", "too_expensive"),
        offer="half-price",
        kind="discount",
        outcome=outcome,
        shown_at=when,
        decided_at=None if outcome == "shown" else when,
        **extra,
    )


def report_rows(client: Client) -> list[list[str]]:
    response = client.get(REPORT + "?format=csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return [line.split(",") for line in response.content.decode().strip().splitlines()]


def test_a_save_counts_only_thirty_days_after_accepting(
    client: Client, member: Membership, editor: Any
) -> None:
    attempt(member, "accepted", days_ago=31)  # still a member: a save
    attempt(member, "accepted", days_ago=29)  # too early to tell
    attempt(member, "declined", days_ago=40)
    attempt(member, "shown", days_ago=1)
    client.force_login(editor)

    header, row = report_rows(client)

    assert header[:8] == [
        "offer_type",
        "reason",
        "shown",
        "accepted",
        "declined",
        "saves_30_days",
        "lost",
        "too_early",
    ]
    assert row[:8] == ["Discount", "It costs too much", "4", "2", "1", "1", "0", "1"]


def test_a_member_who_cancelled_within_thirty_days_is_no_save(
    client: Client, member: Membership, editor: Any
) -> None:
    attempt(member, "accepted", days_ago=35)
    Membership.objects.filter(pk=member.pk).update(
        cancel_at_period_end=True, canceled_at=timezone.now() - timedelta(days=20)
    )
    client.force_login(editor)

    _header, row = report_rows(client)

    assert (row[5], row[6]) == ("0", "1")


def test_the_report_lists_offer_types_and_reasons_for_an_editor(
    client: Client, member: Membership, editor: Any
) -> None:
    attempt(member, "declined", days_ago=2, reason="content")
    client.force_login(editor)

    html = client.get(REPORT).content.decode()

    assert "Retention offers" in html
    assert "The content isn&#x27;t what I hoped for" in html


def test_staff_given_the_permission_see_the_report_in_the_reports_menu(
    client: Client, member: Membership, make_user: Callable[..., Any]
) -> None:
    from django.contrib.auth.models import Permission
    from wagtail import hooks

    registered = [p for fn in hooks.get_hooks("register_permissions") for p in fn()]
    view = Permission.objects.get(codename="view_retentionattempt")
    assert view in registered  # so the group editor lists it
    staff = make_user("analyst", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="access_admin"), view)
    attempt(member, "declined", days_ago=2)
    client.force_login(staff)

    response = client.get(REPORT)

    assert response.status_code == 200
    assert "It costs too much" in response.content.decode()
    assert REPORT in client.get("/admin/").content.decode()  # in the sidebar's Reports menu


def test_the_report_is_refused_without_the_permission(
    client: Client, member: Membership, make_user: Callable[..., Any]
) -> None:
    from django.contrib.auth.models import Permission

    staff = make_user("staff", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="access_admin"))
    client.force_login(staff)

    response = client.get(REPORT)

    assert response.status_code in (302, 403)
    assert "Discount" not in response.content.decode()
