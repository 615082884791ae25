"""The adapter's migrations: the models need none missing, and ``0005`` moves members'
feed tokens to digests without stopping any address a member holds."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.apps.registry import Apps
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from wagtail_paywall.models import FeedToken

APP = "wagtail_paywall"
BEFORE_DIGESTS = (APP, "0004_feed_tokens")


@pytest.mark.django_db
def test_the_models_need_no_new_migration() -> None:
    call_command("makemigrations", APP, "--check", "--dry-run", verbosity=0)


@pytest.fixture
def migrate_to() -> Iterator[Callable[[tuple[str, str]], Apps]]:
    """Move the app's schema to a migration (its models returned); back to the latest after."""

    def migrate(target: tuple[str, str]) -> Apps:
        executor = MigrationExecutor(connection)
        executor.migrate([target])
        return executor.loader.project_state([target]).apps

    newest = MigrationExecutor(connection).loader.graph.leaf_nodes(APP)
    yield migrate
    MigrationExecutor(connection).migrate(newest)


# The schema changes under the test, so it runs outside a transaction; the rows
# migrations made (Wagtail's root page) are restored for the tests after it.
migration_test = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def to_newest(migrate_to: Callable[[tuple[str, str]], Apps]) -> None:
    migrate_to(MigrationExecutor(connection).loader.graph.leaf_nodes(APP)[0])


@migration_test
def test_a_feed_address_given_before_digests_still_opens_the_feed_after(
    migrate_to: Callable[[tuple[str, str]], Apps], client: Any
) -> None:
    old = migrate_to(BEFORE_DIGESTS).get_model(APP, "FeedToken")
    old.objects.create(member_id="42", token="given-before-digests")
    to_newest(migrate_to)
    response = client.get(reverse("paywall:member_feed_rss", args=["given-before-digests"]))
    assert response.status_code == 200


@migration_test
def test_a_feed_address_revoked_before_digests_stays_revoked(
    migrate_to: Callable[[tuple[str, str]], Apps], client: Any
) -> None:
    old = migrate_to(BEFORE_DIGESTS).get_model(APP, "FeedToken")
    old.objects.create(member_id="42", token="revoked-before", revoked_at="2026-01-01T00:00Z")
    to_newest(migrate_to)
    response = client.get(reverse("paywall:member_feed_rss", args=["revoked-before"]))
    assert response.status_code == 404


@migration_test
def test_the_digest_migration_keeps_no_token_itself(
    migrate_to: Callable[[tuple[str, str]], Apps],
) -> None:
    old = migrate_to(BEFORE_DIGESTS).get_model(APP, "FeedToken")
    old.objects.create(member_id="42", token="given-before-digests")
    to_newest(migrate_to)
    row = FeedToken.objects.values().get()
    assert "given-before-digests" not in str(row)


@migration_test
def test_going_back_before_digests_stops_every_feed_address(
    migrate_to: Callable[[tuple[str, str]], Apps],
) -> None:
    _row, token = FeedToken.issue("42")
    old = migrate_to(BEFORE_DIGESTS).get_model(APP, "FeedToken")
    row = old.objects.get()
    assert row.revoked_at is not None
    assert row.token != token
