"""SQLite's "database is locked", wherever it strikes while a webhook is applied, leaves the
row retryable, never lost; and SQLite configured as docs/deployment.md says waits instead
of failing.

Each test copies the test database's schema to a file (SQLite's locks are per file), points
a thread's connection at it, and holds a lock from a second, plain ``sqlite3`` connection:
a write lock (another request writing), or a read transaction (which makes ``COMMIT`` wait).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.db import OperationalError, connection, connections
from django.utils import timezone

from wagtail_paywall.billing import inbox
from wagtail_paywall.models import Membership, Price, Tier, WebhookEvent
from wagtail_paywall.program import get_program, reset_program

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's file locks"),
]
T = TypeVar("T")
#: What docs/deployment.md asks of a site on SQLite (and the demo sets).
RECOMMENDED = {
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
}
#: Django's defaults but a short busy timeout, so a lock makes a statement fail fast.
IMPATIENT = {"timeout": 0.1}


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """A file holding a copy of the (migrated, empty) test database."""
    path = tmp_path / "site.sqlite3"
    connection.ensure_connection()
    target = sqlite3.connect(path)
    connection.connection.backup(target)
    target.close()
    return path


def on_file(path: Path, options: dict[str, Any], work: Callable[[], T]) -> T:
    """Run ``work`` in a thread whose Django connection is to ``path`` with ``options``."""

    from django.db.backends.sqlite3.base import DatabaseWrapper

    base = connections["default"].settings_dict

    def run() -> T:
        wrapper = DatabaseWrapper({**base, "NAME": str(path), "OPTIONS": options}, "default")
        connections["default"] = wrapper
        try:
            return work()
        finally:
            wrapper.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result(timeout=60)


def seed() -> WebhookEvent:
    """A catalog, a member and her stored (received) payment webhook, in this thread's
    database."""
    from django.contrib.auth import get_user_model

    premium = Tier.objects.create(slug="premium", name="Premium", rank=2)
    Price.objects.create(
        key="premium-yearly",
        tier=premium,
        amount=12000,
        currency="EUR",
        interval=Price.Interval.YEAR,
        provider_ids={"fake": "fake_price_premium_yearly"},
    )
    member = get_user_model().objects.create_user("payer")
    reset_program()
    program = get_program()
    session = program.start_checkout(
        str(member.pk), "premium-yearly", provider="fake", success_url="/", cancel_url="/"
    )
    hook = program.providers["fake"].complete_checkout(session.id)
    return inbox.receive("fake", hook.headers, hook.body)


class Lock:
    """Another connection holding a lock on ``path`` until :meth:`release` (or ``after``
    seconds): ``"write"`` is ``BEGIN IMMEDIATE`` (another writer), ``"read"`` an open
    read transaction (which keeps a ``COMMIT`` from finishing in rollback-journal mode)."""

    def __init__(self, path: Path, kind: str, after: float | None = None) -> None:
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        if kind == "write":
            self.db.execute("BEGIN IMMEDIATE")
        else:
            self.db.execute("BEGIN")
            self.db.execute("SELECT count(*) FROM wagtail_paywall_webhookevent").fetchone()
        self.timer = threading.Timer(after, self.release) if after is not None else None
        if self.timer is not None:
            self.timer.start()

    def release(self) -> None:
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.release()
        self.db.close()


def test_a_write_lock_while_applying_leaves_the_row_failed_and_counted(database: Path) -> None:
    def scenario() -> tuple[WebhookEvent, WebhookEvent]:
        row = seed()
        lock = Lock(database, "write", after=0.5)  # another request writing for 0.5 s
        try:
            failed = inbox.process(row)
        finally:
            lock.close()
        return failed, inbox.process(failed)

    failed, retried = on_file(database, IMPATIENT, scenario)

    assert (failed.status, failed.attempts) == ("failed", 1)
    assert "database is locked" in failed.last_error
    assert failed.next_attempt_at is not None
    assert (retried.status, retried.attempts) == ("processed", 2)
    assert on_file(database, IMPATIENT, lambda: Membership.objects.count()) == 1


def test_a_lock_at_commit_leaves_the_row_failed_and_counted(database: Path) -> None:
    def scenario() -> WebhookEvent:
        row = seed()
        lock = Lock(database, "read", after=0.5)  # a reader keeps COMMIT waiting
        try:
            return inbox.process(row)
        finally:
            lock.close()

    failed = on_file(database, IMPATIENT, scenario)

    assert (failed.status, failed.attempts) == ("failed", 1)
    assert "database is locked" in failed.last_error
    assert on_file(database, IMPATIENT, lambda: Membership.objects.count()) == 0


def test_a_lock_that_outlasts_every_try_leaves_the_row_due_for_the_sweep(database: Path) -> None:
    def scenario() -> tuple[str, int]:
        row = seed()
        lock = Lock(database, "write")
        try:
            with pytest.raises(OperationalError, match="database is locked"):
                inbox.process(row)
        finally:
            lock.close()
        stored = WebhookEvent.objects.get(pk=row.pk)
        assert (stored.status, stored.attempts) == ("received", 0)  # not lost: still due
        swept = inbox.sweep(now=timezone.now() + inbox.ORPHAN_AFTER + timedelta(seconds=1))
        return WebhookEvent.objects.get(pk=row.pk).status, swept

    assert on_file(database, IMPATIENT, scenario) == ("processed", 1)


def test_the_recommended_settings_wait_for_a_writer_instead_of_failing(database: Path) -> None:
    def scenario() -> WebhookEvent:
        row = seed()
        lock = Lock(database, "write", after=0.5)
        try:
            return inbox.process(row)
        finally:
            lock.close()

    row = on_file(database, RECOMMENDED, scenario)

    assert (row.status, row.attempts) == ("processed", 1)


def test_the_recommended_settings_apply_webhooks_from_many_threads_at_once(
    database: Path,
) -> None:
    rows = on_file(database, RECOMMENDED, lambda: [seed()])
    # More members paying at the same moment, on threads of their own, as on a busy demo.
    from django.contrib.auth import get_user_model

    def pay(n: int) -> str:
        def work() -> str:
            program = get_program()
            member = get_user_model().objects.create_user(f"payer{n}")
            session = program.start_checkout(
                str(member.pk), "premium-yearly", provider="fake", success_url="/", cancel_url="/"
            )
            hook = program.providers["fake"].complete_checkout(session.id)
            return str(inbox.process(inbox.receive("fake", hook.headers, hook.body)).status)

        return on_file(database, RECOMMENDED, work)

    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(pay, range(12)))
    statuses.append(on_file(database, RECOMMENDED, lambda: str(inbox.process(rows[0]).status)))

    assert statuses == ["processed"] * 13
    assert on_file(database, RECOMMENDED, lambda: Membership.objects.count()) == 13
