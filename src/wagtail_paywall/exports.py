"""Every member as CSV: one row per membership and per comp or gift, one row for each
registered user with neither.

The columns (:data:`COLUMNS`) are those the generic import reads back
(``paywall_import_members --format csv``): ``email``, ``status`` (a membership's status;
``active`` or ``ended`` for a grant; ``free`` for a registered user), ``tier``,
``price`` (the catalog price id), ``amount`` (charged per period after discounts, in the
currency's major units), ``currency``, ``interval``, ``period_end``, ``paid_through``,
``source`` (the provider: ``fake``, ``manual``, ``stripe``; or ``comp``, ``gift``,
``import:<platform>``) and ``started_at``.

Rows are produced as users are read, a few hundred at a time, so the admin download
(:mod:`wagtail_paywall.admin.imports`) streams and ``manage.py paywall_export_members``
writes as it goes. A cell a spreadsheet would run as a formula (starting with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return) is written with a leading ``'``.
See ``docs/import-export.md``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from membership_sdk.currency import format_amount
from membership_sdk.errors import CatalogError
from membership_sdk.membership import GrantKind

from .models import Grant, Membership
from .program import get_program

COLUMNS = (
    "email",
    "status",
    "tier",
    "price",
    "amount",
    "currency",
    "interval",
    "period_end",
    "paid_through",
    "source",
    "started_at",
)
#: Users read per batch (and two queries per batch for their memberships and grants).
BATCH = 500
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """``value`` as a CSV cell no spreadsheet runs as a formula."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA) else text


def _when(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def _batches(users: Any) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for user in users.iterator(chunk_size=BATCH):
        batch.append(user)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def member_rows() -> Iterator[tuple[str, ...]]:
    """The rows of :data:`COLUMNS` for every user, in the order of their primary keys
    (values as they are; :func:`csv_lines` makes them safe)."""
    catalog = get_program().catalog
    now = timezone.now()
    model: Any = get_user_model()
    email_field = model.get_email_field_name()
    users = model._default_manager.order_by("pk").only("pk", email_field)
    for batch in _batches(users):
        emails = {str(u.pk): getattr(u, email_field) or "" for u in batch}
        memberships: dict[str, list[Membership]] = {}
        for m in Membership.objects.filter(member_id__in=list(emails)).order_by("started_at"):
            memberships.setdefault(m.member_id, []).append(m)
        grants: dict[str, list[Grant]] = {}
        kinds = [GrantKind.COMP, GrantKind.GIFT]
        for g in Grant.objects.filter(member_id__in=list(emails), kind__in=kinds).order_by(
            "starts_at"
        ):
            grants.setdefault(g.member_id, []).append(g)
        for member_id, email in emails.items():
            own = memberships.get(member_id, [])
            given = grants.get(member_id, [])
            for m in own:
                yield _membership_row(email, m, catalog, now)
            for g in given:
                yield _grant_row(email, g, now)
            if not own and not given:
                yield (email, "free", "", "", "", "", "", "", "", "", "")


def _membership_row(email: str, m: Membership, catalog: Any, now: datetime) -> tuple[str, ...]:
    amount = currency = interval = ""
    if m.price_id:
        try:
            price = catalog.price(m.price_id, include_archived=True)
        except CatalogError:
            price = None
        if price is not None:
            currency, interval = price.currency, str(price.interval)
            amount = format_amount(m.to_core().charged(price.amount, now), price.currency)
    return (
        email,
        m.status,
        m.tier,
        m.price_id,
        amount,
        currency,
        interval,
        _when(m.current_period_end),
        _when(m.paid_through),
        m.provider,
        _when(m.started_at),
    )


def _grant_row(email: str, g: Grant, now: datetime) -> tuple[str, ...]:
    source = g.source if g.source.startswith("import:") else g.kind
    status = "active" if g.to_core().active(now) else "ended"
    return (
        email,
        status,
        g.tier,
        "",
        "",
        "",
        "",
        _when(g.ends_at),
        _when(g.ends_at),
        source,
        _when(g.starts_at),
    )


class _Line:
    """A file-like that hands back what ``csv.writer`` writes to it."""

    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[tuple[str, ...]] | None = None) -> Iterator[str]:
    """The CSV text, line by line: a byte-order mark and the header first (so Excel reads
    it as UTF-8), then every member's row, formula-safe."""
    writer = csv.writer(_Line())
    yield "\ufeff" + writer.writerow(COLUMNS)
    for row in member_rows() if rows is None else rows:
        yield writer.writerow([safe_cell(v) for v in row])
