"""Coupons as publishers edit them (:class:`Coupon`, turned into the core's
:class:`~membership_sdk.Coupon`) and how often each was redeemed
(:class:`CouponRedemption`, the rows behind the core's
:class:`~membership_sdk.ports.RedemptionStore`). See ``docs/offers.md``.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from membership_sdk import catalog as core_catalog
from membership_sdk.errors import CatalogError

from .fields import member_id_field


class Coupon(models.Model):
    """A code members enter at checkout for a discount."""

    class Duration(models.TextChoices):
        ONCE = core_catalog.Duration.ONCE.value, _("The first period")
        REPEATING = core_catalog.Duration.REPEATING.value, _("A number of months")
        FOREVER = core_catalog.Duration.FOREVER.value, _("For ever")

    code = models.CharField(
        _("code"),
        max_length=64,
        unique=True,
        help_text=_("What members type, e.g. SPRING25 (any case; no spaces)."),
    )
    name = models.CharField(_("name"), max_length=255, blank=True)
    percent_off = models.PositiveIntegerField(_("percent off"), null=True, blank=True)
    amount_off = models.PositiveIntegerField(
        _("amount off"),
        null=True,
        blank=True,
        help_text=_("In minor units of the currency (cents for EUR)."),
    )
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    duration = models.CharField(
        _("duration"), max_length=16, choices=Duration.choices, default=Duration.ONCE
    )
    months = models.PositiveIntegerField(
        _("months"), null=True, blank=True, help_text=_("For a discount lasting some months.")
    )
    tiers = models.ManyToManyField(
        "wagtail_paywall.Tier",
        verbose_name=_("tiers"),
        blank=True,
        related_name="coupons",
        help_text=_("Only for these tiers (none: any)."),
    )
    prices = models.ManyToManyField(
        "wagtail_paywall.Price",
        verbose_name=_("prices"),
        blank=True,
        related_name="coupons",
        help_text=_("Only for these prices (none: any)."),
    )
    max_redemptions = models.PositiveIntegerField(_("maximum redemptions"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    first_time_only = models.BooleanField(_("first-time members only"), default=False)
    provider_ids = models.JSONField(
        _("provider ids"),
        default=dict,
        blank=True,
        help_text=_('Each provider\'s id for it, e.g. {"stripe": "promo_123"}.'),
    )
    # A personal code (a loyalty reward, see models/loyalty.py): only this member may
    # use it; for anyone else it does not exist.
    member_id = member_id_field(blank=True, default="")

    class Meta:
        ordering = ["code"]
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        constraints = [
            # Members type codes in any case: SPRING and spring are one code.
            models.UniqueConstraint(
                Lower("code"),
                name="paywall_coupon_code_any_case",
                violation_error_message=_("A coupon with this code (in any case) exists."),
            )
        ]

    def __str__(self) -> str:
        return self.code

    def redeemed_count(self) -> int:
        """How many members redeemed it for good (held checkouts not counted)."""
        return CouponRedemption.objects.filter(code=self.code, held_until__isnull=True).count()

    def clean(self) -> None:
        """Refuse what the core would refuse (both or neither of percent and amount off,
        months on a coupon that is not repeating, ...), naming the culprit."""
        try:
            self.to_core([], [])
        except CatalogError as exc:
            raise ValidationError(str(exc)) from exc
        # The catalog folds case as Python does (casefold: "STRASSE" is "straße"), which a
        # database's LOWER() does not; one such pair would stop every catalog load.
        folded = self.code.strip().casefold()
        clash = next(
            (
                other
                for other in Coupon.objects.exclude(pk=self.pk).only("code")
                if other.code.strip().casefold() == folded
            ),
            None,
        )
        if clash is not None:
            raise ValidationError(
                {
                    "code": _("The code %(other)s already exists: codes ignore case.")
                    % {"other": clash.code}
                }
            )

    def to_core(self, tiers: list[str], prices: list[str]) -> core_catalog.Coupon:
        return core_catalog.Coupon(
            code=self.code,
            percent_off=self.percent_off,
            amount_off=self.amount_off,
            currency=self.currency or None,
            duration=core_catalog.Duration(self.duration),
            months=self.months,
            tiers=tuple(tiers),
            prices=tuple(prices),
            max_redemptions=self.max_redemptions,
            expires_at=self.expires_at,
            first_time_only=self.first_time_only,
            provider_ids=dict(self.provider_ids or {}),
            name=self.name,
            member_id=self.member_id,
        )


class CouponRedemption(models.Model):
    """A member's redemption of a code: held by a checkout until ``held_until``, or
    redeemed for good (``held_until`` null) once the subscription started with it."""

    code = models.CharField(_("code"), max_length=64, db_index=True)
    member_id = member_id_field()
    held_until = models.DateTimeField(_("held until"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("coupon redemption")
        verbose_name_plural = _("coupon redemptions")
        constraints = [
            models.UniqueConstraint(
                fields=["code", "member_id"], name="paywall_coupon_redemption_member"
            )
        ]

    def __str__(self) -> str:
        return f"{self.code}: {self.member_id}"
