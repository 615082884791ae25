"""Deliveries (see :mod:`membership_sdk.deliveries`): products, their schedule of
issues, members' shipping addresses (with their history), and each issue's frozen
manifest; :func:`freeze` makes the manifest once the cut-off has passed.

A manifest is made once on every database: :func:`freeze` first claims the issue with
one conditional ``UPDATE`` (``WHERE frozen_at IS NULL``), which PostgreSQL serialises on
the row and SQLite on the database; only the caller that claimed it writes the lines, in
the same transaction, and the ``(issue, member)`` unique constraint backs it up. A frozen
manifest is never recomputed. See ``docs/deliveries.md``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Max, Q
from django.utils.translation import gettext_lazy as _

from membership_sdk import Catalog
from membership_sdk import deliveries as core

from .. import conf
from .fields import choices_of, member_id_field
from .ledger import LedgerEntry
from .members import Grant, Membership

#: Members whose rows are read per batch when a manifest is made.
BATCH = 500


def validate_product_key(value: str) -> None:
    try:
        core.DeliveryProduct(value, "-")
    except core.DeliveryError as exc:
        raise ValidationError(str(exc)) from None


class DeliveryProduct(models.Model):
    """Something shipped to members; a tier includes it by listing its ``key`` among its
    entitlements."""

    key = models.CharField(
        _("entitlement key"),
        max_length=128,
        unique=True,
        validators=[validate_product_key],
        help_text=_(
            "Starts with 'delivery.', e.g. 'delivery.print-edition'. Add the same line to "
            "the entitlements of each tier that includes it."
        ),
    )
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("delivery product")
        verbose_name_plural = _("delivery products")

    def __str__(self) -> str:
        return self.name

    def to_core(self) -> core.DeliveryProduct:
        return core.DeliveryProduct(self.key, self.name)


class DeliveryIssue(models.Model):
    """One shipment of a product: its title, ship day and cut-off; ``frozen_at`` is when
    its manifest was made (after the cut-off), never to change again."""

    product = models.ForeignKey(
        DeliveryProduct,
        verbose_name=_("product"),
        on_delete=models.PROTECT,
        related_name="issues",
    )
    title = models.CharField(_("title"), max_length=200)
    number = models.PositiveIntegerField(_("number"), null=True, blank=True)
    ships_on = models.DateField(_("ships on"))
    cutoff = models.DateTimeField(
        _("cut-off"),
        blank=True,
        help_text=_(
            "Who gets this issue, and where, is decided as things stand at this moment; "
            "changes after it apply to the next issue. Before the ship day; empty: "
            "DELIVERY_CUTOFF_DAYS (7 unless set) days before it."
        ),
    )
    frozen_at = models.DateTimeField(_("manifest made at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["ships_on", "product_id", "pk"]
        verbose_name = _("delivery issue")
        verbose_name_plural = _("delivery issues")
        constraints = [
            models.UniqueConstraint(
                fields=["product", "title"], name="wagtail_paywall_delivery_issue_title"
            )
        ]
        indexes = [models.Index(fields=["ships_on"], name="paywall_delivery_issue_ships")]

    def __str__(self) -> str:
        return f"{self.product}: {self.title}" if self.product_id else self.title

    @property
    def frozen(self) -> bool:
        return self.frozen_at is not None

    def to_core(self) -> core.Issue:
        return core.Issue(
            id=str(self.pk),
            product=self.product.key,
            title=self.title,
            ships_on=self.ships_on,
            cutoff=self.cutoff,
            number=self.number,
        )

    def clean(self) -> None:
        if self.pk is not None and self.frozen_at is not None:
            before = DeliveryIssue.objects.filter(pk=self.pk).values(
                "product_id", "ships_on", "cutoff"
            )
            was = before.first()
            now = {"product_id": self.product_id, "ships_on": self.ships_on, "cutoff": self.cutoff}
            if was is not None and was != now:
                raise ValidationError(
                    _(
                        "This issue's manifest was made on %(date)s; its product, ship day "
                        "and cut-off can no longer change."
                    )
                    % {"date": self.frozen_at.date().isoformat()}
                )
        if self.ships_on and self.cutoff is None:
            self.cutoff = core.default_cutoff(self.ships_on, int(conf.get("DELIVERY_CUTOFF_DAYS")))
        if self.ships_on and self.cutoff and self.product_id:
            try:
                core.Issue("-", self.product.key, self.title or "-", self.ships_on, self.cutoff)
            except core.DeliveryError:
                raise ValidationError(
                    {"cutoff": _("The cut-off must be before the ship day begins.")}
                ) from None


class DeliveryRecipient(models.Model):
    """One member's line in an issue's frozen manifest: what they get, and where. Lines
    of members who do not get the issue (paused, ending, no address) say why."""

    Status = choices_of(
        core.DeliveryStatus,
        {
            core.DeliveryStatus.RECEIVES: _("Receives"),
            core.DeliveryStatus.MISSING_ADDRESS: _("Missing address"),
            core.DeliveryStatus.PAUSED: _("Paused"),
            core.DeliveryStatus.ENDED: _("Membership ends before"),
            core.DeliveryStatus.NOT_ENTITLED: _("Not included"),
        },
        qualname="DeliveryRecipient.Status",
    )

    issue = models.ForeignKey(
        DeliveryIssue,
        verbose_name=_("issue"),
        on_delete=models.CASCADE,
        related_name="recipients",
    )
    member_id = member_id_field()
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    quantity = models.PositiveSmallIntegerField(_("quantity"), default=1)
    name = models.CharField(_("name"), max_length=200, blank=True)
    line1 = models.CharField(_("address line 1"), max_length=200, blank=True)
    line2 = models.CharField(_("address line 2"), max_length=200, blank=True)
    postcode = models.CharField(_("postcode"), max_length=16, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True)

    class Meta:
        ordering = ["issue_id", "member_id"]
        verbose_name = _("delivery recipient")
        verbose_name_plural = _("delivery recipients")
        constraints = [
            models.UniqueConstraint(
                fields=["issue", "member_id"], name="wagtail_paywall_delivery_once_per_issue"
            )
        ]
        indexes = [models.Index(fields=["member_id"], name="paywall_delivery_member")]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.status}"

    @property
    def receives(self) -> bool:
        return self.status == core.DeliveryStatus.RECEIVES


class ShippingAddress(models.Model):
    """A member's shipping address from ``valid_from`` on. A change adds a row, so the
    address valid at any issue's cut-off is known; the latest row is the current one."""

    member_id = member_id_field()
    name = models.CharField(_("name"), max_length=200)
    line1 = models.CharField(_("address line 1"), max_length=200)
    line2 = models.CharField(_("address line 2"), max_length=200, blank=True)
    postcode = models.CharField(_("postcode"), max_length=16, blank=True)
    city = models.CharField(_("city"), max_length=100)
    country = models.CharField(_("country"), max_length=2)
    valid_from = models.DateTimeField(_("valid from"))

    class Meta:
        ordering = ["member_id", "-valid_from", "-pk"]
        verbose_name = _("shipping address")
        verbose_name_plural = _("shipping addresses")
        indexes = [
            models.Index(fields=["member_id", "valid_from"], name="paywall_address_member"),
        ]

    def __str__(self) -> str:
        return f"{self.name}, {self.postcode} {self.city}, {self.country}"

    def to_core(self) -> core.ShippingAddress:
        return core.ShippingAddress(
            name=self.name,
            line1=self.line1,
            line2=self.line2,
            postcode=self.postcode,
            city=self.city,
            country=self.country,
            valid_from=self.valid_from,
        )


# -- reading and writing ------------------------------------------------------------------------
def address_history(member_id: str) -> list[core.ShippingAddress]:
    """Every address ``member_id`` kept, newest first (rows that no longer validate,
    say after a postcode rule tightened, are skipped)."""
    found = []
    for row in ShippingAddress.objects.filter(member_id=member_id):
        try:
            found.append(row.to_core())
        except core.AddressError:
            continue
    return found


def keep_address(member_id: str, address: core.ShippingAddress, now: datetime) -> bool:
    """Keep ``address`` as ``member_id``'s from ``now`` on; ``False`` (nothing written)
    when it is the address they have."""
    with transaction.atomic():
        current = ShippingAddress.objects.select_for_update().filter(member_id=member_id).first()
        if current is not None and address.same_place(current.to_core()):
            return False
        ShippingAddress.objects.create(
            member_id=member_id,
            name=address.name,
            line1=address.line1,
            line2=address.line2,
            postcode=address.postcode,
            city=address.city,
            country=address.country,
            valid_from=now,
        )
    return True


def candidates(catalog: Catalog, key: str, cutoff: datetime | None = None) -> set[str]:
    """Members who may hold ``key``: a membership of a tier including it, or a grant of
    such a tier or of the entitlement (the core decides which really do). With
    ``cutoff``, also members whose membership changed its price after it: they may have
    held such a tier at the cut-off."""
    tiers = core.tiers_including(catalog, key)
    held = Q(tier__in=tiers)
    if cutoff is not None:
        held |= Q(price_since__gt=cutoff)
    members = set(Membership.objects.filter(held).values_list("member_id", flat=True).distinct())
    grants = Grant.objects.filter(Q(tier__in=tiers) | Q(entitlements__contains=key))
    members.update(grants.values_list("member_id", flat=True).distinct())
    return members


def _batches(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]


def tier_history(
    memberships: Iterable[Any], cutoff: datetime
) -> dict[str, list[tuple[datetime, str]]]:
    """The ``(since, tier)`` history up to ``cutoff``, from the membership ledger, of
    those of ``memberships`` (core) that moved to their price after ``cutoff``: which
    tier they held at the cut-off (see :func:`membership_sdk.deliveries.tier_at_cutoff`).
    No query when none moved; one otherwise."""
    moved = [m.id for m in memberships if m.price_since is not None and m.price_since > cutoff]
    history: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    if moved:
        rows = (
            LedgerEntry.objects.filter(membership_id__in=moved, at__lte=cutoff)
            .exclude(tier="")
            .order_by("membership_id", "at", "seq")
            .values_list("membership_id", "at", "tier")
        )
        for membership_id, at, tier in rows:
            history[membership_id].append((at, tier))
    return dict(history)


def member_records(
    member_ids: Iterable[str], cutoff: datetime | None = None
) -> Iterator[core.MemberRecord]:
    """What the core needs of each member, read a batch at a time (four queries per
    batch): memberships, grants, address history, and when current pauses began (from
    the membership ledger). With ``cutoff`` (an issue's, once it has passed), also the
    tier held then by memberships whose price changed after it (one more query for a
    batch that has such memberships)."""
    ordered = sorted(set(member_ids))
    for batch in _batches(ordered):
        memberships: dict[str, list[Any]] = defaultdict(list)
        for m in Membership.objects.filter(member_id__in=batch):
            memberships[m.member_id].append(m.to_core())
        grants: dict[str, list[Any]] = defaultdict(list)
        for g in Grant.objects.filter(member_id__in=batch):
            grants[g.member_id].append(g.to_core())
        addresses: dict[str, list[core.ShippingAddress]] = defaultdict(list)
        for a in ShippingAddress.objects.filter(member_id__in=batch):
            try:
                addresses[a.member_id].append(a.to_core())
            except core.AddressError:
                continue
        paused = [m.id for ms in memberships.values() for m in ms if m.status == "paused"]
        since: dict[str, datetime] = {}
        if paused:
            rows = (
                LedgerEntry.objects.filter(membership_id__in=paused, status_after="paused")
                .exclude(status_before="paused")
                .values("membership_id")
                .annotate(at=Max("at"))
            )
            since = {row["membership_id"]: row["at"] for row in rows}
        tiers: dict[str, list[tuple[datetime, str]]] = {}
        if cutoff is not None:
            tiers = tier_history((m for ms in memberships.values() for m in ms), cutoff)
        for member in batch:
            ids = {m.id for m in memberships[member]}
            yield core.MemberRecord(
                member,
                memberships[member],
                grants[member],
                addresses[member],
                {k: v for k, v in since.items() if k in ids},
                {k: v for k, v in tiers.items() if k in ids},
            )


def freeze(issue: DeliveryIssue, catalog: Catalog, *, grace: timedelta, now: datetime) -> bool:
    """Make ``issue``'s manifest, once: ``True`` when this call made it, ``False`` when
    it was made before (or by a parallel call).

    :raises IssueNotDue: the cut-off has not passed yet; nothing is written.
    """
    if now < issue.cutoff:
        raise core.IssueNotDue(
            f"issue {issue.title!r} is frozen at its cut-off {issue.cutoff.isoformat()}, not before"
        )
    core_issue = issue.to_core()
    with transaction.atomic():
        claimed = DeliveryIssue.objects.filter(pk=issue.pk, frozen_at__isnull=True).update(
            frozen_at=now
        )
        if not claimed:
            issue.refresh_from_db(fields=["frozen_at"])
            return False
        members = candidates(catalog, core_issue.product, core_issue.cutoff)
        records = member_records(members, core_issue.cutoff)
        lines = core.build_manifest(core_issue, catalog, records, grace=grace)
        DeliveryRecipient.objects.bulk_create(
            [_recipient(issue, line) for line in lines], batch_size=BATCH
        )
    issue.frozen_at = now
    return True


def _recipient(issue: DeliveryIssue, line: core.ManifestLine) -> DeliveryRecipient:
    a = line.address
    return DeliveryRecipient(
        issue=issue,
        member_id=line.member_id,
        status=line.status.value,
        quantity=line.quantity,
        name=a.name if a else "",
        line1=a.line1 if a else "",
        line2=a.line2 if a else "",
        postcode=a.postcode if a else "",
        city=a.city if a else "",
        country=a.country if a else "",
    )


def freeze_due(catalog: Catalog, *, grace: timedelta, now: datetime) -> list[DeliveryIssue]:
    """Freeze every issue whose cut-off has passed and that has no manifest yet; the
    issues this call froze."""
    due = DeliveryIssue.objects.filter(frozen_at__isnull=True, cutoff__lte=now)
    made = []
    for issue in due.select_related("product"):
        if freeze(issue, catalog, grace=grace, now=now):
            made.append(issue)
    return made


def counts(issue: DeliveryIssue) -> dict[str, int]:
    """How many manifest lines ``issue`` has per status (every status, zeros too), and
    ``copies``: the copies to ship."""
    found = {status.value: 0 for status in core.DeliveryStatus}
    rows = issue.recipients.values("status").annotate(
        n=models.Count("pk"), q=models.Sum("quantity")
    )
    copies = 0
    for row in rows:
        found[row["status"]] = row["n"]
        if row["status"] == core.DeliveryStatus.RECEIVES:
            copies = row["q"] or 0
    found["copies"] = copies
    return found
