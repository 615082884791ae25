"""The contract every payment provider implements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from ..catalog import Price
from ..discounts import Discount
from ..events import BillingEvent, SubscriptionSnapshot
from .settings import SettingsSpec


@dataclass(frozen=True, slots=True)
class CheckoutRequest:
    """What the host asks a provider to sell.

    ``idempotency_key`` is the same for every retry of one checkout attempt, so a
    double click or two tabs create one customer and one subscription.
    ``provider_price`` is the provider's own id for ``price``.
    """

    member_id: str
    price: Price
    provider_price: str
    success_url: str
    cancel_url: str
    idempotency_key: str
    email: str | None = None
    customer_id: str | None = None
    coupon: str | None = None
    trial_days: int = 0
    metadata: Mapping[str, str] = field(default_factory=dict)
    #: The discount the program resolved for this checkout (a catalog coupon, or the
    #: price's intro offer); ``None`` for none. A ``coupon`` with no ``discount`` of that
    #: code is one the catalog does not know: a provider that keeps codes of its own
    #: (Stripe's promotion codes) looks it up, others raise ``CouponError`` (``unknown``).
    discount: Discount | None = None
    #: The provider's ids of the metered prices of the usage-based add-ons ``price``'s
    #: tier includes (see :mod:`membership_sdk.usage`): a provider that bills reported
    #: use through its own prices (Stripe) adds each to the subscription; others ignore it.
    usage_prices: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CheckoutSession:
    """Where to send the visitor to pay. ``url`` is ``None`` for providers with no hosted
    page (for example bank transfer), whose ``instructions`` say what to do instead."""

    provider: str
    id: str
    url: str | None
    customer_id: str | None = None
    instructions: str = ""
    #: What the first payment is, in minor units of the price's currency, when the
    #: provider says (after a coupon or an intro offer); ``None``: the price's amount.
    amount: int | None = None


@dataclass(frozen=True, slots=True)
class Webhook:
    """An HTTP request as a provider would send it: headers and the raw body."""

    headers: Mapping[str, str]
    body: bytes


@runtime_checkable
class Provider(Protocol):
    """A payment provider. Every method translates the provider's own errors into
    :class:`~membership_sdk.errors.ProviderError`."""

    #: Unique, lower-case name used in URLs and settings (``"stripe"``).
    name: str
    #: Whether events must be confirmed by fetching the current subscription before they
    #: are applied (for providers whose webhook payloads may be stale).
    refetch_subscriptions: bool
    #: A class attribute declaring the provider's settings. It MUST describe every key the
    #: provider reads from ``provider_config[name]``: which are secrets, which verify
    #: webhooks and with which public development default, which mark live keys. Hosts
    #: check a site's settings against it without knowing the provider; the registry
    #: refuses a provider without one.
    settings_spec: SettingsSpec

    def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        """Start a checkout; raise ``ProviderError`` if the provider cannot."""
        ...

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Sequence[BillingEvent]:
        """Verify and translate a webhook.

        MUST raise :class:`~membership_sdk.errors.SignatureError` for a missing or invalid
        signature and :class:`~membership_sdk.errors.MalformedEvent` for a body it cannot
        read; MUST return an empty sequence for event types it ignores.
        """
        ...

    def fetch_subscription(self, subscription_id: str) -> SubscriptionSnapshot | None:
        """The subscription's current state at the provider, or ``None`` if it is gone."""
        ...

    def cancel_subscription(
        self, subscription_id: str, *, at_period_end: bool = True
    ) -> SubscriptionSnapshot:
        """Cancel now or at the end of the paid period."""
        ...

    def resume_subscription(self, subscription_id: str) -> SubscriptionSnapshot:
        """Undo a cancel-at-period-end."""
        ...

    def portal_url(self, customer_id: str, return_url: str) -> str | None:
        """A billing-portal link for the customer, or ``None`` if the provider has none."""
        ...


@dataclass(frozen=True, slots=True)
class ListedSubscription:
    """A subscription as a provider lists it: its current state, and the member id the
    provider keeps with it (Stripe's ``metadata.member_id``), if any."""

    snapshot: SubscriptionSnapshot
    member_id: str | None = None


@dataclass(frozen=True, slots=True)
class SubscriptionPage:
    """One page of a provider's subscriptions.

    ``next_cursor`` is passed as ``after`` to get the next page, and is ``None`` on the
    last one; ``total`` is how many subscriptions there are in all, when the provider says.
    """

    subscriptions: Sequence[ListedSubscription]
    next_cursor: str | None
    total: int | None = None


@runtime_checkable
class SubscriptionListing(Protocol):
    """An optional provider capability: listing every subscription, page by page, in a
    stable order, including ended ones. Reconciling a site with its provider needs it;
    check for it with ``isinstance(provider, SubscriptionListing)``."""

    def list_subscriptions(self, *, after: str | None = None, limit: int = 100) -> SubscriptionPage:
        """The page of at most ``limit`` subscriptions that follows cursor ``after`` (the
        first page when ``None``).

        :raises ProviderError: the provider failed (``retryable`` when unreachable).
        """
        ...


@dataclass(frozen=True, slots=True)
class PaidPeriod:
    """What a subscription payment paid for: the subscription, and the end of the period
    its invoice covered (``None`` when the provider cannot say)."""

    subscription_id: str
    period_end: datetime | None = None


@runtime_checkable
class PaymentLookup(Protocol):
    """An optional provider capability: telling which subscription period a payment paid.

    A full refund or a lost chargeback names a payment, not a subscription; only with
    this capability does the program apply its ``on_refund`` and ``on_dispute_lost``
    policies to subscriptions. Of the built-in providers only ``stripe`` has it: the
    ``fake`` and ``manual`` providers take back one-off purchases only. Check for it
    with ``isinstance(provider, PaymentLookup)``."""

    def subscription_for_payment(self, payment_id: str) -> PaidPeriod | None:
        """The subscription period ``payment_id`` paid, or ``None`` when it paid none
        (a one-off payment, or one the provider does not know).

        :raises ProviderError: the provider failed; the program leaves the event to be
            retried.
        """
        ...


# -- the subscription lifecycle: optional capabilities -----------------------------------
# A provider has a capability when ``isinstance(provider, Capability)``; a provider without
# one declines it, and hosts say so on their pages instead of offering it.


@dataclass(frozen=True, slots=True)
class ProrationLine:
    """One line of a plan-change preview: what is credited (negative) or charged."""

    description: str
    amount: int
    proration: bool


@dataclass(frozen=True, slots=True)
class PlanChangePreview:
    """What moving a subscription to another price would cost, as the member sees it
    before confirming.

    ``amount_due`` (minor units of ``currency``) is what is charged now (or invoiced,
    for providers that invoice), ``0`` when the change waits for the period's end.
    ``proration_date`` (Unix seconds) is passed back to ``change_plan`` so the change is
    billed exactly as previewed. ``effective_at`` is when the new price applies.
    """

    subscription_id: str
    price: str
    amount_due: int
    currency: str
    proration_date: int
    lines: tuple[ProrationLine, ...]
    effective_at: datetime | None = None

    @property
    def proration_amount(self) -> int:
        """The sum of the proration lines: credit for the old price, charge for the new."""
        return sum(line.amount for line in self.lines if line.proration)


@runtime_checkable
class PlanChanges(Protocol):
    """An optional capability: moving a subscription to another price (upgrade,
    downgrade, monthly to yearly), with a preview of what it costs."""

    def preview_plan_change(
        self,
        subscription_id: str,
        price: str,
        *,
        proration_date: int | None = None,
        prices: Mapping[str, Price] | None = None,
        usage_prices: Sequence[str] | None = None,
    ) -> PlanChangePreview:
        """What moving ``subscription_id`` to the provider price ``price`` would charge.

        ``prices`` maps this provider's price ids (the subscription's and ``price``) to
        the catalog's prices, for providers that keep no price list of their own (the
        built-in ``fake`` and ``manual`` ones bill from it); others may ignore it.
        ``usage_prices`` are this provider's metered prices of the usage add-ons of
        ``price``'s tier (:func:`membership_sdk.usage.usage_prices`), for providers
        whose subscriptions carry them (Stripe); ``None``: keep those it has. The program
        passes it only when the catalog sells a usage rate through this provider, so a
        provider without usage billing need not take it.

        :raises ProviderError: the provider failed or cannot make this change.
        """
        ...

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
        """Move the subscription to ``price``, billed as the preview at
        ``proration_date`` showed. The snapshot's ``price_since`` says when the new
        price applies (a drip counts what the new tier gives from then)."""
        ...


@runtime_checkable
class Pausing(Protocol):
    """An optional capability: pausing a subscription's billing for a while."""

    def pause_subscription(
        self, subscription_id: str, *, resumes_at: datetime
    ) -> SubscriptionSnapshot:
        """Pause billing until ``resumes_at``, when it resumes by itself."""
        ...

    def unpause_subscription(self, subscription_id: str) -> SubscriptionSnapshot:
        """Resume a paused subscription now."""
        ...


@runtime_checkable
class SubscriptionDiscounts(Protocol):
    """An optional capability: putting a discount on a running subscription (a
    retention offer, a staff gesture)."""

    def apply_discount(
        self,
        subscription_id: str,
        *,
        code: str,
        percent_off: int | None = None,
        amount_off: int | None = None,
        months: int | None = None,
    ) -> SubscriptionSnapshot:
        """Discount the coming periods: ``months`` of them, or for ever when ``None``."""
        ...


@dataclass(frozen=True, slots=True)
class Refund:
    """A payment paid back in full.

    ``payment_id`` is the provider's id of the payment (a Stripe PaymentIntent, a bank
    transfer's invoice reference); ``amount`` is in minor units of ``currency``. For a
    subscription's payment, ``subscription_id`` names it and ``period_end`` is the end of
    the period the payment paid (``None`` when the provider cannot say).
    """

    payment_id: str
    amount: int
    currency: str
    subscription_id: str | None = None
    period_end: datetime | None = None


@runtime_checkable
class SubscriptionRefunds(Protocol):
    """An optional capability: paying back a subscription's latest payment (a staff
    gesture). What the member keeps is the program's ``on_refund`` policy, as for a
    refund made at the provider."""

    def refund_latest_payment(self, subscription_id: str) -> Refund:
        """Refund the latest payment of ``subscription_id`` in full.

        :raises ProviderError: code ``nothing_to_refund`` (no payment yet, e.g. a trial),
            ``already_refunded``, or the provider failed; nothing was refunded.
        """
        ...


@runtime_checkable
class PurchaseRefunds(Protocol):
    """An optional capability: paying back a one-off purchase; the program then revokes
    what it bought."""

    def refund_purchase(self, purchase_id: str) -> Refund:
        """Refund the one-off payment ``purchase_id`` in full.

        :raises ProviderError: code ``already_refunded``, ``no_such_purchase``, or the
            provider failed; nothing was refunded.
        """
        ...


# -- lawful cancellation (membership_sdk.cancellation) ------------------------------------
@runtime_checkable
class ScheduledCancellation(Protocol):
    """An optional capability: ending a subscription on a given date before its paid
    period ends (the Dutch one-month notice cap on a yearly plan)."""

    def cancel_subscription_at(self, subscription_id: str, at: datetime) -> SubscriptionSnapshot:
        """End the subscription at ``at`` (no renewal; access until then). The snapshot
        reads ``cancel_at_period_end`` with ``current_period_end`` at ``at``.

        :raises ProviderError: ``at`` is not in the future or after the period's end,
            or the provider failed; nothing changed.
        """
        ...


@runtime_checkable
class RenewalPrices(Protocol):
    """An optional capability: renewing a subscription, at its current period's end, on
    another price (a yearly plan renewing as monthly, §309 Nr. 9 BGB)."""

    def renew_on_price(
        self,
        subscription_id: str,
        price: str,
        *,
        prices: Mapping[str, Price] | None = None,
        usage_prices: Sequence[str] | None = None,
    ) -> SubscriptionSnapshot:
        """Bill the periods after the current one at provider price ``price``; the
        current period is not touched. ``prices`` and ``usage_prices`` as for
        ``change_plan``."""
        ...


# -- usage-based add-ons (membership_sdk.usage) -------------------------------------------
@dataclass(frozen=True, slots=True)
class UsageReport:
    """Use beyond a membership's included quota, for the provider to bill.

    ``quantity`` units of the site's meter ``meter`` (the provider's own id for it:
    ``provider_meter``, Stripe's meter event name) at ``unit_amount`` minor units of
    ``currency`` each, used at ``when`` in the period ending ``period_end``.
    ``identifier`` is unique per use: a report sent twice is billed once.
    """

    subscription_id: str
    customer_id: str
    meter: str
    provider_meter: str
    quantity: int
    unit_amount: int
    currency: str
    identifier: str
    when: datetime
    period_end: datetime
    description: str = ""


@runtime_checkable
class UsageReporting(Protocol):
    """An optional capability: billing reported use with the subscription's next invoice
    (Stripe's billing meters, the ``fake`` provider's next renewal). The site reports
    each record's units beyond the included quota once, as it is recorded."""

    def report_usage(self, report: UsageReport) -> None:
        """Bill ``report`` with the subscription's next invoice; a report whose
        ``identifier`` was reported before changes nothing.

        :raises ProviderError: the provider failed (``retryable`` when worth retrying);
            the site keeps the report and sends it again later.
        """
        ...


@dataclass(frozen=True, slots=True)
class UsageInvoiceRequest:
    """A closed period's use beyond the included quota, to invoice on its own.

    ``quantity`` units of ``meter`` at ``unit_amount`` (``amount`` in all, minor units
    of ``currency``) in the period of ``subscription_id`` that ended at ``period_end``.
    ``identifier`` is the same for every attempt to invoice this period: the provider
    issues one invoice for it, however often it is asked.
    """

    subscription_id: str
    member_id: str
    meter: str
    quantity: int
    unit_amount: int
    amount: int
    currency: str
    period_end: datetime
    identifier: str
    description: str = ""


@runtime_checkable
class UsageInvoicing(Protocol):
    """An optional capability: invoicing a closed period's extra use as an invoice of
    its own (the ``manual`` provider: a bank-transfer invoice at the period's end)."""

    def invoice_usage(self, request: UsageInvoiceRequest) -> str:
        """Issue the invoice (or find the one issued for ``request.identifier``);
        returns its reference.

        :raises ProviderError: the provider failed; nothing was invoiced.
        """
        ...
