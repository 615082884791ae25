"""Importing members from Ghost, Substack, Memberful or a generic CSV: the Django side.

:func:`import_members` reads a file with :func:`membership_sdk.imports.read_members` and
makes each row true on the site, one row at a time, each in its own savepoint (a row
that fails leaves nothing behind):

- the member is the Django user with the row's email (``get_user_model()``, matched on
  its email field ignoring case), created when missing, with an unusable password (they
  set one with "forgot password"); their member id is the user's primary key;
- a free member is only that: a registered user;
- a paid (or comp, or gift) member with a Stripe subscription id, on a site whose
  ``PAYWALL["PROVIDERS"]`` has ``stripe``, is linked to that subscription: it is fetched
  from Stripe and applied like ``paywall_reconcile`` applies one
  (:func:`membership_sdk.reconcile.reconcile_one`);
- one with only a Stripe customer id has that customer linked to them (the next
  ``paywall_reconcile --provider stripe`` applies their subscriptions), and a comp until
  their paid-through date when the row has one;
- any other gets a comp grant of their tier until their paid-through date
  (``GrantKind.COMP``, source ``import:<platform>``).

Re-running a file changes nothing twice: users are matched by email, comps by member and
source, Stripe subscriptions by id; a comp staff revoked stays revoked (the row is
skipped, saying so). A dry run goes through the same steps and writes
nothing. ``manage.py paywall_import_members`` and the "Import members" admin screen
(:mod:`wagtail_paywall.admin.imports`) are the two ways in. See ``docs/import-export.md``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from membership_sdk.errors import MembershipError, ProviderError
from membership_sdk.imports import (
    Access,
    BadRow,
    ImportedMember,
    ImportFileError,
    Platform,
    SkippedRow,
    TierMapping,
    decode_lines,
    read_members,
)
from membership_sdk.membership import GrantKind
from membership_sdk.program import MembershipProgram
from membership_sdk.providers import ListedSubscription
from membership_sdk.reconcile import CREATED, UNCHANGED, UPDATED, reconcile_one

from . import conf
from .models import Grant
from .program import get_program

SKIPPED, ERROR = "skipped", "error"
#: Every outcome of a row, in the order a report lists them.
OUTCOMES = (CREATED, UPDATED, UNCHANGED, SKIPPED, ERROR)
#: How many rows a report keeps to show (errors first); the counts cover every row.
KEEP_ROWS = 1000
STRIPE = "stripe"

__all__ = [
    "OUTCOMES",
    "ImportFileError",
    "ImportReport",
    "RowResult",
    "import_members",
    "source_for",
]


@dataclass(frozen=True, slots=True)
class RowResult:
    """What importing one row did (or, in a dry run, would do)."""

    line: int
    email: str
    outcome: str
    detail: str = ""


@dataclass(slots=True)
class ImportReport:
    """How a run went: a count per outcome, and the rows worth showing (every error and
    skip, then the changes, up to :data:`KEEP_ROWS`)."""

    platform: str
    dry_run: bool
    counts: Counter[str] = field(default_factory=Counter)
    rows: list[RowResult] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def add(self, result: RowResult) -> None:
        self.counts[result.outcome] += 1
        if result.outcome != UNCHANGED and len(self.rows) < KEEP_ROWS:
            self.rows.append(result)

    def summary(self) -> str:
        counts = ", ".join(f"{self.counts[o]} {o}" for o in OUTCOMES)
        verb = "Would import" if self.dry_run else "Imported"
        return f"{verb} {self.total} row(s) from {self.platform}: {counts}"


class _RowFailed(Exception):
    """Importing a row cannot go on; its savepoint is rolled back."""


def source_for(platform: str) -> str:
    """The source of the comps an import from ``platform`` grants."""
    return f"import:{platform}"


def import_members(
    stream: IO[bytes] | Iterable[bytes],
    platform: str,
    *,
    tier_map: Mapping[str, str] | None = None,
    default_tier: str | None = None,
    default_paid_through: datetime | None = None,
    encoding: str = "utf-8",
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import every row of ``stream`` (a file opened in binary), as the module says.

    :param tier_map: the old platform's plan names to the site's tier slugs.
    :param default_tier: the tier of paid members whose row names no plan.
    :param default_paid_through: the end of paid access of paid members whose row has no
        date (Ghost's export has none), when they are not linked to Stripe.
    :param dry_run: report what would change; write nothing.
    :param progress: called with the number of rows done after each row.
    :raises ImportFileError: the file cannot be read at all (encoding, header, format) or
        the mapping names a tier the site lacks; rows read before a bad line are kept.
    """
    program = get_program()
    tiers = TierMapping(
        {t.slug: t.name for t in program.catalog.tiers}, dict(tier_map or {}), default_tier
    )
    now = timezone.now()
    report = ImportReport(Platform(platform).value, dry_run)
    importer = _Importer(program, report.platform, default_paid_through, dry_run, now)
    rows = read_members(decode_lines(stream, encoding), platform, tiers, now=now)
    for done, row in enumerate(rows, start=1):
        if isinstance(row, BadRow):
            result = RowResult(row.line, row.email, ERROR, row.reason)
        elif isinstance(row, SkippedRow):
            result = RowResult(row.line, row.email, SKIPPED, row.reason)
        else:
            result = importer.run(row)
        report.add(result)
        if progress is not None:
            progress(done)
    report.rows.sort(key=lambda r: (r.outcome != ERROR, r.outcome != SKIPPED, r.line))
    return report


class _Importer:
    """Imports one :class:`ImportedMember` at a time for :func:`import_members`."""

    def __init__(
        self,
        program: MembershipProgram,
        platform: str,
        default_paid_through: datetime | None,
        dry_run: bool,
        now: datetime,
    ) -> None:
        self.program = program
        self.platform = platform
        self.default_paid_through = default_paid_through
        self.dry_run = dry_run
        self.now = now
        self.stripe = STRIPE in conf.providers() and STRIPE in program.providers
        self.user_model: Any = get_user_model()
        self.email_field: str = self.user_model.get_email_field_name()

    def run(self, member: ImportedMember) -> RowResult:
        try:
            with transaction.atomic():
                outcome, changes = self._import(member)
                if self.dry_run:
                    transaction.set_rollback(True)
        except _RowFailed as exc:
            return RowResult(member.line, member.email, ERROR, str(exc))
        except (MembershipError, ValueError, IntegrityError) as exc:
            # A user made meanwhile with the same name, say: this row only, rolled back.
            return RowResult(member.line, member.email, ERROR, f"{type(exc).__name__}: {exc}")
        notes = [*changes, member.note] if member.note else changes
        return RowResult(member.line, member.email, outcome, "; ".join(notes))

    # -- the user -------------------------------------------------------------------------
    def _user(self, member: ImportedMember) -> Any | None:
        manager = self.user_model._default_manager
        found = list(manager.filter(**{f"{self.email_field}__iexact": member.email})[:2])
        if len(found) > 1:
            raise _RowFailed(f"more than one user has the email {member.email!r}")
        return found[0] if found else None

    def _create_user(self, member: ImportedMember) -> Any:
        model = self.user_model
        fields: dict[str, Any] = {self.email_field: member.email}
        username = model.USERNAME_FIELD
        if username != self.email_field:
            length = model._meta.get_field(username).max_length
            if length and len(member.email) > length:
                raise _RowFailed(
                    f"email {member.email!r} is longer than the {length} characters a "
                    f"user name may have"
                )
            if model._default_manager.filter(**{username: member.email}).exists():
                raise _RowFailed(f"a user named {member.email!r} has another email")
            fields[username] = member.email
        names = {f.name for f in model._meta.get_fields()}
        if member.name and {"first_name", "last_name"} <= names:
            first, _, last = member.name.partition(" ")
            fields["first_name"], fields["last_name"] = first[:150], last[:150]
        return model._default_manager.create_user(password=None, **fields)

    # -- one member -----------------------------------------------------------------------
    def _import(self, member: ImportedMember) -> tuple[str, list[str]]:
        changes: list[str] = []
        created = False
        user = self._user(member)
        if user is None:
            created = True
            changes.append("user created")
            if not self.dry_run:
                user = self._create_user(member)
        member_id = str(user.pk) if user is not None else None
        if member.access is Access.FREE:
            return (CREATED if created else UNCHANGED), changes or ["registered member"]
        if member.stripe_subscription_id and self.stripe:
            outcome = self._link_subscription(member, member_id, changes)
        elif member.stripe_customer_id and self.stripe:
            outcome = self._link_customer(member, member_id, changes)
            if member.paid_through is not None:
                outcome = _worst(outcome, self._comp(member, member_id, changes))
        else:
            outcome = self._comp(member, member_id, changes)
        return (CREATED if created else outcome), changes

    def _comp(self, member: ImportedMember, member_id: str | None, changes: list[str]) -> str:
        until = member.paid_through
        if until is None and member.access is not Access.COMP:
            until = self.default_paid_through
            if until is None:
                raise _RowFailed(
                    f"a {member.access} member with no paid-through date: give a default "
                    f"paid-through date, or configure Stripe to link their subscription"
                )
            if until <= self.now:
                raise _RowFailed(f"the default paid-through date {until:%Y-%m-%d} has passed")
        source = source_for(self.platform)
        existing = (
            Grant.objects.filter(
                member_id=member_id,
                kind=GrantKind.COMP,
                source=source,
                revoked_at__isnull=True,
            ).first()
            if member_id is not None
            else None
        )
        ends = f"until {until:%Y-%m-%d}" if until else "with no end"
        revoked = (
            Grant.objects.filter(
                member_id=member_id, kind=GrantKind.COMP, source=source, revoked_at__isnull=False
            )
            .order_by("-revoked_at")
            .first()
            if existing is None and member_id is not None
            else None
        )
        if revoked is not None and revoked.revoked_at is not None:
            # Staff took the imported comp back: an export that still lists the member
            # does not give it back.
            changes.append(
                f"skipped: comp of {revoked.tier} revoked by staff on "
                f"{revoked.revoked_at:%Y-%m-%d}, not granted again"
            )
            return SKIPPED
        if existing is not None:
            if existing.tier == member.tier and existing.ends_at == until:
                return UNCHANGED
            changes.append(f"comp of {member.tier} changed to {ends}")
            if not self.dry_run:
                grant = existing.to_core().replace(tier=member.tier, ends_at=until)
                self.program.store.grants.save(grant)
                self.program.pm.hook.membership_access_changed(member_id=grant.member_id)
                self.program.pm.hook.membership_grant_changed(grant=grant, action="extended")
            return UPDATED
        changes.append(f"comp of {member.tier} {ends}")
        if not self.dry_run:
            assert member_id is not None  # created above unless a dry run
            plan = f" ({member.plan})" if member.plan else ""
            self.program.grant(
                member_id,
                GrantKind.COMP,
                tier=member.tier,
                ends_at=until,
                source=source,
                note=f"{member.access} member at {self.platform}{plan}, imported",
            )
        return CREATED

    def _link_customer(
        self, member: ImportedMember, member_id: str | None, changes: list[str]
    ) -> str:
        customer = member.stripe_customer_id
        customers = self.program.store.customers
        linked = customers.member_for(STRIPE, customer)
        if linked is not None and linked == member_id:
            return UNCHANGED
        if linked is not None:
            raise _RowFailed(f"Stripe customer {customer!r} belongs to another member ({linked})")
        changes.append(
            f"Stripe customer {customer} linked (paywall_reconcile --provider stripe "
            f"applies their subscriptions)"
        )
        if not self.dry_run:
            assert member_id is not None
            customers.link(STRIPE, customer, member_id)
        return CREATED

    def _link_subscription(
        self, member: ImportedMember, member_id: str | None, changes: list[str]
    ) -> str:
        subscription = member.stripe_subscription_id
        try:
            snap = self.program.providers[STRIPE].fetch_subscription(subscription)
        except ProviderError as exc:
            raise _RowFailed(f"Stripe subscription {subscription!r}: {exc}") from exc
        if snap is None:
            raise _RowFailed(f"Stripe has no subscription {subscription!r}")
        if member.stripe_customer_id and snap.customer_id != member.stripe_customer_id:
            raise _RowFailed(
                f"Stripe subscription {subscription!r} belongs to customer "
                f"{snap.customer_id!r}, not {member.stripe_customer_id!r}"
            )
        linked = self.program.store.customers.member_for(STRIPE, snap.customer_id)
        if linked is not None and member_id is not None and linked != member_id:
            raise _RowFailed(
                f"Stripe customer {snap.customer_id!r} belongs to another member ({linked})"
            )
        if member_id is None:  # a dry run for a user not created yet
            changes.append(f"Stripe subscription {subscription} linked ({snap.status})")
            return CREATED
        if linked is None and not self.dry_run:
            self.program.store.customers.link(STRIPE, snap.customer_id, member_id)
        finding = reconcile_one(
            self.program, STRIPE, ListedSubscription(snap, member_id), dry_run=self.dry_run
        )
        if finding.outcome not in (CREATED, UPDATED, UNCHANGED):
            raise _RowFailed(
                f"Stripe subscription {subscription!r}: {finding.outcome}"
                + (f" ({finding.detail})" if finding.detail else "")
            )
        if finding.outcome != UNCHANGED:
            changes.append(f"Stripe subscription {subscription} linked: {finding.detail}")
        return finding.outcome


def _worst(a: str, b: str) -> str:
    """The outcome of a row that did two things: created beats updated beats skipped
    beats unchanged."""
    for outcome in (CREATED, UPDATED, SKIPPED):
        if outcome in (a, b):
            return outcome
    return UNCHANGED
