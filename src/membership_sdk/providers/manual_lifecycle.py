"""Plan changes and pauses at the ``manual`` (bank transfer) provider.

A transfer cannot be taken, only asked for, so:

- an **upgrade** issues an invoice for the prorated difference (the preview's
  ``amount_due``); the new plan applies when the operator confirms its payment, from
  that day (a change of interval starts a new period then). Until then the member keeps
  the old plan; an invoice that runs out unpaid leaves it at that. The preview's
  ``effective_at`` is ``None``: "when paid".
- a **downgrade** waits for the period's end: the renewal invoice is issued for the new
  price, and paying it moves the subscription onto it.
- a **pause** voids the open invoices and issues none while it lasts;
  :meth:`~membership_sdk.providers.manual.ManualProvider.run_schedule` ends it at
  ``paused_until``. A period still running then goes on; after one that ended, a renewal
  invoice is issued at once and the new period starts when it is paid.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..catalog import Price
from ..events import EventType, SubscriptionSnapshot
from ..membership import Status
from .base import PlanChangePreview, Webhook
from .simulated import SimulatedSubscription, add_interval
from .simulated_lifecycle import (
    applied,
    check_pausable,
    check_paused,
    cleared,
    moved_discount,
    pending,
    plan_terms,
    prorated_at,
    resumed,
)

if TYPE_CHECKING:
    from ..ports import ManualBillingStore
    from .manual import Invoice


class ManualPlans:
    """The :class:`~membership_sdk.providers.PlanChanges` and
    :class:`~membership_sdk.providers.Pausing` capabilities of the ``manual`` provider."""

    if TYPE_CHECKING:
        name: str
        store: ManualBillingStore

        def now(self) -> datetime: ...
        def _call(self, operation: str) -> None: ...
        def _live(self, subscription_id: str, action: str) -> SimulatedSubscription: ...
        def _change(
            self, sub: SimulatedSubscription, type: EventType, **changes: Any
        ) -> Webhook: ...
        def _new_invoice(
            self, now: datetime, number: int | None = None, **fields: Any
        ) -> Invoice: ...
        def _void_invoices(self, subscription_id: str) -> None: ...
        def _issue_renewal(self, sub: SimulatedSubscription, now: datetime) -> Invoice: ...

    def preview_plan_change(
        self,
        subscription_id: str,
        price: str,
        *,
        proration_date: int | None = None,
        prices: Mapping[str, Price] | None = None,
        usage_prices: Sequence[str] | None = None,
    ) -> PlanChangePreview:
        """What moving to ``price`` costs; an upgrade's ``effective_at`` is ``None``: it
        applies when its invoice is paid."""
        self._call("preview_plan_change")
        with self.store.atomic():
            sub = self._live(subscription_id, "change the plan of")
            at = prorated_at(proration_date, self.now())
            terms, _ = plan_terms(self.name, sub, price, prices, at, self._period_rate(sub))
        if terms.immediate and terms.preview.amount_due > 0:
            return dataclasses.replace(terms.preview, effective_at=None)
        return terms.preview

    def change_plan(
        self,
        subscription_id: str,
        price: str,
        *,
        proration_date: int | None = None,
        idempotency_key: str | None = None,
        prices: Mapping[str, Price] | None = None,
        usage_prices: Sequence[str] | None = None,
    ) -> SubscriptionSnapshot:
        """Ask for the change: an invoice for an upgrade's difference, or a change at the
        period's end. A change asked for before replaces one still waiting (its invoice
        is voided)."""
        self._call("change_plan")
        with self.store.atomic():
            sub = self._live(subscription_id, "change the plan of")
            at = prorated_at(proration_date, self.now())
            terms, new = plan_terms(self.name, sub, price, prices, at, self._period_rate(sub))
            due = terms.preview.amount_due
            self._void_invoices(sub.id)  # what was asked at the old price is not owed
            if terms.immediate and due > 0:
                first = self.store.invoices(subscription=sub.id)[0]
                invoice = self._new_invoice(
                    self.now(),
                    member_id=first.member_id,
                    customer_id=sub.customer_id,
                    price=price,
                    interval=new.interval,
                    amount=due,
                    currency=first.currency,
                    subscription=sub.id,
                    idempotency_key=idempotency_key or "",
                )
                self._change(
                    sub, EventType.SUBSCRIPTION_UPDATED, **pending(price, new, invoice.reference)
                )
            elif terms.immediate:
                self._change(
                    sub,
                    EventType.SUBSCRIPTION_UPDATED,
                    **applied(price, new, self.now(), terms.period_end, sub),
                )
            else:
                self._change(sub, EventType.SUBSCRIPTION_UPDATED, **pending(price, new))
            return sub.snapshot()

    def _period_rate(self, sub: SimulatedSubscription) -> int | None:
        """What the current period was charged: the latest paid renewal invoice (or the
        first one) at the subscription's price; after a plan change paid since, ``None``
        (the new plan's amount after its discount stands for it)."""
        invoices = self.store.invoices(subscription=sub.id)
        paid = [
            (invoice.paid_at or invoice.issued_at, invoice.amount)
            for index, invoice in enumerate(invoices)
            if invoice.state == "paid"
            and invoice.price == sub.price
            and (invoice.renewal or index == 0)
        ]
        if not paid:
            return None
        when, amount = max(paid)
        if sub.price_since is not None and when < sub.price_since:
            return None  # paid for before a plan change
        return amount

    def plan_change_invoice(self, subscription_id: str) -> Invoice | None:
        """The open invoice an upgrade of ``subscription_id`` waits for, if any."""
        sub = self.store.subscription(subscription_id)
        if sub is None or sub.pending_invoice is None:
            return None
        invoice = self.store.invoice(sub.pending_invoice)
        return invoice if invoice is not None and invoice.state == "open" else None

    def _pay_plan_change(
        self, sub: SimulatedSubscription, invoice: Invoice, paid: datetime
    ) -> Webhook:
        """The upgrade's invoice is paid: the new plan applies from ``paid``."""
        interval = sub.pending_interval or sub.interval
        end = sub.current_period_end
        if interval is not sub.interval or end is None or end <= paid:
            end = add_interval(paid, interval)
        invoice.state, invoice.paid_at = "paid", paid
        self.store.save_invoice(invoice)
        changes = {
            "price": sub.pending_price or sub.price,
            "interval": interval,
            "list_amount": sub.pending_amount,
            "price_since": paid,
            "current_period_end": end,
            "status": str(Status.ACTIVE),
            **moved_discount(sub, sub.pending_amount, paid),
            **cleared(),
        }
        return self._change(sub, EventType.PAYMENT_SUCCEEDED, **changes)

    def renew_on_price(
        self,
        subscription_id: str,
        price: str,
        *,
        prices: Mapping[str, Price] | None = None,
        usage_prices: Sequence[str] | None = None,
    ) -> SubscriptionSnapshot:
        """The :class:`~membership_sdk.providers.RenewalPrices` capability: the next
        renewal invoice (an open one is re-priced) is for ``price``, which applies once
        it is paid (see :func:`~membership_sdk.cancellation.renewing_on`)."""
        from ..cancellation import renewing_on

        self._call("renew_on_price")
        with self.store.atomic():
            sub = self._live(subscription_id, "change the renewal of")
            changes = renewing_on(self.name, sub, price, prices)
            self._change(sub, EventType.SUBSCRIPTION_UPDATED, **changes)
            for invoice in self.store.invoices(state="open", subscription=sub.id):
                if invoice.renewal:
                    invoice.price, invoice.interval = price, changes["pending_interval"]
                    invoice.amount = changes["pending_amount"]
                    self.store.save_invoice(invoice)
            return sub.snapshot()

    def pause_subscription(
        self, subscription_id: str, *, resumes_at: datetime
    ) -> SubscriptionSnapshot:
        """Pause until ``resumes_at``: open invoices are voided and none is issued."""
        self._call("pause_subscription")
        with self.store.atomic():
            sub = self._live(subscription_id, "pause")
            check_pausable(self.name, sub)
            self._void_invoices(sub.id)
            extra = cleared() if sub.pending_invoice is not None else {}
            self._change(
                sub,
                EventType.SUBSCRIPTION_UPDATED,
                status=str(Status.PAUSED),
                paused_until=resumes_at,
                **extra,
            )
            return sub.snapshot()

    def unpause_subscription(self, subscription_id: str) -> SubscriptionSnapshot:
        """End the pause now (see the module docstring for what is billed)."""
        self._call("unpause_subscription")
        with self.store.atomic():
            sub = self._live(subscription_id, "resume")
            check_paused(self.name, sub)
            self._end_pause(sub, self.now())
            return sub.snapshot()

    def _end_pause(self, sub: SimulatedSubscription, now: datetime) -> Webhook:
        kind, changes = resumed(sub, now)
        webhook = self._change(sub, EventType.SUBSCRIPTION_UPDATED, **changes)
        if kind is EventType.PAYMENT_SUCCEEDED:
            # The paid period is over: ask for the next one now; it starts when paid.
            self._issue_renewal(sub, now)
        return webhook

    def _resume_if_due(self, sub: SimulatedSubscription, now: datetime) -> Webhook | None:
        """For the schedule: end ``sub``'s pause once ``paused_until`` has come."""
        if sub.paused_until is None or now < sub.paused_until:
            return None
        return self._end_pause(sub, now)
