"""Members' access as stored: :class:`Membership`, :class:`Grant`, :class:`CustomerLink` and
:class:`MeterUsage`, the rows behind the core's storage ports (see :mod:`wagtail_paywall.store`).

See ``docs/concepts.md`` for memberships, grants and meters.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from membership_sdk import membership as core
from membership_sdk.entitlements import Entitlement

from .fields import choices_of, lines, member_id_field


class Membership(models.Model):
    """A member's subscription as last reported by its provider (core ``Membership``)."""

    Status = choices_of(
        core.Status,
        {
            core.Status.INCOMPLETE: _("Incomplete"),
            core.Status.TRIALING: _("Trialing"),
            core.Status.ACTIVE: _("Active"),
            core.Status.PAST_DUE: _("Past due"),
            core.Status.PAUSED: _("Paused"),
            core.Status.CANCELED: _("Canceled"),
            core.Status.EXPIRED: _("Expired"),
            core.Status.UNKNOWN: _("Unknown"),
        },
        qualname="Membership.Status",
    )

    id = models.CharField(_("id"), max_length=64, primary_key=True)
    member_id = member_id_field(db_index=True)
    tier = models.CharField(_("tier"), max_length=64)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    provider = models.CharField(_("provider"), max_length=64)
    price_id = models.CharField(_("price id"), max_length=64, blank=True)
    provider_subscription_id = models.CharField(
        _("provider subscription id"), max_length=255, null=True, blank=True
    )
    provider_customer_id = models.CharField(_("provider customer id"), max_length=255, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    current_period_end = models.DateTimeField(_("current period end"), null=True, blank=True)
    # The end of the last paid period: a past-due membership's access ends there (+ grace).
    paid_through = models.DateTimeField(_("paid through"), null=True, blank=True)
    trial_end = models.DateTimeField(_("trial end"), null=True, blank=True)
    cancel_at_period_end = models.BooleanField(_("cancel at period end"), default=False)
    canceled_at = models.DateTimeField(_("canceled at"), null=True, blank=True)
    cancel_reason = models.TextField(_("cancel reason"), blank=True)
    # When it moved to its current price, as the provider records it (drip after upgrades).
    price_since = models.DateTimeField(_("on this price since"), null=True, blank=True)
    paused_until = models.DateTimeField(_("paused until"), null=True, blank=True)
    pause_reason = models.TextField(_("pause reason"), blank=True)
    # What each period is charged after discounts; NULL: the price's list amount.
    amount = models.BigIntegerField(_("amount charged"), null=True, blank=True)
    coupon = models.CharField(_("coupon"), max_length=64, blank=True)
    discount_ends_at = models.DateTimeField(_("discount ends at"), null=True, blank=True)
    # The provider snapshot's version and event id: an older snapshot never overwrites it.
    version_number = models.BigIntegerField(default=0)
    version_event = models.CharField(max_length=255, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_subscription_id"],
                name="paywall_membership_unique_subscription",
            )
        ]
        # The Members screen's segments: newest first, by tier, status, price or cohort.
        indexes = [
            models.Index(fields=["started_at"], name="paywall_membership_started"),
            models.Index(fields=["tier", "started_at"], name="paywall_membership_tier"),
            models.Index(fields=["status", "started_at"], name="paywall_membership_status"),
            models.Index(fields=["price_id", "started_at"], name="paywall_membership_price"),
        ]

    def __str__(self) -> str:
        return f"{self.tier} ({self.status})"

    def to_core(self) -> core.Membership:
        return core.Membership(
            id=self.id,
            member_id=self.member_id,
            tier=self.tier,
            status=core.Status.parse(self.status),
            provider=self.provider,
            price_id=self.price_id or None,
            provider_subscription_id=self.provider_subscription_id,
            provider_customer_id=self.provider_customer_id or None,
            started_at=self.started_at,
            current_period_end=self.current_period_end,
            paid_through=self.paid_through,
            trial_end=self.trial_end,
            cancel_at_period_end=self.cancel_at_period_end,
            canceled_at=self.canceled_at,
            cancel_reason=self.cancel_reason,
            version=(self.version_number, self.version_event),
            price_since=self.price_since,
            paused_until=self.paused_until,
            pause_reason=self.pause_reason,
            amount=self.amount,
            coupon=self.coupon,
            discount_ends_at=self.discount_ends_at,
        )

    @classmethod
    def fields_from_core(cls, m: core.Membership) -> dict[str, Any]:
        return {
            "member_id": m.member_id,
            "tier": m.tier,
            "status": m.status.value,
            "provider": m.provider,
            "price_id": m.price_id or "",
            "provider_subscription_id": m.provider_subscription_id,
            "provider_customer_id": m.provider_customer_id or "",
            "started_at": m.started_at,
            "current_period_end": m.current_period_end,
            "paid_through": m.paid_through,
            "trial_end": m.trial_end,
            "cancel_at_period_end": m.cancel_at_period_end,
            "canceled_at": m.canceled_at,
            "cancel_reason": m.cancel_reason,
            "price_since": m.price_since,
            "paused_until": m.paused_until,
            "pause_reason": m.pause_reason,
            "amount": m.amount,
            "coupon": m.coupon,
            "discount_ends_at": m.discount_ends_at,
            "version_number": m.version[0],
            "version_event": m.version[1],
        }


class Grant(models.Model):
    """Access a member holds for a while: comp, gift, trial, purchase or team seat."""

    Kind = choices_of(
        core.GrantKind,
        {
            core.GrantKind.MEMBERSHIP: _("Membership"),
            core.GrantKind.TRIAL: _("Trial"),
            core.GrantKind.COMP: _("Comp"),
            core.GrantKind.GIFT: _("Gift"),
            core.GrantKind.PURCHASE: _("Purchase"),
            core.GrantKind.TEAM_SEAT: _("Team seat"),
        },
        qualname="Grant.Kind",
    )

    id = models.CharField(_("id"), max_length=64, primary_key=True)
    member_id = member_id_field(db_index=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"), null=True, blank=True)
    tier = models.CharField(_("tier"), max_length=64, blank=True)
    entitlements = models.TextField(_("entitlements"), blank=True)
    item = models.CharField(_("item"), max_length=255, blank=True)
    source = models.CharField(_("source"), max_length=255, blank=True, db_index=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-starts_at"]
        verbose_name = _("grant")
        verbose_name_plural = _("grants")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.tier or self.item}".strip()

    def to_core(self) -> core.Grant:
        return core.Grant(
            id=self.id,
            member_id=self.member_id,
            kind=core.GrantKind(self.kind),
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            tier=self.tier or None,
            entitlements=tuple(Entitlement.parse(e) for e in lines(self.entitlements)),
            item=self.item or None,
            source=self.source,
            revoked_at=self.revoked_at,
            note=self.note,
        )

    @classmethod
    def fields_from_core(cls, g: core.Grant) -> dict[str, Any]:
        return {
            "member_id": g.member_id,
            "kind": g.kind.value,
            "starts_at": g.starts_at,
            "ends_at": g.ends_at,
            "tier": g.tier or "",
            "entitlements": "\n".join(str(e) for e in g.entitlements),
            "item": g.item or "",
            "source": g.source,
            "revoked_at": g.revoked_at,
            "note": g.note,
        }


class CustomerLink(models.Model):
    """Which member a provider's customer is."""

    provider = models.CharField(_("provider"), max_length=64)
    customer_id = models.CharField(_("customer id"), max_length=255)
    member_id = member_id_field()
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("customer link")
        verbose_name_plural = _("customer links")
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "customer_id"], name="paywall_customer_unique"
            )
        ]
        indexes = [models.Index(fields=["provider", "member_id"], name="paywall_customer_member")]

    def __str__(self) -> str:
        return f"{self.provider}:{self.customer_id}"


class MeterUsage(models.Model):
    """One metered or quota-counted use of a resource by a member.

    A resource counts once per member, meter and day (``day`` is the unique bucket), so
    re-reading an article never uses up the meter; windows of any length are evaluated
    by the core from ``used_at``.
    """

    member_id = member_id_field()
    meter = models.CharField(_("meter"), max_length=128)
    resource_key = models.CharField(_("resource"), max_length=255)
    day = models.DateField(_("day"))
    used_at = models.DateTimeField(_("used at"))

    class Meta:
        verbose_name = _("meter usage")
        verbose_name_plural = _("meter usage")
        constraints = [
            models.UniqueConstraint(
                fields=["member_id", "meter", "resource_key", "day"],
                name="paywall_meter_once_per_day",
            )
        ]
        indexes = [models.Index(fields=["member_id", "used_at"], name="paywall_meter_member")]

    def __str__(self) -> str:
        return f"{self.meter}: {self.resource_key}"
