"""``manage.py paywall_reconcile`` with the fake provider: lost webhooks are repaired."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from membership_sdk import ProviderError
from membership_sdk.providers.fake import FakeProvider
from wagtail_paywall.models import Membership, WebhookEvent

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.wagtail.journey_fixtures"]


@pytest.fixture
def state_file(tmp_path: Path) -> Path:
    return tmp_path / "reconcile.json"


@pytest.fixture
def reconcile(state_file: Path) -> Callable[..., tuple[str, str]]:
    """Run the command; returns what it printed on stdout and on stderr."""

    def run(*args: str) -> tuple[str, str]:
        out, err = io.StringIO(), io.StringIO()
        call_command(
            "paywall_reconcile", "--state-file", str(state_file), *args, stdout=out, stderr=err
        )
        return out.getvalue(), err.getvalue()

    return run


def paid_without_webhook(program: Any, fake: FakeProvider, user: Any) -> str:
    """``user`` pays for Premium yearly; the fake service's webhook never arrives."""
    session = program.start_checkout(
        str(user.pk), "premium-yearly", provider="fake", success_url="/ok", cancel_url="/no"
    )
    fake.complete_checkout(session.id)
    return fake.checkout(session.id).result or ""


def test_a_subscription_whose_webhook_was_lost_is_created(
    program: Any, fake: FakeProvider, reader: Any, reconcile: Callable[..., tuple[str, str]]
) -> None:
    sub = paid_without_webhook(program, fake, reader)

    out, _ = reconcile()

    membership = Membership.objects.get(member_id=str(reader.pk))
    assert membership.status == "active"
    assert membership.tier == "premium"
    assert f"created: {sub} member {reader.pk}: premium (active)" in out
    assert "Reconciled 1 fake subscription(s): 1 created, 0 updated, 0 unchanged" in out


def test_a_lost_expiry_webhook_is_repaired_and_access_ends(
    fake: FakeProvider,
    reader: Any,
    subscribe: Callable[..., Membership],
    reconcile: Callable[..., tuple[str, str]],
    program: Any,
) -> None:
    membership = subscribe(reader)
    fake.expire(membership.provider_subscription_id)  # its webhook is lost

    out, _ = reconcile()

    membership.refresh_from_db()
    assert membership.status == "expired"
    assert "updated: " in out
    assert "status active -> expired" in out
    assert not program.context(str(reader.pk)).entitlements


def test_a_membership_that_matches_the_provider_is_left_unchanged(
    reader: Any, subscribe: Callable[..., Membership], reconcile: Callable[..., tuple[str, str]]
) -> None:
    membership = subscribe(reader)
    events = WebhookEvent.objects.count()

    out, _ = reconcile()

    assert Membership.objects.get().updated_at == membership.updated_at
    assert WebhookEvent.objects.count() == events
    assert "0 created, 0 updated, 1 unchanged" in out


def test_a_subscription_of_an_unknown_customer_is_reported_and_not_stored(
    program: Any, fake: FakeProvider, reader: Any, reconcile: Callable[..., tuple[str, str]]
) -> None:
    sub = paid_without_webhook(program, fake, reader)
    fake.subscriptions[sub].member_id = None  # made in the provider's dashboard, say

    out, _ = reconcile()

    assert not Membership.objects.exists()
    assert f"unknown customer: {sub}: customer " in out
    assert "1 unknown customer" in out


def test_a_dry_run_reports_what_would_change_and_changes_nothing(
    program: Any, fake: FakeProvider, reader: Any, reconcile: Callable[..., tuple[str, str]]
) -> None:
    sub = paid_without_webhook(program, fake, reader)

    out, _ = reconcile("--dry-run")

    assert not Membership.objects.exists()
    assert not WebhookEvent.objects.exists()
    assert f"(dry run) created: {sub}" in out


def test_a_dry_run_leaves_the_position_of_a_stopped_run_alone(
    program: Any,
    fake: FakeProvider,
    reader: Any,
    reconcile: Callable[..., tuple[str, str]],
    state_file: Path,
) -> None:
    paid_without_webhook(program, fake, reader)
    state_file.write_text('{"provider": "fake", "cursor": null, "seen": 0, "counts": {}}')

    reconcile("--dry-run")

    assert state_file.exists()


def test_reconciling_twice_changes_nothing_the_second_time(
    program: Any, fake: FakeProvider, reader: Any, reconcile: Callable[..., tuple[str, str]]
) -> None:
    paid_without_webhook(program, fake, reader)
    reconcile()

    out, _ = reconcile()

    assert "0 created, 0 updated, 1 unchanged" in out


def test_progress_is_shown_on_stderr(
    program: Any,
    fake: FakeProvider,
    make_user: Callable[..., Any],
    reconcile: Callable[..., tuple[str, str]],
) -> None:
    for name in ("ann", "bob", "cy"):
        paid_without_webhook(program, fake, make_user(name))

    out, err = reconcile("--page-size", "2")

    assert "Reconciling fake [####################..........] 2/3" in err
    assert "Reconciling fake [##############################] 3/3" in err
    assert "Reconciling" not in out


def test_a_run_stopped_by_an_outage_resumes_where_it_stopped(
    program: Any,
    fake: FakeProvider,
    make_user: Callable[..., Any],
    reconcile: Callable[..., tuple[str, str]],
    state_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    subs = [paid_without_webhook(program, fake, make_user(n)) for n in ("ann", "bob", "cy")]
    pages: list[str | None] = []
    listing = fake.list_subscriptions

    def down_after_one_page(*, after: str | None = None, limit: int = 100) -> Any:
        pages.append(after)
        if len(pages) == 2:
            raise ProviderError("fake: the payment service is unreachable", retryable=True)
        return listing(after=after, limit=limit)

    monkeypatch.setattr(fake, "list_subscriptions", down_after_one_page)
    with pytest.raises(CommandError, match="run again with --resume"):
        reconcile("--page-size", "1")
    assert Membership.objects.count() == 1
    assert state_file.exists()

    out, _ = reconcile("--page-size", "1", "--resume")

    assert pages == [None, subs[0], subs[0], subs[1]]  # the first page is not fetched again
    assert Membership.objects.count() == 3
    assert "Reconciled 3 fake subscription(s): 3 created" in out
    assert not state_file.exists()


def test_resume_without_a_stopped_run_says_there_is_nothing_to_resume(
    program: Any, reconcile: Callable[..., tuple[str, str]]
) -> None:
    with pytest.raises(CommandError, match="nothing to resume"):
        reconcile("--resume")


def test_an_unconfigured_provider_is_refused(
    program: Any, reconcile: Callable[..., tuple[str, str]]
) -> None:
    with pytest.raises(CommandError, match="no payment provider 'stripe' is configured"):
        reconcile("--provider", "stripe")
