"""Loyalty rewards as publishers set them (:class:`LoyaltyReward`, turned into the core's
:class:`~membership_sdk.loyalty.LoyaltyReward`), the rewards members received
(:class:`LoyaltyAward`, the rows behind the core's
:class:`~membership_sdk.loyalty.LoyaltyStore`: :class:`DjangoLoyalty`). The job that
gives them is :func:`wagtail_paywall.billing.loyalty.give_due_rewards`.
See ``docs/loyalty.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import IntegrityError, models, transaction
from django.utils.translation import gettext_lazy as _

from membership_sdk import catalog as core_catalog
from membership_sdk import loyalty as core
from membership_sdk.errors import MembershipError

from .coupons import Coupon
from .fields import member_id_field


class LoyaltyReward(models.Model):
    """What a member gets after paying some months: an entitlement or a personal coupon."""

    class Duration(models.TextChoices):
        ONCE = core_catalog.Duration.ONCE.value, _("The first period")
        REPEATING = core_catalog.Duration.REPEATING.value, _("A number of months")
        FOREVER = core_catalog.Duration.FOREVER.value, _("For ever")

    key = models.SlugField(
        _("key"),
        max_length=64,
        unique=True,
        help_text=_("Names the reward for good (members' awards refer to it), e.g. year-one."),
    )
    name = models.CharField(
        _("name"), max_length=255, help_text=_("What members see, e.g. “A year at a fifth off”.")
    )
    after_months = models.PositiveIntegerField(
        _("after paid months"),
        validators=[MinValueValidator(1)],
        help_text=_("Given once the member has paid this many months (trials not counted)."),
    )
    entitlement = models.CharField(
        _("entitlement"),
        max_length=255,
        blank=True,
        help_text=_("An entitlement to grant, e.g. downloads.archive (or a coupon below)."),
    )
    days = models.PositiveIntegerField(
        _("for days"),
        null=True,
        blank=True,
        help_text=_("How long the entitlement lasts (empty: for good)."),
    )
    coupon_prefix = models.CharField(
        _("coupon code prefix"),
        max_length=32,
        blank=True,
        help_text=_("For a coupon: each member gets PREFIX-XXXXXXXX, for their use only."),
    )
    percent_off = models.PositiveIntegerField(_("percent off"), null=True, blank=True)
    amount_off = models.PositiveIntegerField(
        _("amount off"),
        null=True,
        blank=True,
        help_text=_("In minor units of the currency (cents for EUR)."),
    )
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    duration = models.CharField(
        _("discount lasts"), max_length=16, choices=Duration.choices, default=Duration.ONCE
    )
    months = models.PositiveIntegerField(
        _("discount months"), null=True, blank=True, help_text=_("For a repeating discount.")
    )
    active = models.BooleanField(
        _("active"), default=True, help_text=_("Inactive rewards are no longer given.")
    )

    class Meta:
        ordering = ["after_months", "key"]
        verbose_name = _("loyalty reward")
        verbose_name_plural = _("loyalty rewards")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Refuse what the core would refuse (both or neither of an entitlement and a
        coupon, a bad entitlement, coupon terms that do not add up), naming it."""
        has_coupon = bool(
            self.coupon_prefix or self.percent_off is not None or self.amount_off is not None
        )
        if self.entitlement and has_coupon:
            raise ValidationError(
                _("Give either an entitlement or a coupon, not both."), code="both"
            )
        if not self.entitlement and not has_coupon:
            raise ValidationError(_("Give an entitlement or a coupon."), code="neither")
        if has_coupon and not self.coupon_prefix:
            raise ValidationError(
                {"coupon_prefix": _("A coupon reward needs a code prefix, e.g. LOYAL.")}
            )
        try:
            self.to_core()
        except MembershipError as exc:
            raise ValidationError(str(exc)) from exc

    def to_core(self) -> core.LoyaltyReward:
        coupon = None
        if self.coupon_prefix:
            coupon = core_catalog.Coupon(
                code=self.coupon_prefix.strip().upper(),
                percent_off=self.percent_off,
                amount_off=self.amount_off,
                currency=self.currency or None,
                duration=core_catalog.Duration(self.duration),
                months=self.months,
                name=self.name,
            )
        return core.LoyaltyReward(
            key=self.key,
            name=self.name,
            after_months=self.after_months,
            entitlement=self.entitlement.strip(),
            days=self.days,
            coupon=coupon,
        )


class LoyaltyAward(models.Model):
    """A reward a member received: once per member and reward (a unique pair, so two
    jobs at once give it once)."""

    member_id = member_id_field(db_index=True)
    reward = models.CharField(_("reward"), max_length=64)
    awarded_at = models.DateTimeField(_("awarded at"))
    paid_months = models.PositiveIntegerField(_("paid months then"), default=0)
    grant_id = models.CharField(_("grant"), max_length=64, blank=True)
    coupon_code = models.CharField(_("coupon code"), max_length=64, blank=True)
    ends_at = models.DateTimeField(_("ends at"), null=True, blank=True)

    class Meta:
        ordering = ["awarded_at", "id"]
        verbose_name = _("loyalty award")
        verbose_name_plural = _("loyalty awards")
        constraints = [
            models.UniqueConstraint(
                fields=["member_id", "reward"], name="paywall_loyalty_award_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.reward}: {self.member_id}"

    def to_core(self) -> core.Award:
        return core.Award(
            self.member_id,
            self.reward,
            self.awarded_at,
            self.paid_months,
            grant_id=self.grant_id,
            coupon_code=self.coupon_code,
            ends_at=self.ends_at,
        )


class DjangoLoyalty:
    """:class:`~membership_sdk.loyalty.LoyaltyStore` on the database: a claim is the
    award's unique row, inserted in the caller's transaction (a parallel claim waits for
    it, then fails on the unique pair); a personal coupon is a :class:`Coupon` row for
    one redemption by its member."""

    def claim(self, member_id: str, reward: str, at: datetime, paid_months: int) -> bool:
        try:
            with transaction.atomic():
                LoyaltyAward.objects.create(
                    member_id=member_id, reward=reward, awarded_at=at, paid_months=paid_months
                )
        except IntegrityError:
            return False
        return True

    def complete(self, award: core.Award) -> None:
        LoyaltyAward.objects.filter(member_id=award.member_id, reward=award.reward).update(
            grant_id=award.grant_id, coupon_code=award.coupon_code, ends_at=award.ends_at
        )

    def for_member(self, member_id: str) -> Sequence[core.Award]:
        return [row.to_core() for row in LoyaltyAward.objects.filter(member_id=member_id)]

    def issue_coupon(self, coupon: core_catalog.Coupon) -> None:
        with transaction.atomic():
            Coupon.objects.create(
                code=coupon.code,
                name=coupon.name,
                percent_off=coupon.percent_off,
                amount_off=coupon.amount_off,
                currency=coupon.currency or "",
                duration=coupon.duration.value,
                months=coupon.months,
                max_redemptions=1,
                member_id=coupon.member_id,
            )
