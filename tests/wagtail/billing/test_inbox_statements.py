"""What applying a webhook costs the database: the statement budget of the inbox's
processing (see docs/performance.md, "Webhook ingest and processing")."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from membership_sdk import hookimpl
from wagtail_paywall.billing import inbox
from wagtail_paywall.models import Membership

# Inside the test's transaction the inbox's BEGIN and COMMIT are a savepoint and its
# release: as many statements. The welcome e-mail is sent once they are committed.
pytestmark = pytest.mark.django_db


@pytest.fixture
def paid_webhook(program: Any, reader: Any) -> Any:
    session = program.start_checkout(
        str(reader.pk),
        "premium-yearly",
        provider="fake",
        success_url="https://example.com/ok",
        cancel_url="https://example.com/no",
    )
    return program.providers["fake"].complete_checkout(session.id)


@pytest.fixture
def process(django_capture_on_commit_callbacks: Any) -> Any:
    """Receive a webhook, then apply it and commit; the statements applying it took."""

    def run(webhook: Any) -> list[str]:
        row = inbox.receive("fake", webhook.headers, webhook.body)
        with (
            CaptureQueriesContext(connection) as ctx,
            django_capture_on_commit_callbacks(execute=True),
        ):
            assert inbox.process(row).status == "processed"
        return [q["sql"] for q in ctx.captured_queries]

    return run


def _reads_memberships_of_member(statements: list[str]) -> bool:
    table = Membership._meta.db_table
    return any(s.startswith("SELECT") and f'"{table}"."member_id" =' in s for s in statements)


def test_a_paid_checkout_is_applied_and_welcomed_in_at_most_seventeen_statements(
    paid_webhook: Any, reader: Any, mailoutbox: Any, process: Any
) -> None:
    statements = process(paid_webhook)
    # BEGIN (a savepoint here), the row locked, the advisory lock (PostgreSQL), the
    # membership and customer look-ups, the erased-customer check of a new customer, the
    # customer link and membership upserts, the member's open attribution, the ledger
    # entry (savepoint, the member's cohort read, insert, release), the row's UPDATE,
    # COMMIT (the savepoint's release), and after it the welcome e-mail's reads of the
    # user and of the site (for its links). See docs/performance.md.
    assert len(statements) <= (17 if connection.vendor == "postgresql" else 16), statements
    assert Membership.objects.get(member_id=str(reader.pk)).tier == "premium"
    assert [m.to for m in mailoutbox] == [[reader.email]]


def test_no_one_listening_for_duplicate_subscriptions_costs_no_read(
    paid_webhook: Any, process: Any
) -> None:
    assert not _reads_memberships_of_member(process(paid_webhook))


class Duplicates:
    def __init__(self) -> None:
        self.calls: list[str] = []

    @hookimpl
    def membership_duplicate_subscription(self, member_id: str, memberships: list[Any]) -> None:
        self.calls.append(member_id)


def test_a_plugin_listening_for_duplicate_subscriptions_gets_the_member_read(
    program: Any, paid_webhook: Any, process: Any
) -> None:
    listener = Duplicates()
    program.pm.register(listener)
    try:
        assert _reads_memberships_of_member(process(paid_webhook))
    finally:
        program.pm.unregister(listener)
    assert listener.calls == []  # one subscription: nothing to report
