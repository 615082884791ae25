"""Usage-based add-ons (``docs/usage.md``): :class:`UsageRate` (what a unit beyond a tier's
included quota costs, edited in the admin), and the core's
:class:`~membership_sdk.usage.UsageStore` on :class:`UsagePeriod` (one meter's use in one
billing period of a membership: the counter) and :class:`UsageRecord` (each use).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from membership_sdk import usage as core

from .fields import member_id_field

logger = logging.getLogger(__name__)


class UsageRate(models.Model):
    """What a unit of a meter (an entitlement key) costs beyond what a tier includes."""

    meter = models.CharField(
        _("meter"),
        max_length=128,
        unique=True,
        help_text=_(
            "An entitlement key, e.g. 'datasets.download'. A tier includes units with a "
            "line such as 'datasets.download: 10 per month' (without a quota: none)."
        ),
    )
    name = models.CharField(
        _("name"), max_length=255, blank=True, help_text=_("What members read, e.g. 'downloads'.")
    )
    unit_amount = models.PositiveIntegerField(
        _("price per extra unit"), help_text=_("In minor units of the currency (cents for EUR).")
    )
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    max_extra = models.PositiveIntegerField(
        _("most extra units per period"),
        null=True,
        blank=True,
        help_text=_("Use beyond this is refused; leave empty for no limit."),
    )
    provider_ids = models.JSONField(
        _("metered prices"),
        default=dict,
        blank=True,
        help_text=_('Each provider\'s metered price for the add-on, e.g. {"stripe": "price_123"}.'),
    )
    provider_meters = models.JSONField(
        _("provider meters"),
        default=dict,
        blank=True,
        help_text=_('Each provider\'s meter, e.g. {"stripe": "dataset_downloads"} (event name).'),
    )

    class Meta:
        ordering = ["meter"]
        verbose_name = _("usage rate")
        verbose_name_plural = _("usage rates")

    def __str__(self) -> str:
        return self.name or self.meter

    def to_core(self) -> core.UsageRate:
        return core.UsageRate(
            meter=self.meter,
            unit_amount=self.unit_amount,
            currency=self.currency,
            name=self.name,
            max_extra=self.max_extra,
            provider_ids=dict(self.provider_ids or {}),
            provider_meters=dict(self.provider_meters or {}),
        )

    def clean(self) -> None:
        for field in ("provider_ids", "provider_meters"):
            value = getattr(self, field)
            if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, str) and v for k, v in value.items()
            ):
                raise ValidationError(
                    {field: _('Give a mapping of provider names to ids, e.g. {"stripe": "..."}.')}
                )
        try:
            self.to_core()
        except core.CatalogError as exc:
            raise ValidationError(str(exc)) from exc


class UsagePeriod(models.Model):
    """One meter's use in one billing period of a membership: the counter that records
    reserve against, and the state of its bill."""

    membership_id = models.CharField(_("membership"), max_length=64)
    member_id = member_id_field(db_index=True)
    meter = models.CharField(_("meter"), max_length=128)
    period_end = models.DateTimeField(_("period ends"))
    included = models.PositiveBigIntegerField(_("included"))
    used = models.PositiveBigIntegerField(_("used"), default=0)
    unit_amount = models.PositiveIntegerField(_("price per extra unit"))
    currency = models.CharField(_("currency"), max_length=3)
    provider = models.CharField(_("provider"), max_length=64)
    max_extra = models.PositiveIntegerField(_("most extra units"), null=True, blank=True)
    frozen_at = models.DateTimeField(
        _("count frozen at"),
        null=True,
        blank=True,
        help_text=_("When closing froze its count to bill it; it takes no more use since."),
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    invoice = models.CharField(_("invoice"), max_length=64, blank=True)

    class Meta:
        ordering = ["-period_end", "member_id", "meter"]
        verbose_name = _("usage period")
        verbose_name_plural = _("usage periods")
        constraints = [
            models.UniqueConstraint(
                fields=["membership_id", "meter", "period_end"], name="paywall_usage_period"
            )
        ]
        indexes = [models.Index(fields=["closed_at", "period_end"], name="paywall_usage_due")]

    def __str__(self) -> str:
        return f"{self.member_id} {self.meter} {self.period_end:%Y-%m-%d}"

    @property
    def extra(self) -> int:
        return max(0, self.used - self.included)

    @property
    def amount(self) -> int:
        return self.extra * self.unit_amount

    def to_core(self) -> core.UsagePeriod:
        return core.UsagePeriod(
            id=str(self.pk),
            membership_id=self.membership_id,
            member_id=self.member_id,
            meter=self.meter,
            period_end=self.period_end,
            included=self.included,
            used=self.used,
            unit_amount=self.unit_amount,
            currency=self.currency,
            provider=self.provider,
            max_extra=self.max_extra,
            closed_at=self.closed_at,
            invoice=self.invoice,
            frozen_at=self.frozen_at,
        )


class UsageRecord(models.Model):
    """One recorded use; ``extra`` of its units were beyond the included quota."""

    period = models.ForeignKey(
        UsagePeriod, verbose_name=_("period"), on_delete=models.CASCADE, related_name="records"
    )
    member_id = member_id_field()
    meter = models.CharField(_("meter"), max_length=128)
    quantity = models.PositiveBigIntegerField(_("quantity"))
    idempotency_key = models.CharField(_("idempotency key"), max_length=core.MAX_KEY_LENGTH)
    when = models.DateTimeField(_("used at"))
    membership_id = models.CharField(_("membership"), max_length=64)
    period_end = models.DateTimeField(_("period ends"))
    extra = models.PositiveBigIntegerField(_("extra units"), default=0)
    provider = models.CharField(_("provider"), max_length=64)
    unit_amount = models.PositiveIntegerField(_("price per extra unit"))
    currency = models.CharField(_("currency"), max_length=3)
    reported_at = models.DateTimeField(_("reported at"), null=True, blank=True)
    report_error = models.TextField(_("report error"), blank=True)

    class Meta:
        ordering = ["when", "pk"]
        verbose_name = _("usage record")
        verbose_name_plural = _("usage records")
        constraints = [
            models.UniqueConstraint(
                fields=["member_id", "meter", "idempotency_key"], name="paywall_usage_key"
            )
        ]
        indexes = [models.Index(fields=["reported_at", "extra"], name="paywall_usage_unreported")]

    def __str__(self) -> str:
        return f"{self.member_id} {self.meter} x{self.quantity}"

    def to_core(self) -> core.UsageRecord:
        return core.UsageRecord(
            id=str(self.pk),
            member_id=self.member_id,
            meter=self.meter,
            quantity=self.quantity,
            idempotency_key=self.idempotency_key,
            when=self.when,
            membership_id=self.membership_id,
            period_end=self.period_end,
            extra=self.extra,
            provider=self.provider,
            unit_amount=self.unit_amount,
            currency=self.currency,
            reported_at=self.reported_at,
            report_error=self.report_error,
        )


class DjangoUsage:
    """The core's :class:`~membership_sdk.usage.UsageStore` on the models above.

    A record is counted by one conditional ``UPDATE`` of its period's row (``used +
    quantity``, only while that stays within the cap and the count is not frozen), so
    parallel records queue on the row and none is lost or passes the cap, on every
    database. Freezing a period is a conditional ``UPDATE`` of the same row: it waits for
    a record counting in it to commit, and records after it find it frozen.
    """

    def _existing(self, member_id: str, meter: str, key: str) -> UsageRecord | None:
        return UsageRecord.objects.filter(
            member_id=member_id, meter=meter, idempotency_key=key
        ).first()

    def record(
        self, terms: core.UsageTerms, quantity: int, idempotency_key: str, when: datetime
    ) -> tuple[core.UsageRecord, bool]:
        existing = self._existing(terms.member_id, terms.meter, idempotency_key)
        if existing is not None:
            return existing.to_core(), False
        try:
            with transaction.atomic():
                return self._count(terms, quantity, idempotency_key, when).to_core(), True
        except IntegrityError:
            # The same key recorded by a parallel request: its record stands.
            existing = self._existing(terms.member_id, terms.meter, idempotency_key)
            if existing is None:
                raise
            return existing.to_core(), False

    def _count(
        self, terms: core.UsageTerms, quantity: int, key: str, when: datetime
    ) -> UsageRecord:
        period, _created = UsagePeriod.objects.get_or_create(
            membership_id=terms.membership_id,
            meter=terms.meter,
            period_end=terms.period_end,
            defaults={
                "member_id": terms.member_id,
                "included": terms.included,
                "unit_amount": terms.unit_amount,
                "currency": terms.currency,
                "provider": terms.provider,
                "max_extra": terms.max_extra,
            },
        )
        limit = core.MAX_PERIOD_UNITS
        if period.max_extra is not None:
            limit = min(limit, period.included + period.max_extra)
        rows = UsagePeriod.objects.filter(
            pk=period.pk,
            frozen_at__isnull=True,
            closed_at__isnull=True,
            used__lte=limit - quantity,
        )
        if not rows.update(used=F("used") + quantity):
            period.refresh_from_db()
            core.refuse_closed(period.to_core(), when)
            core.refuse_past_cap(period.to_core(), quantity)
            raise core.UsageLimitReached(f"no room for {quantity} unit(s) of {terms.meter!r}")
        # The row is ours until the transaction ends: this is the count with our units.
        period.refresh_from_db(fields=["used"])
        return UsageRecord.objects.create(
            period=period,
            member_id=terms.member_id,
            meter=terms.meter,
            quantity=quantity,
            idempotency_key=key,
            when=when,
            membership_id=terms.membership_id,
            period_end=terms.period_end,
            extra=core.extra_of(period.used - quantity, period.used, period.included),
            provider=terms.provider,
            # The period's terms, those of its first use: what the member was shown.
            unit_amount=period.unit_amount,
            currency=period.currency,
        )

    def open_periods(self, member_id: str) -> Sequence[core.UsagePeriod]:
        rows = UsagePeriod.objects.filter(member_id=member_id, closed_at__isnull=True)
        return [p.to_core() for p in rows]

    def ended_periods(self, now: datetime, limit: int = 500) -> Sequence[core.UsagePeriod]:
        rows = UsagePeriod.objects.filter(closed_at__isnull=True, period_end__lte=now)
        return [p.to_core() for p in rows.order_by("period_end", "pk")[:limit]]

    def freeze_period(self, period_id: str, when: datetime) -> core.UsagePeriod | None:
        # The UPDATE waits for a record counting in the row to commit; the read after
        # it has every record counted before the freeze, and none comes after it.
        open_rows = UsagePeriod.objects.filter(pk=int(period_id), closed_at__isnull=True)
        open_rows.filter(frozen_at__isnull=True).update(frozen_at=when)
        row = open_rows.first()
        return None if row is None else row.to_core()

    def close_period(self, period_id: str, when: datetime, invoice: str = "") -> bool:
        rows = UsagePeriod.objects.filter(pk=int(period_id), closed_at__isnull=True)
        frozen = Coalesce(F("frozen_at"), Value(when, output_field=models.DateTimeField()))
        return rows.update(closed_at=when, invoice=invoice, frozen_at=frozen) == 1

    def unreported(self, providers: Iterable[str], limit: int = 500) -> Sequence[core.UsageRecord]:
        rows = UsageRecord.objects.filter(
            extra__gt=0, reported_at__isnull=True, provider__in=list(providers)
        )
        return [r.to_core() for r in rows.order_by("when", "pk")[:limit]]

    def mark_reported(self, record_id: str, when: datetime) -> None:
        UsageRecord.objects.filter(pk=int(record_id)).update(reported_at=when, report_error="")

    def mark_report_failed(self, record_id: str, error: str) -> None:
        UsageRecord.objects.filter(pk=int(record_id)).update(report_error=error)


def rates() -> list[core.UsageRate]:
    """Every usage rate as the core's value, for the catalog. A row the admin would
    refuse (made in a shell) is left out and logged, so it never stops every page."""
    found = []
    for row in UsageRate.objects.all():
        try:
            found.append(row.to_core())
        except core.CatalogError as exc:
            logger.error("usage rate %r left out of the catalog: %s", row.meter, exc)
    return found
