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
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections, router, transaction
from django.db.models import Model, Q, QuerySet
from django.db.models.signals import post_save
from django.utils import timezone

from membership_sdk import membership as core
from membership_sdk.events import ApplyResult, Outcome

from . import models


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


_M = TypeVar("_M", bound=Model)


class _Compiled(NamedTuple):
    sql: str
    #: For each parameter of ``sql``, the index of the value it takes.
    order: tuple[int, ...]
    #: The selected columns' attribute names, and their converters by column index (what
    #: Django's compiler applies to each row read).
    attnames: list[str]
    converters: dict[int, tuple[list[Any], Any]]


def _compiled(
    name: str, alias: str, build: Callable[..., QuerySet[Any]], values: tuple[Any, ...]
) -> _Compiled | None:
    """The query ``build(*values)`` on ``alias``, compiled on first use (under ``name``)
    and its SQL reused with other values after: compiling a query costs the client more
    CPU than sending it (about 0.2 ms of the 0.4 ms of a ``first()`` on PostgreSQL).

    Kept on the connection (one per thread). ``None`` when the ORM must build this one
    itself: a value is ``None`` (written ``IS NULL``, not as a parameter); before the
    query is compiled, two values are equal (their places in the SQL could not be told
    apart); the ORM converts a value on its way to the database (a UUID on SQLite, say),
    so its SQL takes other parameters than the values.
    """
    if any(v is None for v in values):
        return None
    connection = connections[alias]
    cache: dict[str, _Compiled | None] | None = getattr(connection, "_paywall_compiled", None)
    if cache is None:
        cache = connection._paywall_compiled = {}  # type: ignore[attr-defined]
    if name in cache:
        return cache[name]
    if len(set(values)) < len(values):
        return None
    compiler = build(*values).query.get_compiler(using=alias)
    sql, params = compiler.as_sql()
    order = tuple(values.index(p) if p in values else -1 for p in params)
    if sorted(order) != list(range(len(values))) or any(
        type(p) is not type(values[i]) for p, i in zip(params, order, strict=True)
    ):
        cache[name] = None
        return None
    columns = [s[0] for s in compiler.select]
    found = cache[name] = _Compiled(
        sql,
        order,
        [getattr(getattr(c, "target", None), "attname", "") for c in columns],
        compiler.get_converters(columns),
    )
    return found


def _read_one(alias: str, compiled: _Compiled, values: tuple[Any, ...]) -> list[Any] | None:
    """Run ``compiled`` with ``values``; its first row, converted, or ``None``."""
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute(compiled.sql, [values[i] for i in compiled.order])
        found = cursor.fetchone()
    if found is None:
        return None
    row = list(found)
    for i, (converters, expression) in compiled.converters.items():
        for convert in converters:
            row[i] = convert(row[i], expression, connection)
    return row


def first_row(
    model: type[_M],
    name: str,
    build: Callable[..., QuerySet[_M]],
    *values: Any,
    for_write: bool = False,
) -> _M | None:
    """The first row of ``build(*values)``, a query of whole ``model`` rows (no
    ``select_related``, ``only`` or annotations), through SQL compiled once per connection
    (see :func:`_compiled`). ``for_write``: read from the database the router writes
    ``model`` to (a ``SELECT ... FOR UPDATE``)."""
    alias = (router.db_for_write if for_write else router.db_for_read)(model)
    compiled = _compiled(name, alias, build, values)
    if compiled is None:
        return next(iter(build(*values).using(alias)), None)
    row = _read_one(alias, compiled, values)
    return model.from_db(alias, compiled.attnames, row) if row is not None else None


def first_value(
    model: type[Model], name: str, build: Callable[..., QuerySet[Any]], *values: Any
) -> Any:
    """The first column of the first row of ``build(*values)`` (a ``values_list``), through
    SQL compiled once per connection; ``None`` when there is no row."""
    alias = router.db_for_read(model)
    compiled = _compiled(name, alias, build, values)
    if compiled is None:
        return next(iter(build(*values).using(alias)), None)
    row = _read_one(alias, compiled, values)
    return row[0] if row is not None else None


def _upsert(
    model: type[Model], row: Model, unique_fields: list[str], update_fields: list[str]
) -> None:
    """``INSERT`` ``row``, or on a conflict on ``unique_fields`` ``UPDATE`` its
    ``update_fields``: one statement, what ``bulk_create(update_conflicts=True)`` sends,
    its SQL built once per connection on PostgreSQL and SQLite."""
    alias = router.db_for_write(model)
    connection = connections[alias]
    opts = model._meta
    columns = [f for f in opts.concrete_fields if f is not opts.auto_field]
    if connection.vendor not in ("postgresql", "sqlite"):
        model._default_manager.using(alias).bulk_create(
            [row], update_conflicts=True, unique_fields=unique_fields, update_fields=update_fields
        )
        return
    cache: dict[str, str] | None = getattr(connection, "_paywall_upserts", None)
    if cache is None:
        cache = connection._paywall_upserts = {}  # type: ignore[attr-defined]
    key = f"{opts.label}:{','.join(unique_fields)}:{','.join(update_fields)}"
    sql = cache.get(key)
    if sql is None:
        quote = connection.ops.quote_name
        column = {f.name: f.column for f in opts.concrete_fields}
        sql = cache[key] = (
            f"INSERT INTO {quote(opts.db_table)} ({', '.join(quote(f.column) for f in columns)}) "
            f"VALUES ({', '.join(['%s'] * len(columns))}) "
            f"ON CONFLICT ({', '.join(quote(column[n]) for n in unique_fields)}) DO UPDATE SET "
            + ", ".join(f"{quote(column[n])} = EXCLUDED.{quote(column[n])}" for n in update_fields)
        )
    params = [f.get_db_prep_save(f.pre_save(row, True), connection) for f in columns]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _lock_id(key: str) -> int:
    """A stable signed 64-bit number for ``key`` (PostgreSQL advisory locks take a bigint)."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)


class DjangoMemberships:
    def get(self, membership_id: str) -> core.Membership | None:
        row = models.Membership.objects.filter(pk=membership_id).first()
        return row.to_core() if row is not None else None

    def by_provider_id(self, provider: str, subscription_id: str) -> core.Membership | None:
        row = first_row(
            models.Membership,
            "membership_by_provider_id",
            lambda p, s: models.Membership.objects.filter(provider=p, provider_subscription_id=s)[
                :1
            ],
            provider,
            subscription_id,
        )
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
        _upsert(models.Membership, row, ["id"], [*fields, "updated_at"])
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
        member: str | None = first_value(
            models.CustomerLink,
            "member_for_customer",
            lambda p, c: (
                models.CustomerLink.objects.filter(provider=p, customer_id=c)
                .order_by()
                .values_list("member_id", flat=True)[:1]
            ),
            provider,
            customer_id,
        )
        return member

    def customer_for(self, provider: str, member_id: str) -> str | None:
        return (
            models.CustomerLink.objects.filter(provider=provider, member_id=member_id)
            .order_by("-created_at")
            .values_list("customer_id", flat=True)
            .first()
        )

    def link(self, provider: str, customer_id: str, member_id: str) -> None:
        # One INSERT ... ON CONFLICT DO UPDATE (an upsert on the unique provider and id).
        _upsert(
            models.CustomerLink,
            models.CustomerLink(provider=provider, customer_id=customer_id, member_id=member_id),
            ["provider", "customer_id"],
            ["member_id"],
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
        self.gifts = models.DjangoGifts()
        self.services = models.DjangoServices()  # service requests (docs/services.md)
        # Erased members' customers: their later webhooks are ignored (docs/privacy.md).
        self.erasures = models.DjangoErasures()

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


class DjangoRedemptions:
    """The core's :class:`~membership_sdk.ports.RedemptionStore` on
    :class:`~wagtail_paywall.models.CouponRedemption` rows.

    :meth:`reserve` is one transaction serialised per code: on PostgreSQL by a
    transaction-scoped advisory lock on ``coupon:<code>``, on SQLite by the database's
    write lock taken before the count is read; so parallel checkouts never both see room
    for the last redemption.
    """

    def reserve(
        self, code: str, member_id: str, limit: int | None, now: datetime, hold_until: datetime
    ) -> bool:
        conn = connections[DEFAULT_DB_ALIAS]
        rows = models.CouponRedemption.objects
        with transaction.atomic():
            with conn.cursor() as cursor:
                if conn.vendor == "postgresql":
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_id(f"coupon:{code}")])
                elif conn.vendor == "sqlite":
                    table = conn.ops.quote_name(models.CouponRedemption._meta.db_table)
                    cursor.execute(f"UPDATE {table} SET id = id WHERE 0 = 1")
            mine = rows.filter(code=code, member_id=member_id).first()
            if mine is not None:
                if mine.held_until is not None and mine.held_until < hold_until:
                    mine.held_until = hold_until
                    mine.save(update_fields=["held_until"])
                return True
            if limit is not None and self.count(code, now) >= limit:
                return False
            rows.create(code=code, member_id=member_id, held_until=hold_until)
            return True

    def release(self, code: str, member_id: str) -> None:
        models.CouponRedemption.objects.filter(
            code=code, member_id=member_id, held_until__isnull=False
        ).delete()

    def confirm(self, code: str, member_id: str, when: datetime) -> None:
        models.CouponRedemption.objects.update_or_create(
            code=code, member_id=member_id, defaults={"held_until": None}
        )

    def redeemed(self, code: str, member_id: str) -> bool:
        return models.CouponRedemption.objects.filter(
            code=code, member_id=member_id, held_until__isnull=True
        ).exists()

    def count(self, code: str, now: datetime) -> int:
        return (
            models.CouponRedemption.objects.filter(code=code)
            .filter(Q(held_until__isnull=True) | Q(held_until__gt=now))
            .count()
        )
