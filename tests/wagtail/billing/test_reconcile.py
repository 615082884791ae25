"""``manage.py paywall_reconcile`` with the fake provider: lost webhooks are repaired."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from membership_sdk import ProviderError, hookimpl
from membership_sdk.providers.fake import FakeProvider
from wagtail_paywall.access import context_for_member
from wagtail_paywall.models import Membership, WebhookEvent
from wagtail_paywall.tasks import deliver

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


# -- subscriptions that vanished at the provider ------------------------------------------------


class LifecycleRecorder:
    """Records the cancellation and expiry hooks a reconcile fires."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    @hookimpl
    def membership_canceled(self, membership: Any, event: Any) -> None:
        self.calls.append(("membership_canceled", membership.provider_subscription_id))

    @hookimpl
    def membership_expired(self, membership: Any, event: Any) -> None:
        self.calls.append(("membership_expired", membership.provider_subscription_id))


def vanish(fake: FakeProvider, membership: Membership) -> str:
    """The provider forgets the membership's subscription (a test-mode wipe, say)."""
    sub = membership.provider_subscription_id or ""
    del fake.subscriptions[sub]
    return sub


def test_a_live_membership_whose_subscription_vanished_is_canceled_and_loses_access(
    fake: FakeProvider,
    reader: Any,
    subscribe: Callable[..., Membership],
    reconcile: Callable[..., tuple[str, str]],
) -> None:
    membership = subscribe(reader)
    assert "content.premium" in context_for_member(str(reader.pk)).entitlements  # cached
    sub = vanish(fake, membership)

    out, _ = reconcile()

    membership.refresh_from_db()
    assert membership.status == "canceled"
    assert "content.premium" not in context_for_member(str(reader.pk)).entitlements
    assert (
        f"vanished: {sub} member {reader.pk}: membership {membership.pk} (active): "
        "fake has no such subscription; canceled, access ends now"
    ) in out
    assert "0 not repaired, 1 vanished." in out


def test_a_dry_run_reports_a_vanished_subscription_and_changes_nothing(
    fake: FakeProvider,
    reader: Any,
    subscribe: Callable[..., Membership],
    reconcile: Callable[..., tuple[str, str]],
) -> None:
    membership = subscribe(reader)
    sub = vanish(fake, membership)
    events = WebhookEvent.objects.count()

    out, _ = reconcile("--dry-run")

    assert Membership.objects.get().status == "active"
    assert WebhookEvent.objects.count() == events
    assert (
        f"(dry run) vanished: {sub} member {reader.pk}: membership {membership.pk} (active): "
        "fake has no such subscription; would be canceled"
    ) in out
    assert "1 vanished." in out


def test_a_run_stopped_mid_listing_ends_nothing(
    fake: FakeProvider,
    make_user: Callable[..., Any],
    subscribe: Callable[..., Membership],
    reconcile: Callable[..., tuple[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    subscribe(make_user("ann"))
    vanish(fake, subscribe(make_user("bob")))
    subscribe(make_user("cy"))  # so the listing has a second page
    listing = fake.list_subscriptions

    def down_after_one_page(*, after: str | None = None, limit: int = 100) -> Any:
        if after is not None:
            raise ProviderError("fake: the payment service is unreachable", retryable=True)
        return listing(after=after, limit=limit)

    monkeypatch.setattr(fake, "list_subscriptions", down_after_one_page)
    with pytest.raises(CommandError, match="run again with --resume"):
        reconcile("--page-size", "1")

    assert set(Membership.objects.values_list("status", flat=True)) == {"active"}


def test_a_resumed_run_ends_nothing_and_says_why(
    fake: FakeProvider,
    reader: Any,
    subscribe: Callable[..., Membership],
    reconcile: Callable[..., tuple[str, str]],
    state_file: Path,
) -> None:
    vanish(fake, subscribe(reader))
    state_file.write_text('{"provider": "fake", "cursor": null, "seen": 0, "counts": {}}')

    out, _ = reconcile("--resume")

    assert Membership.objects.get().status == "active"
    assert "0 vanished." in out
    assert "Run again without --resume to find subscriptions that vanished." in out


def test_a_subscription_the_listing_missed_but_the_provider_still_has_is_not_ended(
    fake: FakeProvider,
    reader: Any,
    subscribe: Callable[..., Membership],
    reconcile: Callable[..., tuple[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    membership = subscribe(reader)
    sub = membership.provider_subscription_id
    listing = fake.list_subscriptions

    def lagging(*, after: str | None = None, limit: int = 100) -> Any:
        page = listing(after=after, limit=limit)
        kept = [s for s in page.subscriptions if s.snapshot.id != sub]
        return dataclasses.replace(page, subscriptions=kept, total=len(kept))

    monkeypatch.setattr(fake, "list_subscriptions", lagging)

    out, _ = reconcile()

    assert Membership.objects.get().status == "active"
    assert f"unchanged: {sub} member {reader.pk}: not listed, but fake still has it (active)" in (
        out
    )
    assert "0 vanished." in out


def test_a_membership_that_already_ended_is_not_reported_as_vanished(
    fake: FakeProvider,
    reader: Any,
    subscribe: Callable[..., Membership],
    reconcile: Callable[..., tuple[str, str]],
) -> None:
    membership = subscribe(reader)
    webhook = fake.expire(membership.provider_subscription_id or "")
    deliver("fake", webhook.headers, webhook.body)
    vanish(fake, membership)

    out, _ = reconcile()

    assert Membership.objects.get().status == "expired"
    assert "vanished:" not in out
    assert "0 vanished." in out


def test_ending_a_vanished_subscription_fires_the_cancel_hook_once(
    program: Any,
    fake: FakeProvider,
    reader: Any,
    subscribe: Callable[..., Membership],
    reconcile: Callable[..., tuple[str, str]],
) -> None:
    sub = vanish(fake, subscribe(reader))
    recorder = LifecycleRecorder()
    program.pm.register(recorder)

    reconcile()
    reconcile()

    assert recorder.calls == [("membership_canceled", sub)]


def test_a_second_run_after_ending_a_vanished_subscription_finds_nothing_to_do(
    fake: FakeProvider,
    reader: Any,
    subscribe: Callable[..., Membership],
    reconcile: Callable[..., tuple[str, str]],
) -> None:
    vanish(fake, subscribe(reader))
    reconcile()

    out, _ = reconcile()

    assert out == (
        "Reconciled 0 fake subscription(s): 0 created, 0 updated, 0 unchanged, "
        "0 unknown customer, 0 foreign price, 0 not repaired, 0 vanished.\n"
    )


def test_more_vanished_subscriptions_than_allowed_end_none(
    fake: FakeProvider,
    make_user: Callable[..., Any],
    subscribe: Callable[..., Membership],
    reconcile: Callable[..., tuple[str, str]],
) -> None:
    for name in ("ann", "bob"):
        vanish(fake, subscribe(make_user(name)))

    with pytest.raises(CommandError, match="more than --max-vanished 1; none was ended") as error:
        reconcile("--max-vanished", "1")

    assert "run again with --max-vanished 2" in str(error.value)

    assert set(Membership.objects.values_list("status", flat=True)) == {"active"}


def test_asking_about_unlisted_subscriptions_shows_its_own_progress(
    fake: FakeProvider,
    reader: Any,
    subscribe: Callable[..., Membership],
    reconcile: Callable[..., tuple[str, str]],
) -> None:
    vanish(fake, subscribe(reader))

    _, err = reconcile()

    assert "Asking fake about unlisted subscriptions [##############################] 1/1" in err


def test_a_run_interrupted_while_asking_about_unlisted_subscriptions_says_to_run_again(
    fake: FakeProvider,
    reader: Any,
    subscribe: Callable[..., Membership],
    reconcile: Callable[..., tuple[str, str]],
    state_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    vanish(fake, subscribe(reader))

    def interrupted(subscription_id: str) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(fake, "fetch_subscription", interrupted)

    with pytest.raises(CommandError, match=r"Run again \(without --resume\)"):
        reconcile()
    assert Membership.objects.get().status == "active"
    assert not state_file.exists()
