"""``DjangoStore``: the core's storage ports on Django models.

Transactions are Django's ``transaction.atomic()``. On PostgreSQL :meth:`DjangoStore.atomic`
also takes a transaction-scoped advisory lock on the key, so two workers applying events
for one subscription queue up instead of interleaving; SQLite serialises writers anyway.
See ``docs/wagtail.md`` (Storage and migrations).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from django.db import DEFAULT_DB_ALIAS, connections, transaction
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
        models.Membership.objects.update_or_create(
            pk=membership.id, defaults=models.Membership.fields_from_core(membership)
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
        models.CustomerLink.objects.update_or_create(
            provider=provider, customer_id=customer_id, defaults={"member_id": member_id}
        )


_DONE = (models.WebhookEvent.Status.PROCESSED, models.WebhookEvent.Status.IGNORED)


class DjangoInbox:
    """The core's event inbox on :class:`~wagtail_paywall.models.WebhookEvent`.

    An event is *seen* once it was processed (or ignored); a received or failed row is
    not, so :func:`wagtail_paywall.billing.inbox.process` can apply it (again).
    """

    def seen(self, provider: str, event_id: str) -> bool:
        return models.WebhookEvent.objects.filter(
            provider=provider, event_id=event_id, status__in=_DONE
        ).exists()

    def record(self, result: ApplyResult) -> None:
        event = result.event
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
        with transaction.atomic(using=self.using):
            if conn.vendor == "postgresql":
                with conn.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_id(key)])
            yield
