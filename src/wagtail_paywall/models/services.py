"""Service requests (see :mod:`membership_sdk.services`): :class:`ServiceRequest`, and
:class:`DjangoServices`, the core's :class:`~membership_sdk.services.ServiceStore` on it.

A quota is never overrun: :meth:`DjangoServices.reserve` counts the period's requests and
inserts the new one in one transaction serialised per member and service, on PostgreSQL
by a transaction-scoped advisory lock on ``service:<service>:<member>``, on SQLite by the
database's write lock taken before the count is read (as
:meth:`wagtail_paywall.store.DjangoMeters.reserve` does for meters). A request is closed
once: :meth:`DjangoServices.close` is one conditional ``UPDATE ... WHERE status =
'requested'``. See ``docs/services.md``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from secrets import token_hex

from django.db import connections, models, router, transaction
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from membership_sdk import services as core

from .. import conf
from .fields import choices_of, member_id_field


def service_name(key: str) -> str:
    """The name members read for the service ``key``: ``PAYWALL["SERVICES"][key]``, else
    one made from the key (``service.legal-advice``: "Legal advice")."""
    names = conf.get("SERVICES")
    name = names.get(key) if isinstance(names, Mapping) else None
    return str(name) if name else core.service_label(key)


RequestStatus = choices_of(
    core.RequestStatus,
    {
        core.RequestStatus.REQUESTED: _("Requested"),
        core.RequestStatus.REDEEMED: _("Redeemed"),
        core.RequestStatus.CANCELED: _("Canceled"),
        core.RequestStatus.DECLINED: _("Declined"),
    },
    qualname="ServiceRequest.Status",
)


class ServiceRequest(models.Model):
    """A member's request of a service (``service.consultation``), and what became of it."""

    Status = RequestStatus

    id = models.CharField(_("id"), max_length=64, primary_key=True)
    member_id = member_id_field()
    service = models.CharField(_("service"), max_length=100)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.REQUESTED
    )
    requested_at = models.DateTimeField(_("requested at"))
    #: The start of the quota period the request counts in.
    period_start = models.DateTimeField(_("counts in the period from"))
    note = models.TextField(_("member's note"), blank=True)
    staff_note = models.TextField(_("staff note"), blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    #: A staff user's id (redeemed, declined), or the member's (canceled).
    closed_by = models.CharField(_("closed by"), max_length=64, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = _("service request")
        verbose_name_plural = _("service requests")
        indexes = [
            models.Index(
                fields=["member_id", "service", "period_start"],
                name="wagtail_paywall_srv_quota",
            ),
            models.Index(fields=["status", "requested_at"], name="wagtail_paywall_srv_open"),
        ]

    def __str__(self) -> str:
        return f"{self.service} for {self.member_id} ({self.status})"

    def to_core(self) -> core.ServiceRequest:
        return core.ServiceRequest(
            id=self.id,
            member_id=self.member_id,
            service=self.service,
            requested_at=self.requested_at,
            period_start=self.period_start,
            status=core.RequestStatus(self.status),
            note=self.note,
            staff_note=self.staff_note,
            closed_at=self.closed_at,
            closed_by=self.closed_by,
        )


def _lock_id(key: str) -> int:
    """A stable signed 64-bit number for ``key`` (PostgreSQL advisory locks take a bigint)."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)


class DjangoServices:
    """A :class:`membership_sdk.services.ServiceStore` on :class:`ServiceRequest` rows."""

    def reserve(self, request: core.ServiceRequest, limit: int | None) -> int | None:
        alias = router.db_for_write(ServiceRequest)
        conn = connections[alias]
        rows = ServiceRequest.objects.using(alias)
        with transaction.atomic(using=alias):
            with conn.cursor() as cursor:
                if conn.vendor == "postgresql":
                    lock = _lock_id(f"service:{request.service}:{request.member_id}")
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock])
                elif conn.vendor == "sqlite":
                    # A write statement takes SQLite's write lock even when it changes
                    # nothing; held to the end of the transaction, it orders the readers.
                    table = conn.ops.quote_name(ServiceRequest._meta.db_table)
                    cursor.execute(f"UPDATE {table} SET id = id WHERE 0 = 1")
            used = rows.filter(
                member_id=request.member_id,
                service=request.service,
                period_start=request.period_start,
                status__in=[s.value for s in core.COUNTING],
            ).count()
            if limit is not None and used >= limit:
                return None
            rows.create(
                id=request.id,
                member_id=request.member_id,
                service=request.service,
                status=core.RequestStatus.REQUESTED.value,
                requested_at=request.requested_at,
                period_start=request.period_start,
                note=request.note,
            )
            return used + 1

    def close(
        self,
        request_id: str,
        status: core.RequestStatus,
        when: datetime,
        *,
        note: str,
        by: str,
    ) -> core.ServiceRequest:
        changes: dict[str, object] = {"status": status.value, "closed_at": when, "closed_by": by}
        if note:
            changes["staff_note"] = note
        changed = ServiceRequest.objects.filter(
            pk=request_id, status=core.RequestStatus.REQUESTED.value
        ).update(**changes)
        found = self.get(request_id)
        if found is None:
            raise core.unknown_request(request_id)
        if not changed:
            raise core.closed_request(found)
        return found

    def get(self, request_id: str) -> core.ServiceRequest | None:
        row = ServiceRequest.objects.filter(pk=request_id).first() if request_id else None
        return row.to_core() if row is not None else None

    def for_member(self, member_id: str, since: datetime) -> Sequence[core.ServiceRequest]:
        rows = ServiceRequest.objects.filter(member_id=member_id).filter(
            Q(period_start__gte=since) | Q(status=core.RequestStatus.REQUESTED.value)
        )
        return [r.to_core() for r in rows.order_by("-requested_at", "-id")]

    def new_id(self) -> str:
        return f"srv_{token_hex(8)}"
