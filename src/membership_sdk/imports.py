"""Reading members exported from another platform: one row in, one :class:`ImportedMember`
(or the reason it is not one) out.

Four layouts are read (:class:`Platform`): the SDK's own generic CSV (the columns the
Wagtail adapter's export writes), Ghost's members export, Substack's subscriber and
signup exports, and Memberful's members export. Each is described by a
:class:`ColumnMap` in :data:`COLUMN_MAPS`: which headers hold the email, the plan, the
paid-through date and the Stripe ids, and how a row says whether its member pays.

The file is read as a stream of lines (:func:`decode_lines` turns a binary stream into
them, UTF-8 with or without a byte-order mark, or Latin-1/Windows-1252 when asked; a
wrong guess is an :class:`ImportFileError` naming the line). The delimiter (``,``,
``;`` as European Excel writes it, or a tab) is taken from the header line.
:func:`read_members` yields one result per row, never holding the file in memory:

:class:`ImportedMember`
    a member to import: free, paid, comp or gift, with the tier it maps to;
:class:`SkippedRow`
    a row deliberately left out (deleted in Ghost, a Substack deletion request, a blank
    line), with the reason;
:class:`BadRow`
    a row that cannot be imported (a bad email, an unknown plan, a bad date, a negative
    amount), with its line number and the reason, naming the culprit.

No framework is imported: the Wagtail adapter (``wagtail_paywall.imports``) decides
what each member becomes on the site. See ``docs/import-export.md``.
"""

from __future__ import annotations

import codecs
import csv
import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import IO

from .currency import minor_units, normalize_currency
from .errors import CatalogError, MembershipError

__all__ = [
    "COLUMN_MAPS",
    "ENCODINGS",
    "Access",
    "BadRow",
    "ColumnMap",
    "ImportFileError",
    "ImportedMember",
    "Platform",
    "SkippedRow",
    "TierMapping",
    "decode_lines",
    "parse_tier_map",
    "read_members",
]


class ImportFileError(MembershipError):
    """The file as a whole cannot be read: wrong encoding, no email column, no header,
    a malformed tier mapping. Nothing was imported."""


class Platform(StrEnum):
    """Where an export comes from; each has its own :class:`ColumnMap`."""

    CSV = "csv"
    GHOST = "ghost"
    SUBSTACK = "substack"
    MEMBERFUL = "memberful"


class Access(StrEnum):
    """What a member held on the old platform."""

    FREE = "free"
    PAID = "paid"
    COMP = "comp"
    GIFT = "gift"


@dataclass(frozen=True, slots=True)
class ImportedMember:
    """One member read from a row (``line`` of the file, counting the header as 1).

    ``tier`` is one of the site's tier slugs for every access but ``FREE`` (``None``
    then). ``paid_through`` is when their paid (or comp, or gift) access ends, as the old
    platform says; ``None`` when it does not say. A paid member whose ``paid_through`` has
    passed is read as ``FREE`` with a ``note`` saying so. ``amount`` is in minor units.
    """

    line: int
    email: str
    access: Access
    tier: str | None = None
    plan: str = ""
    name: str = ""
    paid_through: datetime | None = None
    started_at: datetime | None = None
    amount: int | None = None
    currency: str = ""
    stripe_customer_id: str = ""
    stripe_subscription_id: str = ""
    note: str = ""

    @property
    def paid(self) -> bool:
        return self.access is not Access.FREE


@dataclass(frozen=True, slots=True)
class SkippedRow:
    """A row left out on purpose, and why."""

    line: int
    email: str
    reason: str


@dataclass(frozen=True, slots=True)
class BadRow:
    """A row that cannot be imported; ``reason`` names the column and value at fault."""

    line: int
    email: str
    reason: str


Row = Callable[[tuple[str, ...]], str]
"""Reads the first non-blank value of a row among the given (normalised) headers."""


@dataclass(frozen=True, slots=True)
class ColumnMap:
    """Where a platform's export keeps each field: normalised header names (lower case,
    runs of anything but letters and digits as one ``_``), the first present one wins.

    ``access`` reads what the member held (or a :class:`SkippedRow` reason as a
    ``str``). ``plan_names_tiers``: whether the plan column names a tier (Substack's
    ``plan`` names a billing interval, so its paid members take the default tier unless
    the mapping names the plan). ``month_first``: dates may be written ``mm/dd/yyyy``.
    """

    platform: Platform
    email: tuple[str, ...]
    access: Callable[[Row], Access | str]
    name: tuple[str, ...] = ()
    plan: tuple[str, ...] = ()
    paid_through: tuple[str, ...] = ()
    started_at: tuple[str, ...] = ()
    amount: tuple[str, ...] = ()
    currency: tuple[str, ...] = ()
    stripe_customer: tuple[str, ...] = ()
    stripe_subscription: tuple[str, ...] = ()
    plan_names_tiers: bool = True
    month_first: bool = False
    documented: tuple[str, ...] = field(default=())
    """The headers the platform's export is known to write (for docs and error text)."""


_TRUE = {"true", "yes", "1", "y"}

# -- the generic CSV (what the Wagtail adapter's export writes) ----------------------------
_PAID_STATUSES = {"paid", "active", "trialing", "past_due", "canceled", "paused"}
_FREE_STATUSES = {"free", "", "expired", "incomplete", "registered"}


def _generic_access(get: Row) -> Access | str:
    source = get(("source",)).lower()
    if source in ("comp", "gift"):
        return Access(source)
    status = get(("status",)).lower().replace(" ", "_")
    if status in ("comp", "gift"):
        return Access(status)
    if status in _FREE_STATUSES:
        return Access.FREE
    if status in _PAID_STATUSES:
        return Access.COMP if source.startswith("import:") else Access.PAID
    raise _Bad(
        f"unknown status {status!r} in 'status' (expected free, paid, comp, gift, or a "
        f"membership status such as active)"
    )


def _ghost_access(get: Row) -> Access | str:
    if get(("deleted_at",)):
        return "deleted in Ghost"
    if get(("complimentary_plan",)).lower() in _TRUE:
        return Access.COMP
    if get(("tiers", "products")) or get(("stripe_customer_id",)):
        return Access.PAID
    return Access.FREE


def _substack_access(get: Row) -> Access | str:
    if get(("email",)).lower().endswith("@deletion-request.substack.com"):
        return "a Substack deletion request"
    kind = get(("type",)).lower()
    if kind:
        if kind not in ("paid", "comp", "gift", "free"):
            raise _Bad(f"unknown type {kind!r} in 'type' (expected paid, comp, gift or free)")
        return Access(kind)
    return Access.PAID if get(("active_subscription",)).lower() in _TRUE else Access.FREE


def _memberful_access(get: Row) -> Access | str:
    status = get(("status", "subscription_status", "active")).lower()
    if status in {"active", "trialing", "past_due", *_TRUE}:
        return Access.PAID
    if not status and get(("plan", "plan_name", "subscription_plan")):
        return Access.PAID
    return Access.FREE


COLUMN_MAPS: dict[Platform, ColumnMap] = {
    Platform.CSV: ColumnMap(
        Platform.CSV,
        email=("email",),
        access=_generic_access,
        name=("name",),
        plan=("tier", "plan"),
        paid_through=("paid_through", "period_end"),
        started_at=("started_at", "started", "created_at"),
        amount=("amount",),
        currency=("currency",),
        stripe_customer=("stripe_customer_id",),
        stripe_subscription=("stripe_subscription_id",),
        documented=(
            "email",
            "name",
            "status",
            "tier",
            "paid_through",
            "started_at",
            "amount",
            "currency",
            "source",
            "stripe_customer_id",
            "stripe_subscription_id",
        ),
    ),
    Platform.GHOST: ColumnMap(
        Platform.GHOST,
        email=("email",),
        access=_ghost_access,
        name=("name",),
        plan=("tiers", "products"),
        started_at=("created_at",),
        stripe_customer=("stripe_customer_id",),
        documented=(
            "id",
            "email",
            "name",
            "note",
            "subscribed_to_emails",
            "complimentary_plan",
            "stripe_customer_id",
            "created_at",
            "deleted_at",
            "labels",
            "tiers",
        ),
    ),
    Platform.SUBSTACK: ColumnMap(
        Platform.SUBSTACK,
        email=("email",),
        access=_substack_access,
        plan=("plan",),
        paid_through=("expiry",),
        started_at=("created_at", "first_payment_at"),
        stripe_customer=("stripe_connected_customer_id",),
        plan_names_tiers=False,
        documented=(
            "email",
            "expiry",
            "email_disabled",
            "stripe_connected_customer_id",
            "type",
        ),
    ),
    Platform.MEMBERFUL: ColumnMap(
        Platform.MEMBERFUL,
        email=("email", "email_address"),
        access=_memberful_access,
        name=("full_name", "name"),
        plan=("plan", "plan_name", "subscription_plan"),
        paid_through=("expiration_date", "expires_at", "renewal_date", "next_renewal_date"),
        started_at=("created_at", "member_since", "signup_date"),
        stripe_customer=("stripe_customer_id",),
        month_first=True,
        documented=(
            "Member ID",
            "Full Name",
            "Email",
            "Plan",
            "Status",
            "Expiration date",
            "Created at",
            "Stripe customer ID",
        ),
    ),
}


class _Bad(Exception):
    """A row's value is wrong; carries the reason for its :class:`BadRow`."""


# -- tiers ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TierMapping:
    """The site's tiers (slug to name) and a mapping from the old platform's plan names to
    tier slugs (matched ignoring case). A plan name not mapped may still name a tier by
    its slug or its name; ``default`` is the tier of paid members with no plan (or, on
    Substack, a plan that names an interval)."""

    tiers: Mapping[str, str]
    mapping: Mapping[str, str] = field(default_factory=dict)
    default: str | None = None

    def __post_init__(self) -> None:
        for name, slug in [*self.mapping.items(), ("(default)", self.default or "")]:
            if slug and slug not in self.tiers:
                raise ImportFileError(
                    f"plan {name!r} is mapped to tier {slug!r}, which is not one of the "
                    f"site's tiers {sorted(self.tiers)}"
                )

    def resolve(self, plan: str, *, plan_names_tier: bool = True) -> str:
        """The tier slug of a paid member on ``plan``; raises :class:`_Bad` naming the
        plan and how to map it."""
        key = plan.strip().casefold()
        for name, slug in self.mapping.items():
            if name.strip().casefold() == key:
                return slug
        if key and plan_names_tier:
            for slug, name in self.tiers.items():
                if key in (slug.casefold(), name.casefold()):
                    return slug
        if self.default and (not key or not plan_names_tier):
            return self.default
        if not key:
            raise _Bad("a paid member with no plan: name the tier for them (the default tier)")
        raise _Bad(
            f"unknown plan {plan!r}: map it to one of the tiers {sorted(self.tiers)}, "
            f"as {plan.strip()}={next(iter(sorted(self.tiers)), 'tier')}"
        )


def parse_tier_map(items: Iterable[str]) -> dict[str, str]:
    """``["Gold=premium", "Silver = basic"]`` (or one item with commas or new lines
    between pairs) as ``{"Gold": "premium", "Silver": "basic"}``.

    :raises ImportFileError: a pair without ``=`` or with an empty side, named.
    """
    mapping: dict[str, str] = {}
    for item in items:
        for pair in re.split(r"[,\n]", item):
            if not pair.strip():
                continue
            name, sep, slug = pair.partition("=")
            if not sep or not name.strip() or not slug.strip():
                raise ImportFileError(
                    f"tier mapping {pair.strip()!r} is not of the form PLAN=TIER, "
                    f"such as 'Gold=premium'"
                )
            mapping[name.strip()] = slug.strip()
    return mapping


# -- decoding -------------------------------------------------------------------------------
#: The encodings a file may be read in; ``utf-8`` also takes a byte-order mark.
ENCODINGS = ("utf-8", "latin-1", "cp1252")


def decode_lines(stream: IO[bytes] | Iterable[bytes], encoding: str = "utf-8") -> Iterator[str]:
    """The lines of a binary stream as text, one at a time (a byte-order mark dropped).

    :raises ImportFileError: ``encoding`` is not one of :data:`ENCODINGS`, or a line is
        not valid in it (the message names the line and suggests Latin-1).
    """
    if encoding not in ENCODINGS:
        raise ImportFileError(f"unknown encoding {encoding!r}; expected one of {ENCODINGS}")
    decoder = codecs.getincrementaldecoder("utf-8-sig" if encoding == "utf-8" else encoding)()
    number = 0
    for number, raw in enumerate(stream, start=1):
        try:
            yield decoder.decode(raw)
        except UnicodeDecodeError as exc:
            raise ImportFileError(
                f"line {number} is not valid {encoding} (byte {raw[exc.start : exc.end]!r}); "
                f"if the file was saved as Latin-1 or Windows-1252 (older Excel), "
                f"choose that encoding"
            ) from None
    try:
        tail = decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise ImportFileError(
            f"line {number} ends in the middle of a {encoding} character"
        ) from None
    if tail:
        yield tail


# -- rows -----------------------------------------------------------------------------------
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
_US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")


def _normalise(header: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", header.strip().lstrip("\ufeff").lower()).strip("_")


def _email(value: str) -> str:
    value = value.strip()
    if not _EMAIL.fullmatch(value) or len(value) > 254:
        raise _Bad(f"bad email {value!r}")
    local, _, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"


def _date(value: str, column: str, *, month_first: bool) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    us = _US_DATE.fullmatch(value) if month_first else None
    try:
        if us is not None:
            parsed = datetime.combine(date(int(us[3]), int(us[1]), int(us[2])), time(), tzinfo=UTC)
        elif _DATE_ONLY.fullmatch(value):
            parsed = datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
        else:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        expected = "mm/dd/yyyy or " if month_first else ""
        raise _Bad(
            f"bad date {value!r} in {column!r} (expected {expected}ISO 8601 such as "
            f"2026-01-31 or 2026-01-31T12:00:00Z)"
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _amount(value: str, currency: str, column: str) -> int | None:
    value = value.strip().replace(" ", "")
    if not value:
        return None
    if "," in value and "." not in value:
        value = value.replace(",", ".")  # 12,50 as European spreadsheets write it
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise _Bad(
            f"bad amount {value!r} in {column!r} (expected a number such as 12.50)"
        ) from None
    if amount < 0:
        raise _Bad(f"negative amount {value!r} in {column!r}")
    digits = minor_units(currency) if currency else 2
    return int((amount * 10**digits).to_integral_value())


def _member(
    columns: ColumnMap, get: Row, line: int, tiers: TierMapping, now: datetime
) -> ImportedMember | SkippedRow:
    email = _email(get(columns.email))
    access = columns.access(get)
    if not isinstance(access, Access):  # a reason to leave the row out
        return SkippedRow(line, email, access)
    currency = get(columns.currency).upper()
    if currency:
        try:
            currency = normalize_currency(currency)
        except CatalogError:
            raise _Bad(f"unknown currency {currency!r} in 'currency'") from None
    amount = _amount(get(columns.amount), currency, "amount") if columns.amount else None
    month_first = columns.month_first
    paid_through = _date(get(columns.paid_through), "paid through", month_first=month_first)
    started_at = _date(get(columns.started_at), "started", month_first=month_first)
    plan = get(columns.plan).split(",")[0].strip()
    tier, note = None, ""
    if access is not Access.FREE:
        tier = tiers.resolve(plan, plan_names_tier=columns.plan_names_tiers)
        if paid_through is not None and paid_through <= now:
            note = f"{access} access ended {paid_through:%Y-%m-%d}: imported as a free member"
            access, tier = Access.FREE, None
    customer = get(columns.stripe_customer)
    subscription = get(columns.stripe_subscription)
    if customer and not customer.startswith("cus_"):
        raise _Bad(f"bad Stripe customer id {customer!r} (expected cus_...)")
    if subscription and not subscription.startswith("sub_"):
        raise _Bad(f"bad Stripe subscription id {subscription!r} (expected sub_...)")
    return ImportedMember(
        line=line,
        email=email,
        access=access,
        tier=tier,
        plan=plan,
        name=get(columns.name),
        paid_through=paid_through,
        started_at=started_at,
        amount=amount,
        currency=currency,
        stripe_customer_id=customer,
        stripe_subscription_id=subscription,
        note=note,
    )


def _delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def read_members(
    lines: Iterable[str],
    platform: Platform | str,
    tiers: TierMapping,
    *,
    now: datetime,
) -> Iterator[ImportedMember | SkippedRow | BadRow]:
    """One result per row of ``lines`` (a header line first), as the rows are read.

    :param platform: whose export the lines are (:class:`Platform` or its value).
    :param tiers: the site's tiers and the plan mapping; paid rows take their tier here.
    :param now: paid access that ended by ``now`` is imported as free.
    :raises ImportFileError: an unknown platform, an empty file, or a header without an
        email column (the message lists the headers found and those expected).
    """
    try:
        columns = COLUMN_MAPS[Platform(platform)]
    except ValueError:
        raise ImportFileError(
            f"unknown format {platform!r}; expected one of {[p.value for p in Platform]}"
        ) from None
    it = iter(lines)
    first = next(it, None)
    if first is None or not first.strip():
        raise ImportFileError("the file is empty: expected a header line first")
    reader = csv.reader(itertools.chain([first.lstrip("\ufeff")], it), delimiter=_delimiter(first))
    header = [_normalise(h) for h in next(reader)]
    index: dict[str, int] = {}
    for position, name in enumerate(header):
        index.setdefault(name, position)
    if not any(name in index for name in columns.email):
        raise ImportFileError(
            f"no email column in the header {header!r}; a {columns.platform} export has "
            f"the columns {list(columns.documented)}"
        )
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue

        def get(names: tuple[str, ...], values: list[str] = values) -> str:
            for name in names:
                position = index.get(name)
                if position is not None and position < len(values) and values[position].strip():
                    return values[position].strip()
            return ""

        try:
            yield _member(columns, get, line, tiers, now)
        except _Bad as exc:
            yield BadRow(line, get(columns.email), str(exc))
