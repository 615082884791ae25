"""Lifecycle emails (welcome, payment failed, canceled, trial ending), sent through the
core's hooks once the change is committed; and the daily trial reminder command."""

from __future__ import annotations

from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client

from membership_sdk import hookimpl
from membership_sdk.providers.fake import FakeProvider
from wagtail_paywall import program as program_module
from wagtail_paywall.models import Membership, TrialReminder
from wagtail_paywall.tasks import deliver

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.wagtail.journey_fixtures"]


@pytest.fixture
def committed(django_capture_on_commit_callbacks: Any) -> Any:
    """Run what waits for the transaction to commit, as production would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def test_a_new_member_gets_the_welcome_email(
    reader: Any, subscribe: Callable[..., Membership], committed: Any
) -> None:
    with committed():
        subscribe(reader, "premium-yearly")

    (email,) = mail.outbox
    assert email.to == ["reader@example.com"]
    assert email.subject == "Welcome to Premium"
    assert "thank you for joining Premium. Your membership is active." in email.body
    assert "/paywall/account/" in email.body


def test_a_trial_gets_a_welcome_email_naming_its_end(
    reader: Any, subscribe: Callable[..., Membership], committed: Any
) -> None:
    with committed():
        subscribe(reader, "premium-monthly")

    assert "trial has started" in mail.outbox[0].body


def test_a_failed_renewal_sends_the_payment_failed_email(
    reader: Any, subscribe: Callable[..., Membership], fake: FakeProvider, committed: Any
) -> None:
    membership = subscribe(reader, "premium-yearly")
    mail.outbox.clear()

    with committed():
        webhook = fake.fail_payment(membership.provider_subscription_id)
        deliver("fake", webhook.headers, webhook.body)

    (email,) = mail.outbox
    assert email.subject == "Your payment did not go through"
    assert "update your payment method" in email.body


def test_a_cancellation_sends_the_canceled_email_with_the_last_day(
    client: Client,
    reader: Any,
    login: Callable[..., Client],
    subscribe: Callable[..., Membership],
    committed: Any,
) -> None:
    membership = subscribe(reader, "premium-yearly")
    login(reader)
    mail.outbox.clear()

    with committed():
        client.post(
            "/paywall/account/cancel/", {"membership": membership.pk, "reason": "temporary"}
        )

    (email,) = mail.outbox
    assert email.subject == "Your Premium membership is canceled"
    assert "You keep access until" in email.body


def test_no_email_is_sent_for_a_change_that_was_rolled_back(
    program: Any, reader: Any, subscribe: Callable[..., Membership], committed: Any
) -> None:
    class BrokenCrm:
        @hookimpl(trylast=True)  # after the welcome email was scheduled
        def membership_activated(self, membership: Any, event: Any) -> None:
            raise ConnectionError("CRM down")

    program.pm.register(BrokenCrm())

    with committed(), pytest.raises(Membership.DoesNotExist):
        subscribe(reader, "premium-yearly")

    assert mail.outbox == []


def test_a_member_without_an_email_address_gets_none(
    make_user: Callable[..., Any], subscribe: Callable[..., Membership], committed: Any
) -> None:
    user = make_user("anonymous-donor")
    user.email = ""
    user.save()

    with committed():
        subscribe(user, "premium-yearly")

    assert mail.outbox == []


def test_the_emails_plugin_can_be_blocked_by_name(
    monkeypatch: pytest.MonkeyPatch,
    catalog: Any,
    reader: Any,
    subscribe: Callable[..., Membership],
    committed: Any,
) -> None:
    monkeypatch.setenv("MEMBERSHIP_SDK_DISABLED_PLUGINS", "wagtail_paywall.billing.emails")
    program_module.reset_program()

    with committed():
        program_module.get_program()
        subscribe(reader, "premium-yearly")

    assert Membership.objects.get().status == "active"
    assert mail.outbox == []


# -- trial reminders --------------------------------------------------------------------------
def remind(days: int) -> str:
    out = StringIO()
    call_command("paywall_trial_reminders", days=days, stdout=out)
    return out.getvalue()


def test_the_daily_command_tells_a_member_their_trial_ends_soon(
    reader: Any, subscribe: Callable[..., Membership], committed: Any
) -> None:
    subscribe(reader, "premium-monthly")  # a 14-day trial
    mail.outbox.clear()

    with committed():
        output = remind(days=14)

    (email,) = mail.outbox
    assert email.subject == "Your trial ends soon"
    assert "first payment" in email.body
    assert "Reminded 1 trial(s)" in output


def test_each_trial_is_reminded_once(
    reader: Any, subscribe: Callable[..., Membership], committed: Any
) -> None:
    subscribe(reader, "premium-monthly")
    mail.outbox.clear()

    with committed():
        remind(days=14)
        output = remind(days=14)

    assert len(mail.outbox) == 1
    assert TrialReminder.objects.count() == 1
    assert "Reminded 0 trial(s)" in output


def test_a_trial_ending_after_the_notice_period_is_not_reminded_yet(
    reader: Any, subscribe: Callable[..., Membership], committed: Any
) -> None:
    subscribe(reader, "premium-monthly")
    mail.outbox.clear()

    with committed():
        output = remind(days=3)

    assert mail.outbox == []
    assert "Reminded 0 trial(s)" in output


def test_a_paid_membership_gets_no_trial_reminder(
    reader: Any, subscribe: Callable[..., Membership], committed: Any
) -> None:
    subscribe(reader, "premium-yearly")
    mail.outbox.clear()

    with committed():
        remind(days=400)

    assert mail.outbox == []


def test_emails_are_plain_text_not_html_escaped(
    catalog: Any, reader: Any, subscribe: Callable[..., Membership], committed: Any
) -> None:
    from wagtail_paywall.models import Tier
    from wagtail_paywall.program import catalog_changed

    Tier.objects.filter(slug="premium").update(name="Science & Nature")
    catalog_changed()

    with committed():
        subscribe(reader, "premium-yearly")

    assert mail.outbox[0].subject == "Welcome to Science & Nature"
    assert "joining Science & Nature." in mail.outbox[0].body
