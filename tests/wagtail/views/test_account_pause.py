"""Pausing from the account page: one to three months with a reason, "resume now", access
while paused as ``PAUSE_ACCESS`` says (the period already paid, by default), its system
check, and ``manage.py paywall_lifecycle`` resuming pauses that are due."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core import checks
from django.core.management import call_command
from django.test import Client, override_settings

from membership_sdk import MembershipProgram, MinTier, Resource, Status
from wagtail_paywall import program as program_module
from wagtail_paywall.checks import check_pause_access
from wagtail_paywall.models import Membership, Tier, WebhookEvent

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.wagtail.journey_fixtures"]

ACCOUNT = "/paywall/account/"
PAUSE = "/paywall/account/pause/"
UNPAUSE = "/paywall/account/unpause/"
PREMIUM = Resource("page:premium", MinTier("premium"))


@pytest.fixture
def member(
    client: Client, reader: Any, login: Callable[..., Client], subscribe: Callable[..., Membership]
) -> Membership:
    login(reader)
    return subscribe(reader, "premium-yearly")


def test_the_account_page_offers_a_pause_of_one_to_three_months(
    client: Client, member: Membership
) -> None:
    html = client.get(ACCOUNT).content.decode()
    assert PAUSE in html
    assert '<option value="3">' in html
    assert '<option value="4">' not in html


def test_pausing_keeps_the_reason_and_the_year_already_paid(
    client: Client, member: Membership, program: MembershipProgram
) -> None:
    response = client.post(PAUSE, {"membership": member.pk, "months": "2", "reason": "Travel"})
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.status == Status.PAUSED
    assert member.pause_reason == "Travel"
    assert member.paused_until is not None
    assert program.access(PREMIUM, member.member_id).allowed  # paid for, not taken back
    html = client.get(ACCOUNT).content.decode()
    assert "Paused until" in html
    assert UNPAUSE in html


def test_resume_now_gives_access_back(
    client: Client, member: Membership, program: MembershipProgram
) -> None:
    client.post(PAUSE, {"membership": member.pk, "months": "1"})
    response = client.post(UNPAUSE, {"membership": member.pk})
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.status == Status.ACTIVE
    assert program.access(PREMIUM, member.member_id).allowed


@pytest.mark.parametrize("months", ["0", "4", "", "two"])
def test_a_pause_out_of_range_is_400_and_changes_nothing(
    client: Client, member: Membership, months: str
) -> None:
    response = client.post(PAUSE, {"membership": member.pk, "months": months})
    assert response.status_code == 400
    member.refresh_from_db()
    assert member.status == Status.ACTIVE


def test_pausing_another_members_membership_is_404(
    client: Client,
    member: Membership,
    make_user: Callable[..., Any],
    login: Callable[..., Client],
) -> None:
    login(make_user("mallory"))
    assert client.post(PAUSE, {"membership": member.pk, "months": "1"}).status_code == 404
    assert client.post(UNPAUSE, {"membership": member.pk}).status_code == 404
    member.refresh_from_db()
    assert member.status == Status.ACTIVE


def test_resuming_a_membership_that_is_not_paused_is_409(
    client: Client, member: Membership
) -> None:
    assert client.post(UNPAUSE, {"membership": member.pk}).status_code == 409


@pytest.fixture
def no_access_while_paused(catalog: dict[str, Tier]) -> Iterator[None]:
    providers = {"fake": {"secret": "tests-webhook-secret"}}
    with override_settings(
        PAYWALL={"PROVIDERS": providers, "DEFAULT_PROVIDER": "fake", "PAUSE_ACCESS": "none"}
    ):
        program_module.reset_program()
        yield
    program_module.reset_program()


def test_with_pause_access_none_a_paused_member_reads_nothing(
    no_access_while_paused: None,
    client: Client,
    reader: Any,
    login: Callable[..., Client],
    subscribe: Callable[..., Membership],
) -> None:
    login(reader)
    member = subscribe(reader, "premium-yearly")
    client.post(PAUSE, {"membership": member.pk, "months": "1"})
    member.refresh_from_db()
    assert member.status == Status.PAUSED
    program = program_module.get_program()
    assert not program.access(PREMIUM, member.member_id).allowed


def test_a_pause_access_setting_nobody_knows_fails_the_system_check() -> None:
    with override_settings(PAYWALL={"PAUSE_ACCESS": "always"}):
        [error] = check_pause_access()
    assert isinstance(error, checks.Error)
    assert error.id == "wagtail_paywall.E016"
    assert "'always'" in error.msg


def test_the_default_pause_access_passes_the_check() -> None:
    assert check_pause_access() == []


def test_paywall_lifecycle_resumes_a_due_pause_through_the_inbox(
    client: Client, member: Membership, program: MembershipProgram
) -> None:
    client.post(PAUSE, {"membership": member.pk, "months": "1"})
    member.refresh_from_db()
    assert member.paused_until is not None
    out = StringIO()
    call_command("paywall_lifecycle", now=member.paused_until - timedelta(hours=1), stdout=out)
    member.refresh_from_db()
    assert member.status == Status.PAUSED
    assert "0 resumed" in out.getvalue()
    call_command("paywall_lifecycle", now=member.paused_until, stdout=out)
    member.refresh_from_db()
    assert (member.status, member.paused_until) == (Status.ACTIVE, None)
    assert WebhookEvent.objects.filter(provider="fake", status="processed").exists()
    out = StringIO()
    call_command("paywall_lifecycle", now=member.current_period_end, stdout=out)
    assert "0 resumed" in out.getvalue()  # a second run resumes nothing more
