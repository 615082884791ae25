"""Helpers of the bank-transfer tests (the fixtures are in :mod:`.manual_fixtures`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from membership_sdk.providers.manual import ManualProvider
from wagtail_paywall import program as program_module
from wagtail_paywall.billing import manual as billing
from wagtail_paywall.models import Membership, WebhookEvent
from wagtail_paywall.tasks import deliver

MANUAL_SECRET = "tests-manual-secret"


class Clock:
    """The manual provider's time; a test moves it on (the site's own time is real)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def manual_provider() -> ManualProvider:
    provider = program_module.get_program().providers["manual"]
    assert isinstance(provider, ManualProvider)
    return provider


def restart() -> ManualProvider:
    """What a restarted process has: a new program and a new manual provider, over the
    same database."""
    before = program_module.get_program().providers["manual"]
    program_module.reset_program()
    after = manual_provider()
    assert after is not before
    return after


def receive(reference: str) -> WebhookEvent:
    """Mark the transfer for ``reference`` received and deliver its event, as the admin does."""
    row = billing.mark_received(reference)
    return deliver(row.provider, row.headers, bytes(row.body))


def membership_of(user: Any) -> Membership:
    return Membership.objects.get(member_id=str(user.pk), provider="manual")
