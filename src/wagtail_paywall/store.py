"""``DjangoStore``: the core's storage ports on Django models.

Transactions are Django's ``transaction.atomic()``. On PostgreSQL :meth:`DjangoStore.atomic`
also takes a transaction-scoped advisory lock on the key, so two workers applying events
for one subscription queue up instead of interleaving; SQLite serialises writers anyway.
A metered read is reserved the same way (:meth:`DjangoMeters.reserve`), so parallel
requests of one member never read more than the meter allows.
See ``docs/wagtail.md`` (Storage and migrations).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

from django.db import DEFAULT_DB_ALIAS, connections, router, transaction
from django.db.models.signals import post_save
from django.utils import timezone

from membership_sdk import membership as core
from membership_sdk.events import ApplyResult, Outcome

from . import models


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def _lock_id(key: str) -> int:
    """A stable signed 64-bit number for ``key`` (PostgreSQL advisory locks take a bigint)."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)


class DjangoMemberships:
    def get(self, membership_id: str) -> core.Membership | None:
        row = models.Membership.objects.filter(pk=membership_id).first()
        return row.to_core() if row is not None else None

    def by_provider_id(self, provider: str, subscription_id: str) -> core.Membership | None:
        row = models.Membership.objects.filter(
            provider=provider, provider_subscription_id=subscription_id
        ).first()
        return row.to_core() if row is not None else None

    def for_member(self, member_id: str) -> Sequence[core.Membership]:
        return [m.to_core() for m in models.Membership.objects.filter(member_id=member_id)]

    def live_subscription_ids(self, provider: str) -> set[str]:
        return set(
            models.Membership.objects.filter(provider=provider)
            .exclude(status__in=[str(s) for s in core.TERMINAL])
            .exclude(provider_subscription_id__isnull=True)
            .exclude(provider_subscription_id="")
            .values_list("provider_subscription_id", flat=True)
        )

    def save(self, membership: core.Membership) -> None:
        # One INSERT ... ON CONFLICT (id) DO UPDATE, new or not (update_or_create takes up
        # to six statements with its savepoints).
        fields = models.Membership.fields_from_core(membership)
        row = models.Membership(pk=membership.id, **fields)
        models.Membership.objects.bulk_create(
            [row],
            update_conflicts=True,
            unique_fields=["id"],
            update_fields=[*fields, "updated_at"],
        )
        # What save() would have sent: the cache invalidation listens to it.
        post_save.send(
            sender=models.Membership,
            instance=row,
            created=False,
            update_fields=None,
            raw=False,
            using=router.db_for_write(models.Membership),
        )

    def new_id(self) -> str:
        return _new_id("mem")


class DjangoGrants:
    def for_member(self, member_id: str) -> Sequence[core.Grant]:
        return [g.to_core() for g in models.Grant.objects.filter(member_id=member_id)]

    def get(self, grant_id: str) -> core.Grant | None:
        row = models.Grant.objects.filter(pk=grant_id).first()
        return row.to_core() if row is not None else None

    def by_source(self, source: str) -> core.Grant | None:
        if not source:
            return None
        row = models.Grant.objects.filter(source=source).first()
        return row.to_core() if row is not None else None

    def save(self, grant: core.Grant) -> None:
        models.Grant.objects.update_or_create(
            pk=grant.id, defaults=models.Grant.fields_from_core(grant)
        )

    def new_id(self) -> str:
        return _new_id("grant")


class DjangoCustomers:
    def member_for(self, provider: str, customer_id: str) -> str | None:
        return (
            models.CustomerLink.objects.filter(provider=provider, customer_id=customer_id)
            .values_list("member_id", flat=True)
            .first()
        )

    def customer_for(self, provider: str, member_id: str) -> str | None:
        return (
            models.CustomerLink.objects.filter(provider=provider, member_id=member_id)
            .order_by("-created_at")
            .values_list("customer_id", flat=True)
            .first()
        )

    def link(self, provider: str, customer_id: str, member_id: str) -> None:
        # One INSERT ... ON CONFLICT DO UPDATE (an upsert on the unique provider and id).
        models.CustomerLink.objects.bulk_create(
            [models.CustomerLink(provider=provider, customer_id=customer_id, member_id=member_id)],
            update_conflicts=True,
            unique_fields=["provider", "customer_id"],
            update_fields=["member_id"],
        )


_DONE = (models.WebhookEvent.Status.PROCESSED, models.WebhookEvent.Status.IGNORED)

#: The (provider, event id) of the inbox row being applied in this context, if any.
_applying: ContextVar[tuple[str, str] | None] = ContextVar("paywall_applying", default=None)


@contextmanager
def applying_inbox_row(provider: str, event_id: str) -> Iterator[None]:
    """While the block runs, the caller holds the inbox row of ``event_id`` locked, knows
    it is not done, and records its outcome itself (:func:`wagtail_paywall.billing.inbox.
    process`): :class:`DjangoInbox` then spends no statement on that event."""
    token = _applying.set((provider, event_id))
    try:
        yield
    finally:
        _applying.reset(token)


class DjangoInbox:
    """The core's event inbox on :class:`~wagtail_paywall.models.WebhookEvent`.

    An event is *seen* once it was processed (or ignored); a received or failed row is
    not, so :func:`wagtail_paywall.billing.inbox.process` can apply it (again).
    """

    def seen(self, provider: str, event_id: str) -> bool:
        if _applying.get() == (provider, event_id):
            return False
        return models.WebhookEvent.objects.filter(
            provider=provider, event_id=event_id, status__in=_DONE
        ).exists()

    def record(self, result: ApplyResult) -> None:
        event = result.event
        if _applying.get() == (event.provider, event.id):
            return
        status = (
            models.WebhookEvent.Status.IGNORED
            if result.outcome is Outcome.IGNORED
            else models.WebhookEvent.Status.PROCESSED
        )
        models.WebhookEvent.objects.update_or_create(
            provider=event.provider,
            event_id=event.id,
            defaults={
                "status": status,
                "event_type": event.type.value,
                "detail": result.detail,
                "processed_at": timezone.now(),
                "last_error": "",
            },
        )


class DjangoMeters:
    def usage(self, member_id: str, since: datetime) -> Mapping[str, Mapping[str, datetime]]:
        out: dict[str, dict[str, datetime]] = {}
        rows = (
            models.MeterUsage.objects.filter(member_id=member_id, used_at__gte=since)
            .order_by("used_at")
            .values_list("meter", "resource_key", "used_at")
        )
        for meter, key, when in rows:
            # The latest charge wins: it says which window the resource counts in.
            out.setdefault(meter, {})[key] = when
        return out

    def record(self, member_id: str, meter: str, resource_key: str, when: datetime) -> None:
        day = when.astimezone(UTC).date() if timezone.is_aware(when) else when.date()
        # One INSERT that does nothing when this resource was already counted that day
        # (also when a concurrent request counted it a moment ago).
        models.MeterUsage.objects.bulk_create(
            [
                models.MeterUsage(
                    member_id=member_id,
                    meter=meter,
                    resource_key=resource_key,
                    day=day,
                    used_at=when,
                )
            ],
            ignore_conflicts=True,
        )

    def reserve(
        self,
        member_id: str,
        meter: str,
        resource_key: str,
        limit: int,
        since: datetime,
        when: datetime,
    ) -> int | None:
        """Count a read unless ``limit`` resources are counted since ``since``: atomically.

        One transaction, serialised per member and meter: on PostgreSQL by a
        transaction-scoped advisory lock on ``meter:<meter>:<member>``, on SQLite by the
        database's write lock, taken before the count is read. Parallel first reads of one
        member then queue for a moment and each sees the ones before it; other members
        are not held up (on PostgreSQL). Other databases get the transaction only.
        """
        conn = connections[DEFAULT_DB_ALIAS]
        rows = models.MeterUsage.objects
        with transaction.atomic():
            with conn.cursor() as cursor:
                if conn.vendor == "postgresql":
                    lock = _lock_id(f"meter:{meter}:{member_id}")
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock])
                elif conn.vendor == "sqlite":
                    # A write statement takes SQLite's write lock even when it changes
                    # nothing; held to the end of the transaction, it orders the readers.
                    table = conn.ops.quote_name(models.MeterUsage._meta.db_table)
                    cursor.execute(f"UPDATE {table} SET id = id WHERE 0 = 1")
            counted = set(
                rows.filter(member_id=member_id, meter=meter, used_at__gte=since).values_list(
                    "resource_key", flat=True
                )
            )
            if resource_key in counted:
                return len(counted)
            if len(counted) >= limit:
                return None
            self.record(member_id, meter, resource_key, when)
            return len(counted) + 1


class DjangoStore:
    """A :class:`membership_sdk.ports.Store` on the paywall's Django models."""

    def __init__(self, using: str | None = None) -> None:
        self.using = using
        self.memberships = DjangoMemberships()
        self.grants = DjangoGrants()
        self.customers = DjangoCustomers()
        self.inbox = DjangoInbox()
        self.meters = DjangoMeters()

    @contextmanager
    def atomic(self, key: str) -> Iterator[None]:
        conn = connections[self.using or DEFAULT_DB_ALIAS]
        # Applying an inbox row, the caller's transaction is rolled back whole on any error
        # (see applying_inbox_row): a savepoint of ours would only cost two statements.
        savepoint = _applying.get() is None
        with transaction.atomic(using=self.using, savepoint=savepoint):
            if conn.vendor == "postgresql":
                with conn.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_id(key)])
            yield
