"""``DjangoManualBilling``: the ``manual`` (bank transfer) provider's records in the
site's database, through the core's :class:`~membership_sdk.ports.ManualBillingStore`.

:mod:`wagtail_paywall.program` hands one to the provider when the site configures it, so
invoices, subscriptions and invoice numbers outlive a restart and every process of the
site sees the same ones. Invoice numbers come from one counter row per year, taken with
``SELECT ... FOR UPDATE``: concurrent invoices queue up for it, and a rolled-back one
gives its number back. See ``docs/manual.md``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from django.db import transaction

from membership_sdk.membership import TERMINAL
from membership_sdk.providers.manual import Invoice
from membership_sdk.providers.simulated import SimulatedPurchase, SimulatedSubscription

from .models import (
    ManualCustomer,
    ManualInvoice,
    ManualInvoiceCounter,
    ManualPurchase,
    ManualSubscription,
)


class DjangoManualBilling:
    """The manual provider's :class:`~membership_sdk.ports.ManualBillingStore` on the
    :mod:`wagtail_paywall.models.manual` models (the default database)."""

    @contextmanager
    def atomic(self) -> Iterator[None]:
        with transaction.atomic():
            yield

    def next_invoice_number(self, year: int) -> int:
        with transaction.atomic():
            ManualInvoiceCounter.objects.get_or_create(year=year)
            counter = ManualInvoiceCounter.objects.select_for_update().get(year=year)
            counter.last += 1
            counter.save(update_fields=["last"])
            return counter.last

    def customer_for(self, member_id: str) -> str | None:
        row = ManualCustomer.objects.filter(member_id=member_id).first()
        return row.customer_id if row is not None else None

    def link_customer(self, member_id: str, customer_id: str) -> None:
        ManualCustomer.objects.update_or_create(
            member_id=member_id, defaults={"customer_id": customer_id}
        )

    def invoice(self, reference: str, *, lock: bool = False) -> Invoice | None:
        rows = ManualInvoice.objects.filter(reference=reference)
        if lock:
            rows = rows.select_for_update()
        row = rows.first()
        return row.to_core() if row is not None else None

    def invoice_for_key(self, idempotency_key: str) -> Invoice | None:
        if not idempotency_key:
            return None
        row = ManualInvoice.objects.filter(idempotency_key=idempotency_key).first()
        return row.to_core() if row is not None else None

    def invoices(
        self, *, state: str | None = None, subscription: str | None = None
    ) -> Sequence[Invoice]:
        rows = ManualInvoice.objects.order_by("issued_at", "year", "number")
        if state is not None:
            rows = rows.filter(state=state)
        if subscription is not None:
            rows = rows.filter(subscription=subscription)
        return [row.to_core() for row in rows]

    def save_invoice(self, invoice: Invoice) -> None:
        ManualInvoice.from_core(invoice).save()

    def subscription(
        self, subscription_id: str, *, lock: bool = False
    ) -> SimulatedSubscription | None:
        rows = ManualSubscription.objects.filter(pk=subscription_id)
        if lock:
            rows = rows.select_for_update()
        row = rows.first()
        return row.to_core() if row is not None else None

    def subscriptions(
        self, *, after: str | None = None, limit: int = 100
    ) -> Sequence[SimulatedSubscription]:
        rows = ManualSubscription.objects.order_by("id")
        if after is not None:
            rows = rows.filter(id__gt=after)
        return [row.to_core() for row in rows[:limit]]

    def live_subscriptions(self) -> Sequence[SimulatedSubscription]:
        rows = ManualSubscription.objects.exclude(status__in=[str(s) for s in TERMINAL])
        return [row.to_core() for row in rows.order_by("id")]

    def count_subscriptions(self) -> int:
        return ManualSubscription.objects.count()

    def save_subscription(self, subscription: SimulatedSubscription) -> None:
        ManualSubscription.from_core(subscription).save()

    def purchase(self, purchase_id: str) -> SimulatedPurchase | None:
        row = ManualPurchase.objects.filter(pk=purchase_id).first()
        return row.to_core() if row is not None else None

    def save_purchase(self, purchase: SimulatedPurchase) -> None:
        ManualPurchase.from_core(purchase).save()
