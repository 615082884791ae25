"""The ``manual`` payment provider: bank transfer against an invoice.

Common with European publishers: the reader gets an invoice reference and bank details,
transfers the money, and an operator who sees it arrive confirms the payment. Nothing
is granted before that. A subscription then runs for one interval (a month or a year);
a renewal invoice is issued before it ends, and the operator confirms that payment too.
Unpaid invoices run out on a fixed schedule (:meth:`ManualProvider.run_schedule`).

Trial days are not offered: an invoice is always for the full price.

Everything the provider knows (customers, invoices, subscriptions, one-off purchases
and the invoice numbers of each year) is kept in a
:class:`~membership_sdk.ports.ManualBillingStore`. A site passes its own under
``store`` (the Wagtail adapter keeps it in the database); without one it lives in
memory and dies with the process, which suits tests and scripts only.

Configuration (``provider_config["manual"]``), every key optional:

``account_holder``, ``iban``, ``bic``
    the bank account readers pay into (placeholders until set).
``instructions_url``
    a page explaining how to pay; ``{reference}`` is replaced by the invoice reference.
    Without it a checkout session has no url, only instructions.
``reference_prefix``
    prefix of invoice references (``"INV-"``): up to 20 ASCII letters, digits, ``-``
    and ``_``; a reference reads ``INV-2026-000042``: the year it was issued and its
    number in that year.
``due_days``
    days an invoice is due within (14); renewal invoices are issued that many days
    before the period they pay for begins.
``expire_days``
    days past its due date after which an unpaid invoice is void (14); an unpaid
    renewal then ends its subscription.
``store``
    a :class:`~membership_sdk.ports.ManualBillingStore` (in memory without one).
``secret`` / ``secrets``, ``tolerance``, ``clock``, ``portal_url``
    as for the ``fake`` provider: confirmations are delivered as signed webhooks, so an
    operator's back office and the site may run apart. Without a secret
    :data:`DEV_SECRET` is used (development only).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from ..catalog import Interval
from ..currency import format_amount
from ..errors import PluginError, ProviderError
from ..events import BillingEvent, EventType, PurchaseState, SubscriptionSnapshot
from ..hookspecs import hookimpl
from ..membership import TERMINAL, Status
from .base import (
    CheckoutRequest,
    CheckoutSession,
    ListedSubscription,
    Provider,
    Refund,
    SubscriptionPage,
    UsageInvoiceRequest,
    Webhook,
)
from .manual_lifecycle import ManualPlans
from .settings import Setting, SettingsSpec
from .simulated import (
    SimulatedPurchase,
    SimulatedSubscription,
    add_interval,
    discount_changes,
    options_from,
    refuse_unknown_code,
    resume_canceling,
    secrets_from,
    simulated_settings,
)
from .simulated_lifecycle import renew_into_pending, renewal_terms
from .webhooks import DEFAULT_TOLERANCE, WebhookSigner, decode_event, encode_event, utcnow

if TYPE_CHECKING:
    from ..ports import ManualBillingStore

#: The signing secret used when none is configured. Development only: it is public.
DEV_SECRET = "manual-dev-only-secret-do-not-use-in-production"
SIGNATURE_HEADER = "Manual-Signature"
PLACEHOLDER_IBAN = "XX00 0000 0000 0000 0000 00"
#: Invoice states.
OPEN, PAID, VOID = "open", "paid", "void"
#: A paid invoice whose transfer the staff paid back.
REFUNDED = "refunded"
#: The ``price`` of an invoice for a period's extra use starts with this, then the
#: meter (``usage:api.calls``; see :meth:`ManualProvider.invoice_usage`).
USAGE_PRICE_PREFIX = "usage:"
_STORE_METHODS = ("atomic", "next_invoice_number", "invoice", "save_invoice", "subscription")


class InvoiceError(ProviderError):
    """An operator acted on an invoice that cannot take it; the message names the reference."""


class UnknownInvoice(InvoiceError, LookupError):
    """No invoice has this reference."""


class InvoiceClosed(InvoiceError):
    """The invoice was already paid or voided."""


@dataclass(slots=True)
class Invoice:
    """What a reader owes: ``state`` is ``"open"``, ``"paid"`` or ``"void"``.

    ``number`` is the invoice's place in the invoices of ``year`` (1, 2, ...), which the
    reference spells out. A checkout creates the first invoice; a renewal invoice carries
    the ``subscription`` it extends from the start, a first one once it is paid.
    """

    reference: str
    year: int
    number: int
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
    renewal: bool = False
    state: str = OPEN
    paid_at: datetime | None = None
    #: A first invoice's discount: ``amount`` is the discounted one, ``list_amount`` the
    #: price's (``None``: no discount), for ``discount_periods`` periods (``None``: for
    #: ever), under the coupon ``coupon`` (``""``: the price's intro offer).
    list_amount: int | None = None
    coupon: str = ""
    discount_periods: int | None = None

    @property
    def usage(self) -> bool:
        """Whether it bills a period's use beyond the included quota (no subscription
        or purchase changes when it is paid)."""
        return self.price.startswith(USAGE_PRICE_PREFIX)

    def overdue(self, now: datetime) -> bool:
        """Whether it is open and its due date has passed."""
        return self.state == OPEN and now >= self.due_at


class _Existing(Exception):
    """Rolls back a checkout whose idempotency key another one used meanwhile."""

    def __init__(self, invoice: Invoice) -> None:
        self.invoice = invoice


#: What a reference prefix may hold: it is quoted on bank transfers (whose reference
#: fields take few characters) and is part of the admin's URLs.
PREFIX_PATTERN = re.compile(r"[A-Za-z0-9_-]{0,20}")


def _prefix(value: Any) -> str:
    if not isinstance(value, str) or not PREFIX_PATTERN.fullmatch(value):
        raise PluginError(
            "manual: setting 'reference_prefix' may hold up to 20 ASCII letters, digits, "
            f"'-' and '_' (it is quoted on bank transfers and in URLs); got {value!r}"
        )
    return value


def _days(key: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise PluginError(
            f"manual: setting {key!r} must be a whole number of days, at least {minimum}; "
            f"got {value!r}"
        )
    return value


class ManualProvider(ManualPlans):
    """Bank transfer / invoice payments, confirmed by an operator."""

    refetch_subscriptions = False
    settings_spec = SettingsSpec(
        (
            Setting("account_holder", "the name on the bank account readers pay into"),
            Setting("iban", "the IBAN readers pay into"),
            Setting("bic", "the bank's BIC"),
            Setting("instructions_url", "a page explaining how to pay; {reference} is replaced"),
            Setting("reference_prefix", 'prefix of invoice references ("INV-")'),
            Setting("due_days", "days an invoice is due within (14)"),
            Setting("expire_days", "days past its due date an unpaid invoice is void (14)"),
            Setting("store", "where invoices and subscriptions are kept (in memory without one)"),
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
        expire_days: int = 14,
        store: ManualBillingStore | None = None,
        secrets: str | Sequence[str] = DEV_SECRET,
        portal_url: str | None = None,
        tolerance: float = DEFAULT_TOLERANCE,
        clock: Callable[[], datetime] = utcnow,
        name: str = "manual",
    ) -> None:
        if store is None:
            from ..memory import MemoryManualBilling

            store = MemoryManualBilling()
        missing = [m for m in _STORE_METHODS if not callable(getattr(store, m, None))]
        if missing:
            raise PluginError(
                f"manual: setting 'store' must be a ManualBillingStore; {store!r} lacks "
                + ", ".join(missing)
            )
        self.name = name
        self.store = store
        self.clock = clock
        self.signer = WebhookSigner(
            secrets, header=SIGNATURE_HEADER, tolerance=tolerance, clock=clock
        )
        self.portal = portal_url
        self.account_holder = account_holder
        self.iban = iban
        self.bic = bic
        self.instructions_url = instructions_url
        self.reference_prefix = _prefix(reference_prefix)
        self.due_days = _days("due_days", due_days, 1)
        self.expire_days = _days("expire_days", expire_days, 0)
        self._unreachable: str | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ManualProvider:
        """Build from a ``provider_config["manual"]`` mapping: the keys of
        :attr:`settings_spec` (see the module docstring); other keys are not read."""
        spec = cls.settings_spec
        return cls(secrets=secrets_from(config, spec), **options_from(config, spec))

    @property
    def using_dev_secret(self) -> bool:
        """Whether webhooks verify under the public development secret."""
        return not self.settings_spec.public_defaults().isdisjoint(self.signer.secrets)

    def now(self) -> datetime:
        # Webhooks carry whole seconds; so do the stored dates.
        return self.clock().replace(microsecond=0)

    def instructions(self, invoice: Invoice) -> str:
        """What the reader is told to do to pay ``invoice``."""
        amount = format_amount(invoice.amount, invoice.currency)
        return (
            f"Transfer {invoice.currency} {amount} to {self.account_holder}, "
            f"IBAN {self.iban}, BIC {self.bic}, quoting {invoice.reference} by "
            f"{invoice.due_at:%Y-%m-%d}. Access starts when the payment is confirmed."
        )

    # -- the store ---------------------------------------------------------------------------
    def _new_invoice(self, now: datetime, number: int | None = None, **fields: Any) -> Invoice:
        """Number and store a new invoice (call inside ``store.atomic()``); ``number``:
        one taken from the store already."""
        if number is None:
            number = self.store.next_invoice_number(now.year)
        invoice = Invoice(
            reference=f"{self.reference_prefix}{now.year}-{number:06d}",
            year=now.year,
            number=number,
            issued_at=now,
            due_at=now + timedelta(days=self.due_days),
            **fields,
        )
        self.store.save_invoice(invoice)
        return invoice

    def _customer_for(self, member_id: str, customer_id: str | None) -> str:
        existing = self.store.customer_for(member_id)
        if existing is None:
            existing = customer_id or f"cus_{self.name}_{uuid.uuid4().hex[:20]}"
            self.store.link_customer(member_id, existing)
        return existing

    def subscription(self, subscription_id: str, *, lock: bool = False) -> SimulatedSubscription:
        """The stored subscription; :class:`ProviderError` (``no_such_subscription``)."""
        sub = self.store.subscription(subscription_id, lock=lock)
        if sub is None:
            raise ProviderError(
                f"{self.name}: no subscription {subscription_id!r}",
                code="no_such_subscription",
            )
        return sub

    def _live(self, subscription_id: str, action: str) -> SimulatedSubscription:
        sub = self.subscription(subscription_id, lock=True)
        if Status.parse(sub.status) in TERMINAL:
            raise ProviderError(
                f"{self.name}: cannot {action} subscription {sub.id!r}: it is {sub.status}",
                code="subscription_ended",
            )
        return sub

    # -- webhooks ----------------------------------------------------------------------------
    def _emit(
        self, type: EventType | str, record: SimulatedSubscription | SimulatedPurchase
    ) -> Webhook:
        """The signed webhook reporting ``record``'s current state. Event ids are random,
        so none is ever reused, by a restarted process or another one."""
        body = encode_event(
            f"evt_{self.name}_{uuid.uuid4().hex}",
            str(type),
            self.now(),
            record.snapshot(),
            member_id=record.member_id,
        )
        return self.signer.sign(body)

    def _emit_other(self, type: str, invoice: Invoice) -> Webhook:
        """A signed webhook of a type sites ignore, about ``invoice`` (a usage
        invoice's payment changes no membership)."""
        body = json.dumps(
            {
                "id": f"evt_{self.name}_{uuid.uuid4().hex}",
                "type": type,
                "created": int(self.now().timestamp()),
                "data": {"object": "invoice", "id": invoice.reference},
            },
            sort_keys=True,
        ).encode()
        return self.signer.sign(body)

    def _change(self, sub: SimulatedSubscription, type: EventType, **changes: Any) -> Webhook:
        for key, value in changes.items():
            setattr(sub, key, value)
        sub.version += 1
        self.store.save_subscription(sub)
        return self._emit(type, sub)

    def _void_invoices(self, subscription_id: str) -> None:
        for invoice in self.store.invoices(state=OPEN, subscription=subscription_id):
            invoice.state = VOID
            self.store.save_invoice(invoice)

    # -- Provider API ------------------------------------------------------------------------
    def _call(self, operation: str) -> None:
        if self._unreachable is not None:
            raise ProviderError(
                f"{self.name}: {operation} failed: the billing store is unreachable",
                code="unreachable",
                provider_message=self._unreachable,
                retryable=True,
            )

    def simulate_outage(self, message: str | None = "connection refused") -> None:
        """Make every API call fail as an outage would; ``None`` ends it (for tests)."""
        self._unreachable = message

    def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        """Issue an invoice; the session's id is its reference and its ``instructions``
        say how to pay. The same ``idempotency_key`` returns the same invoice, also when
        two checkouts with it run at once."""
        self._call("create_checkout")
        refuse_unknown_code(self.name, request)
        invoice = self.store.invoice_for_key(request.idempotency_key)
        if invoice is None:
            try:
                with self.store.atomic():
                    invoice = self._issue_first(request)
            except _Existing as existing:
                invoice = existing.invoice
        url = None
        if self.instructions_url is not None:
            url = self.instructions_url.replace("{reference}", invoice.reference)
        return CheckoutSession(
            provider=self.name,
            id=invoice.reference,
            url=url,
            customer_id=invoice.customer_id,
            instructions=self.instructions(invoice),
            amount=invoice.amount,
        )

    def _issue_first(self, request: CheckoutRequest) -> Invoice:
        now = self.now()
        discount = request.discount
        # Taking the year's number first makes concurrent checkouts queue up here, so the
        # second one sees the first's invoice; raising rolls its number back.
        number = self.store.next_invoice_number(now.year)
        existing = self.store.invoice_for_key(request.idempotency_key)
        if existing is not None:
            raise _Existing(existing)
        return self._new_invoice(
            now,
            number,
            member_id=request.member_id,
            customer_id=self._customer_for(request.member_id, request.customer_id),
            price=request.provider_price,
            interval=request.price.interval,
            amount=request.price.amount if discount is None else discount.amount,
            currency=request.price.currency,
            idempotency_key=request.idempotency_key,
            list_amount=None if discount is None else discount.list_amount,
            coupon="" if discount is None else discount.code,
            discount_periods=None if discount is None else discount.periods,
        )

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Sequence[BillingEvent]:
        """Verify the signature, then read the event (see :mod:`.webhooks`)."""
        self.signer.verify(headers, body)
        return decode_event(self.name, body)

    def fetch_subscription(self, subscription_id: str) -> SubscriptionSnapshot | None:
        self._call("fetch_subscription")
        sub = self.store.subscription(subscription_id)
        return None if sub is None else sub.snapshot()

    def list_subscriptions(self, *, after: str | None = None, limit: int = 100) -> SubscriptionPage:
        """Every stored subscription, ended ones too, in id order, ``limit`` at a time."""
        self._call("list_subscriptions")
        subs = self.store.subscriptions(after=after, limit=limit + 1)
        page, more = subs[:limit], len(subs) > limit
        listed = tuple(ListedSubscription(s.snapshot(), s.member_id) for s in page)
        cursor = page[-1].id if more and page else None
        return SubscriptionPage(listed, cursor, total=self.store.count_subscriptions())

    def cancel_subscription(
        self, subscription_id: str, *, at_period_end: bool = True
    ) -> SubscriptionSnapshot:
        """Cancel at the period's end (no renewal invoice is issued) or now (access ends
        now and open invoices are voided)."""
        self._call("cancel_subscription")
        with self.store.atomic():
            sub = self._live(subscription_id, "cancel")
            now = self.now()
            if at_period_end:
                self._change(
                    sub, EventType.SUBSCRIPTION_UPDATED, cancel_at_period_end=True, canceled_at=now
                )
                # A renewal invoice issued already is not owed any more.
                self._void_invoices(sub.id)
            else:
                self._change(
                    sub,
                    EventType.SUBSCRIPTION_DELETED,
                    status=str(Status.CANCELED),
                    cancel_at_period_end=False,
                    canceled_at=now,
                    current_period_end=now,
                )
                self._void_invoices(sub.id)
            return sub.snapshot()

    def cancel_subscription_at(self, subscription_id: str, at: datetime) -> SubscriptionSnapshot:
        """The :class:`~membership_sdk.providers.ScheduledCancellation` capability: end at
        ``at``, inside the paid period; no renewal invoice is owed any more."""
        from ..cancellation import ending_at

        self._call("cancel_subscription_at")
        with self.store.atomic():
            sub = self._live(subscription_id, "cancel")
            self._change(
                sub, EventType.SUBSCRIPTION_UPDATED, **ending_at(self.name, sub, at, self.now())
            )
            self._void_invoices(sub.id)
            return sub.snapshot()

    def resume_subscription(self, subscription_id: str) -> SubscriptionSnapshot:
        """Undo a cancel-at-period-end; a renewal invoice is issued again in time."""
        self._call("resume_subscription")
        with self.store.atomic():
            return resume_canceling(self.name, self._live(subscription_id, "resume"), self._change)

    def portal_url(self, customer_id: str, return_url: str) -> str | None:
        self._call("portal_url")
        if self.portal is None:
            return None
        return self.portal.replace("{customer}", customer_id)

    # -- what the operator does --------------------------------------------------------------
    def invoice(self, reference: str, *, lock: bool = False) -> Invoice:
        """The invoice with ``reference`` (surrounding spaces ignored); ``lock``: held
        until the store's transaction ends. Raises :class:`UnknownInvoice`."""
        invoice = self.store.invoice(reference.strip(), lock=lock)
        if invoice is None:
            raise UnknownInvoice(
                f"manual: no invoice with reference {reference!r}; check the reference "
                "quoted on the bank transfer",
                code="unknown_invoice",
            )
        return invoice

    def open_invoices(self) -> list[Invoice]:
        """Invoices waiting for a payment, oldest first."""
        return list(self.store.invoices(state=OPEN))

    def confirm_payment(self, reference: str, paid_at: datetime | None = None) -> Webhook:
        """Record that the transfer quoting ``reference`` arrived.

        A first invoice for a recurring price starts a subscription, active for one
        interval from ``paid_at`` (default now); a renewal invoice extends its
        subscription by one interval from the end of the current period (or from
        ``paid_at`` if that is later); a one-off price records a paid purchase.

        The invoice is locked while this runs, so an invoice confirmed twice at once is
        paid once: the second confirmation raises :class:`InvoiceClosed`.

        :raises UnknownInvoice: no invoice has ``reference``.
        :raises InvoiceClosed: the invoice was already paid or voided.
        :raises InvoiceError: ``paid_at`` is before the invoice was issued (code
            ``paid_before_issued``); nothing changes.
        :raises ProviderError: code ``subscription_ended`` for a renewal of a
            subscription that ended meanwhile.
        """
        with self.store.atomic():
            invoice = self.invoice(reference, lock=True)
            if invoice.state == VOID:
                raise InvoiceClosed(
                    f"manual: invoice {invoice.reference!r} is already void (it ran out unpaid "
                    f"{self.expire_days} days after its due date {invoice.due_at:%Y-%m-%d}, "
                    "or its subscription was canceled) and grants nothing any more; refund "
                    "the transfer, or have the reader check out again and mark the new invoice",
                    code="invoice_void",
                )
            if invoice.state != OPEN:
                raise InvoiceClosed(
                    f"manual: invoice {invoice.reference!r} is already {invoice.state}"
                    + (f" (paid {invoice.paid_at:%Y-%m-%d})" if invoice.paid_at else "")
                    + "; a second transfer should be refunded or credited by hand",
                    code=f"invoice_{invoice.state}",
                )
            paid = (paid_at or self.now()).replace(microsecond=0)
            if paid < invoice.issued_at.replace(microsecond=0):
                # A transfer quoting the reference cannot predate it; a date years back
                # would start, and end, the period paid for then.
                raise InvoiceError(
                    f"manual: invoice {invoice.reference!r} was issued on "
                    f"{invoice.issued_at:%Y-%m-%d %H:%M}; a transfer quoting it cannot have "
                    f"arrived on {paid:%Y-%m-%d %H:%M}",
                    code="paid_before_issued",
                )
            if invoice.usage:
                invoice.state, invoice.paid_at = PAID, paid
                self.store.save_invoice(invoice)
                return self._emit_other("invoice.paid", invoice)
            if invoice.subscription is not None:
                return self._pay_renewal(invoice, paid)
            invoice.state, invoice.paid_at = PAID, paid
            suffix = f"{invoice.year}_{invoice.number:06d}"
            if invoice.interval is Interval.ONE_OFF:
                purchase = SimulatedPurchase(
                    id=f"pur_{self.name}_{suffix}",
                    customer_id=invoice.customer_id,
                    member_id=invoice.member_id,
                    price=invoice.price,
                    state=PurchaseState.PAID,
                    paid_at=paid,
                    checkout_id=invoice.reference,
                )
                self.store.save_purchase(purchase)
                invoice.purchase = purchase.id
                self.store.save_invoice(invoice)
                return self._emit(EventType.PURCHASE_COMPLETED, purchase)
            # Named after the invoice, so a subscription id is as unique as its number.
            sub = SimulatedSubscription(
                id=f"sub_{self.name}_{suffix}",
                customer_id=invoice.customer_id,
                member_id=invoice.member_id,
                price=invoice.price,
                interval=invoice.interval,
                status=str(Status.ACTIVE),
                started_at=paid,
                current_period_end=add_interval(paid, invoice.interval),
                list_amount=invoice.amount if invoice.list_amount is None else invoice.list_amount,
            )
            if invoice.list_amount is not None:
                sub.amount, sub.coupon = invoice.amount, invoice.coupon
                periods = invoice.discount_periods
                sub.discount_ends_at = (
                    add_interval(paid, invoice.interval, periods) if periods else None
                )
            self.store.save_subscription(sub)
            invoice.subscription = sub.id
            self.store.save_invoice(invoice)
            return self._emit(EventType.SUBSCRIPTION_CREATED, sub)

    def _pay_renewal(self, invoice: Invoice, paid: datetime) -> Webhook:
        sub = self._live(invoice.subscription or "", "renew")
        if invoice.reference == sub.pending_invoice:
            return self._pay_plan_change(sub, invoice, paid)
        start = max(sub.current_period_end or paid, paid)
        sub.end_discount_by(start)
        invoice.state, invoice.paid_at = PAID, paid
        self.store.save_invoice(invoice)
        moved = renew_into_pending(sub, start)  # a downgrade waiting for this renewal
        return self._change(
            sub,
            EventType.PAYMENT_SUCCEEDED,
            status=str(Status.ACTIVE),
            current_period_end=add_interval(start, moved.get("interval", sub.interval)),
            **moved,
        )

    def issue_renewal(self, subscription_id: str) -> Invoice:
        """Issue the invoice for a subscription's next period (send it to the reader);
        an open renewal invoice is returned again rather than issued twice.
        :meth:`run_schedule` calls this in time; an operator may call it earlier.

        :raises ProviderError: code ``subscription_ended``, or ``not_renewable`` for a
            subscription set to cancel at its period's end.
        """
        with self.store.atomic():
            return self._issue_renewal(self._live(subscription_id, "renew"), self.now())

    def _issue_renewal(self, sub: SimulatedSubscription, now: datetime) -> Invoice:
        if sub.cancel_at_period_end:
            raise ProviderError(
                f"manual: subscription {sub.id!r} is set to cancel; resume it before "
                "issuing a renewal invoice",
                code="not_renewable",
            )
        for invoice in self.store.invoices(state=OPEN, subscription=sub.id):
            return invoice
        first = self.store.invoices(subscription=sub.id)[0]
        # The period this invoice pays starts when the current one ends: a discount that
        # has ended by then is not applied, and the list price is charged.
        start = sub.current_period_end or now
        list_amount = first.amount if first.list_amount is None else first.list_amount
        charged = sub.charge_for(start)
        price, interval, changed = renewal_terms(sub, start)  # a downgrade applies from here
        return self._new_invoice(
            now,
            member_id=first.member_id,
            customer_id=sub.customer_id,
            price=price,
            interval=interval,
            amount=changed or (list_amount if charged is None else charged),
            currency=first.currency,
            subscription=sub.id,
            renewal=True,
        )

    def invoice_usage(self, request: UsageInvoiceRequest) -> str:
        """The :class:`~membership_sdk.providers.UsageInvoicing` capability: an invoice of
        its own for a closed period's extra use, due in ``due_days``; its ``price`` is
        ``usage:`` and the meter, and paying it changes no subscription. The same
        ``request.identifier`` returns the same invoice, also when two run at once (it
        is the invoice's idempotency key). Returns the invoice's reference.

        :raises ProviderError: code ``no_such_subscription``.
        """
        self._call("invoice_usage")
        invoice = self.store.invoice_for_key(request.identifier)
        if invoice is None:
            try:
                with self.store.atomic():
                    invoice = self._issue_usage(request)
            except _Existing as existing:
                invoice = existing.invoice
        return invoice.reference

    def _issue_usage(self, request: UsageInvoiceRequest) -> Invoice:
        now = self.now()
        number = self.store.next_invoice_number(now.year)  # queues parallel calls up
        existing = self.store.invoice_for_key(request.identifier)
        if existing is not None:
            raise _Existing(existing)
        sub = self.subscription(request.subscription_id)
        return self._new_invoice(
            now,
            number,
            member_id=sub.member_id or request.member_id,
            customer_id=sub.customer_id,
            price=f"{USAGE_PRICE_PREFIX}{request.meter}",
            interval=Interval.ONE_OFF,
            amount=request.amount,
            currency=request.currency,
            idempotency_key=request.identifier,
        )

    def mark_overdue(self, subscription_id: str) -> Webhook:
        """The renewal was not paid in time: the subscription becomes past due (access
        continues through the site's grace period)."""
        with self.store.atomic():
            sub = self._live(subscription_id, "mark overdue")
            return self._change(sub, EventType.PAYMENT_FAILED, status=str(Status.PAST_DUE))

    def expire(self, subscription_id: str) -> Webhook:
        """The subscription ends unpaid; its open invoices are voided."""
        with self.store.atomic():
            sub = self._live(subscription_id, "expire")
            self._void_invoices(sub.id)
            return self._change(sub, EventType.SUBSCRIPTION_DELETED, status=str(Status.EXPIRED))

    def refund(self, purchase_id: str) -> Webhook:
        """Record that a one-off payment was paid back; the site revokes what it bought."""
        with self.store.atomic():
            purchase = self.store.purchase(purchase_id)
            if purchase is None:
                raise ProviderError(
                    f"{self.name}: no purchase {purchase_id!r}", code="no_such_purchase"
                )
            if purchase.state is PurchaseState.REFUNDED:
                raise ProviderError(
                    f"{self.name}: purchase {purchase_id!r} is already refunded",
                    code="already_refunded",
                )
            purchase.state = PurchaseState.REFUNDED
            purchase.version += 1
            self.store.save_purchase(purchase)
            return self._emit(EventType.PURCHASE_REFUNDED, purchase)

    def refund_purchase(self, purchase_id: str) -> Refund:
        """The :class:`~membership_sdk.providers.PurchaseRefunds` capability: record that
        the staff paid a one-off purchase back (:meth:`refund`)."""
        self._call("refund_purchase")
        self.refund(purchase_id)
        paid = self.store.invoices(state=PAID)
        invoice = next((i for i in paid if i.purchase == purchase_id), None)
        if invoice is None:
            return Refund(purchase_id, 0, "")
        return Refund(purchase_id, invoice.amount, invoice.currency)

    def refund_latest_payment(self, subscription_id: str) -> Refund:
        """The :class:`~membership_sdk.providers.SubscriptionRefunds` capability: record
        that the staff paid back the transfer of the subscription's latest paid invoice,
        which becomes ``"refunded"``. The money itself is sent back by hand.

        :raises ProviderError: code ``nothing_to_refund`` (no invoice was paid) or
            ``already_refunded`` (the latest one was refunded already).
        """
        self._call("refund_latest_payment")
        with self.store.atomic():
            sub = self.subscription(subscription_id, lock=True)
            settled = [
                i
                for i in self.store.invoices(subscription=sub.id)
                if i.state in (PAID, REFUNDED) and i.paid_at is not None
            ]
            if not settled:
                raise ProviderError(
                    f"{self.name}: subscription {sub.id!r} has no paid invoice to refund",
                    code="nothing_to_refund",
                )
            latest = max(settled, key=lambda i: (i.paid_at, i.year, i.number))
            if latest.state == REFUNDED:
                raise ProviderError(
                    f"{self.name}: invoice {latest.reference!r}, the latest of subscription "
                    f"{sub.id!r}, is already refunded",
                    code="already_refunded",
                )
            latest.state = REFUNDED
            self.store.save_invoice(latest)
            return Refund(
                latest.reference, latest.amount, latest.currency, sub.id, sub.current_period_end
            )

    def apply_discount(
        self,
        subscription_id: str,
        *,
        code: str,
        percent_off: int | None = None,
        amount_off: int | None = None,
        months: int | None = None,
    ) -> SubscriptionSnapshot:
        """The :class:`~membership_sdk.providers.SubscriptionDiscounts` capability: renewal
        invoices from the end of the current period are for the discounted amount, for
        ``months`` months or for ever (``None``); an open renewal invoice for a period
        the discount covers is re-priced."""
        self._call("apply_discount")
        with self.store.atomic():
            sub = self._live(subscription_id, "discount")
            if sub.list_amount is None:
                first = self.store.invoices(subscription=sub.id)
                if first:
                    sub.list_amount = first[0].list_amount or first[0].amount
            changes = discount_changes(
                self.name,
                sub,
                self.now(),
                code=code,
                percent_off=percent_off,
                amount_off=amount_off,
                months=months,
            )
            self._change(sub, EventType.SUBSCRIPTION_UPDATED, **changes)
            start = sub.current_period_end or self.now()
            charged = sub.charge_for(start)
            for invoice in self.store.invoices(state=OPEN, subscription=sub.id):
                if invoice.renewal and charged is not None:
                    invoice.amount = charged
                    self.store.save_invoice(invoice)
            return sub.snapshot()

    # -- the schedule --------------------------------------------------------------------------
    def run_schedule(
        self,
        now: datetime | None = None,
        *,
        send: Callable[[Webhook], object] | None = None,
    ) -> list[Webhook]:
        """Do what is due by ``now`` (default the clock); run it daily. Returns the
        webhooks it sent, oldest first.

        1. a subscription set to cancel whose period has ended is canceled;
        2. a subscription whose period ends within ``due_days`` gets its renewal invoice
           (due when the period ends);
        3. a renewal invoice past its due date makes its subscription past due (access
           continues through the site's grace period; paying still renews it);
        4. an invoice ``expire_days`` past its due date is void: a renewal's
           subscription expires, a first invoice simply lapses (nothing was granted).

        Each change is its own transaction; ``send`` is called with its webhook inside
        it, so a site storing webhooks in the same database keeps both or neither.
        Running it twice changes nothing more.
        """
        now = (now or self.now()).replace(microsecond=0)
        sent: list[Webhook] = []

        def step(action: Callable[[], Webhook | None]) -> None:
            with self.store.atomic():
                webhook = action()
                if webhook is not None and send is not None:
                    send(webhook)
            if webhook is not None:
                sent.append(webhook)

        for sub in self.store.live_subscriptions():
            step(partial(self._schedule_subscription, sub.id, now))
        for invoice in self.store.invoices(state=OPEN):
            if invoice.overdue(now):
                step(partial(self._schedule_invoice, invoice.reference, now))
        return sent

    def _schedule_subscription(self, subscription_id: str, now: datetime) -> Webhook | None:
        sub = self.subscription(subscription_id, lock=True)
        end = sub.current_period_end
        if Status.parse(sub.status) in TERMINAL or end is None:
            return None
        if sub.status == Status.PAUSED:  # no invoice while paused; resumes by itself
            return self._resume_if_due(sub, now)
        if sub.cancel_at_period_end:
            if now < end:
                return None
            self._void_invoices(sub.id)
            return self._change(sub, EventType.SUBSCRIPTION_DELETED, status=str(Status.CANCELED))
        if now >= end - timedelta(days=self.due_days):
            self._issue_renewal(sub, now)  # or the open one, issued already
        return None

    def _schedule_invoice(self, reference: str, now: datetime) -> Webhook | None:
        invoice = self.store.invoice(reference, lock=True)
        if invoice is None or not invoice.overdue(now):
            return None
        sub = None
        if invoice.renewal and invoice.subscription is not None:
            sub = self.store.subscription(invoice.subscription, lock=True)
            if sub is not None and Status.parse(sub.status) in TERMINAL:
                sub = None
        if now >= invoice.due_at + timedelta(days=self.expire_days):
            invoice.state = VOID
            self.store.save_invoice(invoice)
            if sub is None:
                return None  # a first invoice lapses: nothing was granted
            self._void_invoices(sub.id)
            return self._change(sub, EventType.SUBSCRIPTION_DELETED, status=str(Status.EXPIRED))
        if sub is not None and Status.parse(sub.status) is not Status.PAST_DUE:
            return self._change(sub, EventType.PAYMENT_FAILED, status=str(Status.PAST_DUE))
        return None


@hookimpl
def membership_register_providers(
    register: Callable[[Provider], None], config: Mapping[str, Mapping[str, Any]]
) -> None:
    """Register the ``manual`` provider; it needs no settings in development (bank details
    default to placeholders, the webhook secret to a public one, the store to memory)."""
    provider: Provider = ManualProvider.from_config(config.get("manual", {}))
    register(provider)
