"""The ``manual`` payment provider: bank transfer against an invoice.

Common with European publishers: the reader gets an invoice reference and bank details,
transfers the money, and an operator who sees it arrive confirms the payment. Nothing
is granted before that. A subscription then runs for one interval (a month or a year);
the operator issues a renewal invoice before it ends and confirms that payment too, or
marks the subscription overdue and finally expires it.

Trial days are not offered: an invoice is always for the full price.

Configuration (``provider_config["manual"]``), every key optional:

``account_holder``, ``iban``, ``bic``
    the bank account readers pay into (placeholders until set).
``instructions_url``
    a page explaining how to pay; ``{reference}`` is replaced by the invoice reference.
    Without it a checkout session has no url, only instructions.
``reference_prefix``
    prefix of invoice references (``"INV-"``).
``due_days``
    days an invoice is due within (14).
``secret`` / ``secrets``, ``tolerance``, ``clock``, ``portal_url``
    as for the ``fake`` provider: confirmations are delivered as signed webhooks, so an
    operator's back office and the site may run apart. Without a secret
    :data:`DEV_SECRET` is used (development only).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..catalog import Interval
from ..currency import format_amount
from ..errors import ProviderError
from ..events import EventType, PurchaseState, SubscriptionSnapshot
from ..hookspecs import hookimpl
from ..membership import Status
from .base import CheckoutRequest, CheckoutSession, Provider, Webhook
from .settings import Setting, SettingsSpec
from .simulated import (
    SimulatedPurchase,
    SimulatedService,
    SimulatedSubscription,
    add_interval,
    options_from,
    secrets_from,
    simulated_settings,
)
from .webhooks import DEFAULT_TOLERANCE, utcnow

#: The signing secret used when none is configured. Development only: it is public.
DEV_SECRET = "manual-dev-only-secret-do-not-use-in-production"
SIGNATURE_HEADER = "Manual-Signature"
PLACEHOLDER_IBAN = "XX00 0000 0000 0000 0000 00"


class InvoiceError(ProviderError):
    """An operator acted on an invoice that cannot take it; the message names the reference."""


class UnknownInvoice(InvoiceError, LookupError):
    """No invoice has this reference."""


class InvoiceClosed(InvoiceError):
    """The invoice was already paid or voided."""


@dataclass(slots=True)
class Invoice:
    """What a reader owes: ``state`` is ``"open"``, ``"paid"`` or ``"void"``.

    A checkout creates the first invoice; a renewal invoice carries the ``subscription``
    it extends.
    """

    reference: str
    member_id: str
    customer_id: str
    price: str
    interval: Interval
    amount: int
    currency: str
    issued_at: datetime
    due_at: datetime
    idempotency_key: str = ""
    subscription: str | None = None
    purchase: str | None = None
    state: str = "open"
    paid_at: datetime | None = None


class ManualProvider(SimulatedService):
    """Bank transfer / invoice payments, confirmed by an operator."""

    settings_spec = SettingsSpec(
        (
            Setting("account_holder", "the name on the bank account readers pay into"),
            Setting("iban", "the IBAN readers pay into"),
            Setting("bic", "the bank's BIC"),
            Setting("instructions_url", "a page explaining how to pay; {reference} is replaced"),
            Setting("reference_prefix", 'prefix of invoice references ("INV-")'),
            Setting("due_days", "days an invoice is due within (14)"),
            # Confirmations reach the site as signed webhooks, so it needs a secret too.
            *simulated_settings(DEV_SECRET),
        ),
        receives_webhooks=True,
    )

    def __init__(
        self,
        *,
        account_holder: str = "Your Publisher Ltd",
        iban: str = PLACEHOLDER_IBAN,
        bic: str = "XXXXXXXX",
        instructions_url: str | None = None,
        reference_prefix: str = "INV-",
        due_days: int = 14,
        secrets: str | Sequence[str] = DEV_SECRET,
        portal_url: str | None = None,
        tolerance: float = DEFAULT_TOLERANCE,
        clock: Callable[[], datetime] = utcnow,
        name: str = "manual",
    ) -> None:
        super().__init__(
            name,
            secrets=secrets,
            signature_header=SIGNATURE_HEADER,
            tolerance=tolerance,
            clock=clock,
            portal_url=portal_url,
        )
        self.account_holder = account_holder
        self.iban = iban
        self.bic = bic
        self.instructions_url = instructions_url
        self.reference_prefix = reference_prefix
        self.due_days = due_days
        self.invoices: dict[str, Invoice] = {}
        self._by_key: dict[str, str] = {}
        self._references = 0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ManualProvider:
        """Build from a ``provider_config["manual"]`` mapping: the keys of
        :attr:`settings_spec` (see the module docstring); other keys are not read."""
        spec = cls.settings_spec
        return cls(secrets=secrets_from(config, spec), **options_from(config, spec))

    def instructions(self, invoice: Invoice) -> str:
        """What the reader is told to do to pay ``invoice``."""
        amount = format_amount(invoice.amount, invoice.currency)
        return (
            f"Transfer {invoice.currency} {amount} to {self.account_holder}, "
            f"IBAN {self.iban}, BIC {self.bic}, quoting {invoice.reference} by "
            f"{invoice.due_at:%Y-%m-%d}. Access starts when the payment is confirmed."
        )

    def _new_invoice(self, **fields: Any) -> Invoice:
        self._references += 1
        now = self.now()
        invoice = Invoice(
            reference=f"{self.reference_prefix}{self._references:06d}",
            issued_at=now,
            due_at=now + timedelta(days=self.due_days),
            **fields,
        )
        self.invoices[invoice.reference] = invoice
        return invoice

    # -- Provider API ----------------------------------------------------------------------
    def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        """Issue an invoice; the session's id is its reference and its ``instructions``
        say how to pay. The same ``idempotency_key`` returns the same invoice."""
        self.call("create_checkout")
        reference = self._by_key.get(request.idempotency_key)
        if reference is not None:
            invoice = self.invoices[reference]
        else:
            invoice = self._new_invoice(
                member_id=request.member_id,
                customer_id=self.customer_for(request.member_id, request.customer_id),
                price=request.provider_price,
                interval=request.price.interval,
                amount=request.price.amount,
                currency=request.price.currency,
                idempotency_key=request.idempotency_key,
            )
            self._by_key[request.idempotency_key] = invoice.reference
        url = None
        if self.instructions_url is not None:
            url = self.instructions_url.replace("{reference}", invoice.reference)
        return CheckoutSession(
            provider=self.name,
            id=invoice.reference,
            url=url,
            customer_id=invoice.customer_id,
            instructions=self.instructions(invoice),
        )

    # -- what the operator does ------------------------------------------------------------
    def invoice(self, reference: str) -> Invoice:
        """The invoice with ``reference``; raises :class:`UnknownInvoice`."""
        invoice = self.invoices.get(reference.strip())
        if invoice is None:
            raise UnknownInvoice(
                f"manual: no invoice with reference {reference!r}; check the reference "
                "quoted on the bank transfer",
                code="unknown_invoice",
            )
        return invoice

    def open_invoices(self) -> list[Invoice]:
        """Invoices waiting for a payment, oldest first."""
        return [i for i in self.invoices.values() if i.state == "open"]

    def confirm_payment(self, reference: str, paid_at: datetime | None = None) -> Webhook:
        """Record that the transfer quoting ``reference`` arrived.

        A first invoice for a recurring price starts a subscription, active for one
        interval from ``paid_at`` (default now); a renewal invoice extends its
        subscription by one interval from the end of the current period (or from
        ``paid_at`` if that is later); a one-off price records a paid purchase.

        :raises UnknownInvoice: no invoice has ``reference``.
        :raises InvoiceClosed: the invoice was already paid or voided.
        :raises ProviderError: code ``subscription_ended`` for a renewal of a
            subscription that ended meanwhile.
        """
        invoice = self.invoice(reference)
        if invoice.state != "open":
            raise InvoiceClosed(
                f"manual: invoice {invoice.reference!r} is already {invoice.state}"
                + (f" (paid {invoice.paid_at:%Y-%m-%d})" if invoice.paid_at else "")
                + "; a second transfer should be refunded or credited by hand",
                code=f"invoice_{invoice.state}",
            )
        paid = (paid_at or self.now()).replace(microsecond=0)
        if invoice.subscription is not None:
            sub = self._live(invoice.subscription, "renew")
            start = max(sub.current_period_end or paid, paid)
            invoice.state, invoice.paid_at = "paid", paid
            return self.change(
                sub,
                EventType.PAYMENT_SUCCEEDED,
                status=str(Status.ACTIVE),
                current_period_end=add_interval(start, sub.interval),
            )
        invoice.state, invoice.paid_at = "paid", paid
        if invoice.interval is Interval.ONE_OFF:
            purchase = SimulatedPurchase(
                id=self.new_id("pur_manual"),
                customer_id=invoice.customer_id,
                member_id=invoice.member_id,
                price=invoice.price,
                state=PurchaseState.PAID,
                paid_at=paid,
            )
            self.purchases[purchase.id] = purchase
            invoice.purchase = purchase.id
            return self.emit(EventType.PURCHASE_COMPLETED, purchase)
        sub = SimulatedSubscription(
            id=self.new_id("sub_manual"),
            customer_id=invoice.customer_id,
            member_id=invoice.member_id,
            price=invoice.price,
            interval=invoice.interval,
            status=str(Status.ACTIVE),
            started_at=paid,
            current_period_end=add_interval(paid, invoice.interval),
        )
        self.subscriptions[sub.id] = sub
        invoice.subscription = sub.id
        return self.emit(EventType.SUBSCRIPTION_CREATED, sub)

    def issue_renewal(self, subscription_id: str) -> Invoice:
        """Issue the invoice for a subscription's next period (send it to the reader);
        an open renewal invoice is returned again rather than issued twice.

        :raises ProviderError: code ``subscription_ended``, or ``not_renewable`` for a
            subscription set to cancel at its period's end.
        """
        sub = self._live(subscription_id, "renew")
        if sub.cancel_at_period_end:
            raise ProviderError(
                f"manual: subscription {sub.id!r} is set to cancel; resume it before "
                "issuing a renewal invoice",
                code="not_renewable",
            )
        for invoice in self.open_invoices():
            if invoice.subscription == sub.id:
                return invoice
        first = next(i for i in self.invoices.values() if i.subscription == sub.id)
        return self._new_invoice(
            member_id=first.member_id,
            customer_id=sub.customer_id,
            price=sub.price,
            interval=sub.interval,
            amount=first.amount,
            currency=first.currency,
            subscription=sub.id,
        )

    def mark_overdue(self, subscription_id: str) -> Webhook:
        """The renewal was not paid in time: the subscription becomes past due (access
        continues through the site's grace period)."""
        return self.fail_payment(subscription_id)

    def expire(self, subscription_id: str) -> Webhook:
        """The subscription ends unpaid; its open invoices are voided."""
        webhook = super().expire(subscription_id)
        self._void_invoices(subscription_id)
        return webhook

    def cancel_subscription(
        self, subscription_id: str, *, at_period_end: bool = True
    ) -> SubscriptionSnapshot:
        """Cancel at the period's end, or now; an immediate cancel voids open invoices."""
        snapshot = super().cancel_subscription(subscription_id, at_period_end=at_period_end)
        if not at_period_end:
            self._void_invoices(subscription_id)
        return snapshot

    def _void_invoices(self, subscription_id: str) -> None:
        for invoice in self.open_invoices():
            if invoice.subscription == subscription_id:
                invoice.state = "void"


@hookimpl
def membership_register_providers(
    register: Callable[[Provider], None], config: Mapping[str, Mapping[str, Any]]
) -> None:
    """Register the ``manual`` provider; it needs no settings in development (bank details
    default to placeholders, the webhook secret to a public one)."""
    provider: Provider = ManualProvider.from_config(config.get("manual", {}))
    register(provider)
