"""The ``manual`` (bank transfer) provider's records, kept in the site's database so they
outlive a restart: :class:`ManualInvoice`, :class:`ManualSubscription`,
:class:`ManualPurchase`, :class:`ManualCustomer` and the yearly invoice counter
:class:`ManualInvoiceCounter`.

They are the provider's side of the bargain (what the reader owes and paid), not the
site's memberships: :mod:`wagtail_paywall.manual_store` hands them to
:class:`~membership_sdk.providers.manual.ManualProvider` through the core's
:class:`~membership_sdk.ports.ManualBillingStore` port. See ``docs/manual.md``.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from membership_sdk.catalog import Interval
from membership_sdk.events import PurchaseState
from membership_sdk.providers.manual import OPEN, PAID, REFUNDED, VOID, Invoice
from membership_sdk.providers.simulated import SimulatedPurchase, SimulatedSubscription

from .fields import member_id_field


class ManualInvoice(models.Model):
    """An invoice a reader pays by bank transfer, quoting its reference."""

    class State(models.TextChoices):
        OPEN = OPEN, _("Open")
        PAID = PAID, _("Paid")
        VOID = VOID, _("Void")
        REFUNDED = REFUNDED, _("Refunded")

    reference = models.CharField(_("reference"), max_length=64, primary_key=True)
    year = models.PositiveIntegerField(_("year"))
    number = models.PositiveIntegerField(_("number"))
    member_id = member_id_field(db_index=True)
    customer_id = models.CharField(_("customer id"), max_length=255)
    price = models.CharField(_("price"), max_length=255)
    interval = models.CharField(_("interval"), max_length=16)
    amount = models.PositiveIntegerField(_("amount"))
    currency = models.CharField(_("currency"), max_length=3)
    issued_at = models.DateTimeField(_("issued at"))
    due_at = models.DateTimeField(_("due at"))
    idempotency_key = models.CharField(_("idempotency key"), max_length=255, blank=True)
    subscription = models.CharField(
        _("subscription"), max_length=255, null=True, blank=True, db_index=True
    )
    purchase = models.CharField(_("purchase"), max_length=255, null=True, blank=True)
    renewal = models.BooleanField(_("renewal"), default=False)
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default=State.OPEN)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    list_amount = models.PositiveIntegerField(_("list amount"), null=True, blank=True)
    coupon = models.CharField(_("coupon"), max_length=64, blank=True)
    discount_periods = models.PositiveIntegerField(_("discount periods"), null=True, blank=True)

    class Meta:
        ordering = ["issued_at", "year", "number"]
        verbose_name = _("bank transfer invoice")
        verbose_name_plural = _("bank transfer invoices")
        constraints = [
            models.UniqueConstraint(
                fields=["year", "number"], name="paywall_manual_invoice_number"
            ),
            models.UniqueConstraint(
                fields=["idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="paywall_manual_invoice_key",
            ),
        ]
        indexes = [models.Index(fields=["state", "due_at"], name="paywall_manual_invoice_due")]

    def __str__(self) -> str:
        return self.reference

    def to_core(self) -> Invoice:
        return Invoice(
            reference=self.reference,
            year=self.year,
            number=self.number,
            member_id=self.member_id,
            customer_id=self.customer_id,
            price=self.price,
            interval=Interval(self.interval),
            amount=self.amount,
            currency=self.currency,
            issued_at=self.issued_at,
            due_at=self.due_at,
            idempotency_key=self.idempotency_key,
            subscription=self.subscription,
            purchase=self.purchase,
            renewal=self.renewal,
            state=self.state,
            paid_at=self.paid_at,
            list_amount=self.list_amount,
            coupon=self.coupon,
            discount_periods=self.discount_periods,
        )

    @classmethod
    def from_core(cls, invoice: Invoice) -> ManualInvoice:
        return cls(
            reference=invoice.reference,
            year=invoice.year,
            number=invoice.number,
            member_id=invoice.member_id,
            customer_id=invoice.customer_id,
            price=invoice.price,
            interval=str(invoice.interval),
            amount=invoice.amount,
            currency=invoice.currency,
            issued_at=invoice.issued_at,
            due_at=invoice.due_at,
            idempotency_key=invoice.idempotency_key,
            subscription=invoice.subscription,
            purchase=invoice.purchase,
            renewal=invoice.renewal,
            state=invoice.state,
            paid_at=invoice.paid_at,
            list_amount=invoice.list_amount,
            coupon=invoice.coupon,
            discount_periods=invoice.discount_periods,
        )


class ManualInvoiceCounter(models.Model):
    """The last invoice number handed out in ``year``; locked while a number is taken."""

    year = models.PositiveIntegerField(_("year"), primary_key=True)
    last = models.PositiveIntegerField(_("last number"), default=0)

    class Meta:
        verbose_name = _("bank transfer invoice counter")
        verbose_name_plural = _("bank transfer invoice counters")

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


class ManualSubscription(models.Model):
    """A subscription paid by bank transfer, as the provider keeps it."""

    id = models.CharField(_("id"), max_length=255, primary_key=True)
    customer_id = models.CharField(_("customer id"), max_length=255)
    member_id = member_id_field(null=True, blank=True, db_index=True)
    price = models.CharField(_("price"), max_length=255)
    interval = models.CharField(_("interval"), max_length=16)
    status = models.CharField(_("status"), max_length=32, db_index=True)
    started_at = models.DateTimeField(_("started at"))
    current_period_end = models.DateTimeField(_("current period end"), null=True, blank=True)
    trial_end = models.DateTimeField(_("trial end"), null=True, blank=True)
    cancel_at_period_end = models.BooleanField(_("cancel at period end"), default=False)
    canceled_at = models.DateTimeField(_("canceled at"), null=True, blank=True)
    version = models.PositiveIntegerField(_("version"), default=1)
    list_amount = models.PositiveIntegerField(_("list amount"), null=True, blank=True)
    amount = models.PositiveIntegerField(_("discounted amount"), null=True, blank=True)
    coupon = models.CharField(_("coupon"), max_length=64, blank=True)
    discount_ends_at = models.DateTimeField(_("discount ends at"), null=True, blank=True)
    # Plan changes and pauses (membership_sdk.providers.manual_lifecycle).
    price_since = models.DateTimeField(_("price since"), null=True, blank=True)
    paused_until = models.DateTimeField(_("paused until"), null=True, blank=True)
    pending_price = models.CharField(_("pending price"), max_length=255, blank=True)
    pending_interval = models.CharField(_("pending interval"), max_length=16, blank=True)
    pending_amount = models.PositiveIntegerField(_("pending amount"), null=True, blank=True)
    pending_invoice = models.CharField(_("pending invoice"), max_length=64, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("bank transfer subscription")
        verbose_name_plural = _("bank transfer subscriptions")

    def __str__(self) -> str:
        return self.id

    def to_core(self) -> SimulatedSubscription:
        return SimulatedSubscription(
            id=self.id,
            customer_id=self.customer_id,
            member_id=self.member_id,
            price=self.price,
            interval=Interval(self.interval),
            status=self.status,
            started_at=self.started_at,
            current_period_end=self.current_period_end,
            trial_end=self.trial_end,
            cancel_at_period_end=self.cancel_at_period_end,
            canceled_at=self.canceled_at,
            version=self.version,
            list_amount=self.list_amount,
            amount=self.amount,
            coupon=self.coupon,
            discount_ends_at=self.discount_ends_at,
            price_since=self.price_since,
            paused_until=self.paused_until,
            pending_price=self.pending_price or None,
            pending_interval=Interval(self.pending_interval) if self.pending_interval else None,
            pending_amount=self.pending_amount,
            pending_invoice=self.pending_invoice or None,
        )

    @classmethod
    def from_core(cls, sub: SimulatedSubscription) -> ManualSubscription:
        return cls(
            id=sub.id,
            customer_id=sub.customer_id,
            member_id=sub.member_id,
            price=sub.price,
            interval=str(sub.interval),
            status=sub.status,
            started_at=sub.started_at,
            current_period_end=sub.current_period_end,
            trial_end=sub.trial_end,
            cancel_at_period_end=sub.cancel_at_period_end,
            canceled_at=sub.canceled_at,
            version=sub.version,
            list_amount=sub.list_amount,
            amount=sub.amount,
            coupon=sub.coupon,
            discount_ends_at=sub.discount_ends_at,
            price_since=sub.price_since,
            paused_until=sub.paused_until,
            pending_price=sub.pending_price or "",
            pending_interval=str(sub.pending_interval or ""),
            pending_amount=sub.pending_amount,
            pending_invoice=sub.pending_invoice or "",
        )


class ManualPurchase(models.Model):
    """A one-off item paid by bank transfer."""

    id = models.CharField(_("id"), max_length=255, primary_key=True)
    customer_id = models.CharField(_("customer id"), max_length=255)
    member_id = member_id_field(null=True, blank=True, db_index=True)
    price = models.CharField(_("price"), max_length=255)
    state = models.CharField(_("state"), max_length=16)
    paid_at = models.DateTimeField(_("paid at"))
    version = models.PositiveIntegerField(_("version"), default=1)

    class Meta:
        verbose_name = _("bank transfer purchase")
        verbose_name_plural = _("bank transfer purchases")

    def __str__(self) -> str:
        return self.id

    def to_core(self) -> SimulatedPurchase:
        return SimulatedPurchase(
            id=self.id,
            customer_id=self.customer_id,
            member_id=self.member_id,
            price=self.price,
            state=PurchaseState(self.state),
            paid_at=self.paid_at,
            version=self.version,
        )

    @classmethod
    def from_core(cls, purchase: SimulatedPurchase) -> ManualPurchase:
        return cls(
            id=purchase.id,
            customer_id=purchase.customer_id,
            member_id=purchase.member_id,
            price=purchase.price,
            state=str(purchase.state),
            paid_at=purchase.paid_at,
            version=purchase.version,
        )


class ManualCustomer(models.Model):
    """The provider's customer id for a member who was invoiced."""

    member_id = member_id_field(primary_key=True)
    customer_id = models.CharField(_("customer id"), max_length=255, unique=True)

    class Meta:
        verbose_name = _("bank transfer customer")
        verbose_name_plural = _("bank transfer customers")

    def __str__(self) -> str:
        return f"{self.member_id}: {self.customer_id}"
