"""Gift memberships (see :mod:`membership_sdk.gifts`): :class:`Gift` and the buyer's
:class:`GiftOrder`, and :class:`DjangoGifts`, the core's
:class:`~membership_sdk.ports.GiftStore` on them.

A code redeems once on every database: :meth:`DjangoGifts.redeem` is one conditional
``UPDATE`` (``WHERE redeemed_by = '' AND refunded_at IS NULL``), which PostgreSQL
serialises on the row and SQLite on the database; the one caller that changed the row
wins, every other is told why not. See ``docs/gifts.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from secrets import token_hex

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from membership_sdk import gifts as core

from .fields import member_id_field


class Gift(models.Model):
    """A paid gift of months of a tier, with its redeem code and what became of it."""

    id = models.CharField(_("id"), max_length=64, primary_key=True)
    code = models.CharField(_("code"), max_length=32, unique=True)
    tier = models.CharField(_("tier"), max_length=64)
    months = models.PositiveSmallIntegerField(_("months"))
    buyer_id = member_id_field(db_index=True)
    price_id = models.CharField(_("price"), max_length=64)
    source = models.CharField(_("purchase"), max_length=255, unique=True)
    version = models.BigIntegerField(_("purchase version"), default=0)
    bought_at = models.DateTimeField(_("bought at"))
    recipient_email = models.EmailField(_("recipient's email"), blank=True)
    send_on = models.DateField(_("send on"), null=True, blank=True)
    message = models.TextField(_("message"), blank=True)
    redeemed_by = models.CharField(_("redeemed by"), max_length=64, blank=True, db_index=True)
    redeemed_at = models.DateTimeField(_("redeemed at"), null=True, blank=True)
    refunded_at = models.DateTimeField(_("refunded at"), null=True, blank=True)
    #: When the buyer was emailed the code (the adapter's, not the core's, record).
    buyer_told_at = models.DateTimeField(_("buyer emailed at"), null=True, blank=True)
    #: When the recipient was emailed the code.
    delivered_at = models.DateTimeField(_("recipient emailed at"), null=True, blank=True)
    #: When the holder was told the gift ends soon.
    reminded_at = models.DateTimeField(_("end reminder sent at"), null=True, blank=True)

    class Meta:
        ordering = ["-bought_at", "-id"]
        verbose_name = _("gift")
        verbose_name_plural = _("gifts")

    def __str__(self) -> str:
        return f"{self.tier}, {self.months} months ({self.code})"

    def to_core(self) -> core.Gift:
        return core.Gift(
            id=self.id,
            code=self.code,
            tier=self.tier,
            months=self.months,
            buyer_id=self.buyer_id,
            price_id=self.price_id,
            source=self.source,
            version=self.version,
            bought_at=self.bought_at,
            recipient_email=self.recipient_email,
            send_on=self.send_on,
            message=self.message,
            redeemed_by=self.redeemed_by or None,
            redeemed_at=self.redeemed_at,
            refunded_at=self.refunded_at,
        )


class GiftOrder(models.Model):
    """What a buyer entered for a gift checkout, until its payment makes the gift."""

    buyer_id = member_id_field()
    price_id = models.CharField(_("price"), max_length=64)
    recipient_email = models.EmailField(_("recipient's email"), blank=True)
    send_on = models.DateField(_("send on"), null=True, blank=True)
    message = models.TextField(_("message"), blank=True)
    # The provider's checkout session id, which the paid purchase names.
    checkout_id = models.CharField(_("checkout"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now=True)

    class Meta:
        verbose_name = _("gift order")
        verbose_name_plural = _("gift orders")
        constraints = [
            models.UniqueConstraint(
                fields=["buyer_id", "price_id", "checkout_id"],
                name="wagtail_paywall_gift_order_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.price_id} for {self.recipient_email or '?'}"


class DjangoGifts:
    """A :class:`membership_sdk.ports.GiftStore` on :class:`Gift` and :class:`GiftOrder`."""

    def save_order(self, order: core.GiftOrder) -> None:
        GiftOrder.objects.update_or_create(
            buyer_id=order.buyer_id,
            price_id=order.price_id,
            checkout_id=order.checkout_id,
            defaults={
                "recipient_email": order.recipient_email,
                "send_on": order.send_on,
                "message": order.message,
            },
        )

    def take_order(self, buyer_id: str, price_id: str, checkout_id: str) -> core.GiftOrder | None:
        orders = GiftOrder.objects.select_for_update().filter(buyer_id=buyer_id, price_id=price_id)
        row = orders.filter(checkout_id=checkout_id).first() if checkout_id else None
        if row is None:  # a purchase that names no checkout we know: the latest order
            row = orders.order_by("-created_at", "-id").first()
        if row is None:
            return None
        row.delete()
        return core.GiftOrder(
            buyer_id, price_id, row.recipient_email, row.send_on, row.message, row.checkout_id
        )

    def create(self, gift: core.Gift) -> None:
        Gift.objects.create(
            id=gift.id,
            code=gift.code,
            tier=gift.tier,
            months=gift.months,
            buyer_id=gift.buyer_id,
            price_id=gift.price_id,
            source=gift.source,
            version=gift.version,
            bought_at=gift.bought_at,
            recipient_email=gift.recipient_email,
            send_on=gift.send_on,
            message=gift.message,
            redeemed_by=gift.redeemed_by or "",
            redeemed_at=gift.redeemed_at,
            refunded_at=gift.refunded_at,
        )

    def get(self, gift_id: str) -> core.Gift | None:
        row = Gift.objects.filter(pk=gift_id).first()
        return row.to_core() if row is not None else None

    def by_code(self, code: str) -> core.Gift | None:
        row = Gift.objects.filter(code=code).first() if code else None
        return row.to_core() if row is not None else None

    def by_source(self, source: str) -> core.Gift | None:
        row = Gift.objects.filter(source=source).first() if source else None
        return row.to_core() if row is not None else None

    def bought_by(self, member_id: str) -> Sequence[core.Gift]:
        return [g.to_core() for g in Gift.objects.filter(buyer_id=member_id)]

    def redeemed_by(self, member_id: str) -> Sequence[core.Gift]:
        rows = Gift.objects.filter(redeemed_by=member_id).order_by("-redeemed_at")
        return [g.to_core() for g in rows] if member_id else []

    def redeem(self, code: str, member_id: str, when: datetime) -> core.Gift:
        changed = Gift.objects.filter(
            Q(code=code) & Q(redeemed_by="") & Q(refunded_at__isnull=True)
        ).update(redeemed_by=member_id, redeemed_at=when)
        gift = self.by_code(code)
        if not changed or gift is None:
            raise core.refusal(gift, code)
        return gift

    def mark_refunded(self, gift_id: str, when: datetime, version: int) -> core.Gift:
        row = Gift.objects.select_for_update().get(pk=gift_id)
        row.refunded_at = row.refunded_at or when
        row.version = max(row.version, version)
        row.save(update_fields=["refunded_at", "version"])
        return row.to_core()

    def new_id(self) -> str:
        return f"gift_{token_hex(8)}"
