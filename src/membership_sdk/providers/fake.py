"""The ``fake`` payment provider: a simulated card checkout, for demos and tests.

Only use it in development or in test servers: nobody pays anything. It keeps a payment
service's state in memory (customers, checkout sessions, subscriptions, one-off
purchases) and reports every change as a webhook signed exactly as a real service
would, so a site exercises its whole billing path: signature checks, idempotency,
out-of-order delivery.

Configuration (``provider_config["fake"]``), every key optional:

``secret`` / ``secrets``
    the webhook signing secret, or a list while rotating (the first signs). With both
    set, all verify and ``secret`` signs. Without one, the public :data:`DEV_SECRET` is
    used and :attr:`FakeProvider.using_dev_secret` is true; the registry then takes the
    provider only in development mode (see :class:`~membership_sdk.plugins.Providers`), so
    a site running without it sets a secret of its own, even in its test suite.
``checkout_url``
    where the fake payment page lives; a session's url is ``f"{checkout_url}{id}/"``.
``portal_url``
    a billing-portal address (``{customer}`` is replaced); none by default.
``tolerance``
    seconds a webhook signature stays valid (300).
``clock``
    a callable returning the current aware datetime.
``state_file``
    a file keeping the simulated service's state across restarts (the demo site sets
    it); without one, the state lives and dies with the process. Ids never repeat either
    way: each carries a random token drawn per process.

A demo or test drives it with :meth:`FakeProvider.complete_checkout`,
:meth:`~FakeProvider.renew`, :meth:`~FakeProvider.fail_payment`,
:meth:`~FakeProvider.recover`, :meth:`~FakeProvider.expire` and
:meth:`~FakeProvider.refund`; each returns the :class:`~membership_sdk.providers.Webhook`
the service sends.
For dunning, :meth:`~FakeProvider.decline_card` makes a customer's card fail until
:meth:`~FakeProvider.update_payment_method`; :meth:`~FakeProvider.retry_payment` charges a
past-due subscription again (see ``docs/dunning.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..catalog import Interval
from ..discounts import Discount
from ..errors import ProviderError
from ..events import EventType, PurchaseState, SubscriptionSnapshot
from ..hookspecs import hookimpl
from ..membership import Status
from .base import CheckoutRequest, CheckoutSession, Provider, Refund, UsageReport, Webhook
from .settings import Setting, SettingsSpec
from .simulated import (
    SimulatedPurchase,
    SimulatedService,
    SimulatedSubscription,
    add_interval,
    discount_changes,
    options_from,
    refuse_unknown_code,
    secrets_from,
    simulated_settings,
    trial_end,
)
from .simulated_lifecycle import DiscountTerms, SimulatedPlans, renew_into_pending
from .webhooks import DEFAULT_TOLERANCE, utcnow

#: The signing secret used when none is configured. Development only: it is public.
DEV_SECRET = "fake-dev-only-secret-do-not-use-in-production"
SIGNATURE_HEADER = "Fake-Signature"
DEFAULT_CHECKOUT_URL = "/paywall/fake/checkout/"


@dataclass(slots=True)
class FakeCheckout:
    """A checkout session at the fake service: what is sold, to whom, and how it ended.

    ``state`` is ``"open"``, ``"complete"`` or ``"failed"``; ``result`` is the id of the
    subscription or purchase it created.
    """

    id: str
    member_id: str
    customer_id: str
    price: str
    interval: Interval
    amount: int
    currency: str
    trial_days: int
    idempotency_key: str
    success_url: str
    cancel_url: str
    state: str = "open"
    result: str | None = None
    #: The coupon or intro offer the subscription starts with.
    discount: Discount | None = None


@dataclass(frozen=True, slots=True)
class FakeUsageInvoice:
    """Use billed with a renewal of ``subscription``: the renewal of the period that
    ended at ``period_end`` was charged ``amount`` more for ``lines``. ``final``: a
    charge of its own when the subscription ended (the last period's use, which no
    renewal bills; as Stripe's final invoice of a subscription with metered prices)."""

    subscription: str
    period_end: datetime
    lines: tuple[UsageReport, ...]
    amount: int
    final: bool = False


class FakeProvider(SimulatedPlans):
    """A payment provider that simulates a card payment service in memory."""

    state_attributes = (*SimulatedService.state_attributes, "sessions", "_by_key", "refunded")
    settings_spec = SettingsSpec(
        (
            *simulated_settings(DEV_SECRET),
            Setting("checkout_url", "where the fake payment page lives"),
            Setting("state_file", "a file keeping the simulated state across restarts"),
        ),
        receives_webhooks=True,
        # Its payment page takes no money: anyone who opens it gets the membership.
        development_only=True,
    )
    #: Customers whose card is declined (:meth:`FakeProvider.decline_card`) is state too.
    state_attributes = (
        *state_attributes,
        "declining",
        "latest_payment",
        "period_rate",
        "discount_terms",
        "usage_due",
        "usage_reported",
        "usage_invoices",
    )

    def __init__(
        self,
        *,
        secrets: str | Sequence[str] = DEV_SECRET,
        checkout_url: str = DEFAULT_CHECKOUT_URL,
        portal_url: str | None = None,
        tolerance: float = DEFAULT_TOLERANCE,
        clock: Callable[[], datetime] = utcnow,
        name: str = "fake",
        state_file: str | Path | None = None,
    ) -> None:
        super().__init__(
            name,
            secrets=secrets,
            signature_header=SIGNATURE_HEADER,
            tolerance=tolerance,
            clock=clock,
            portal_url=portal_url,
            state_file=state_file,
        )
        self.checkout_url = checkout_url
        self.sessions: dict[str, FakeCheckout] = {}
        self._by_key: dict[str, str] = {}
        #: The period end whose payment was refunded last, by subscription id.
        self.refunded: dict[str, datetime] = {}
        #: Customer ids whose card fails every charge until they update it (dunning).
        self.declining: set[str] = set()
        #: What each subscription's latest payment charged (a refund pays that back).
        self.latest_payment: dict[str, int] = {}
        #: What each subscription's current period is charged at (an upgrade credits it).
        self.period_rate: dict[str, int] = {}
        #: The terms of each subscription's coupon (a plan change applies them anew).
        self.discount_terms: dict[str, DiscountTerms] = {}
        #: Reported use beyond the included quota, by subscription id, billed with its
        #: next renewal (:meth:`report_usage`), and the identifiers reported so far.
        self.usage_due: dict[str, list[UsageReport]] = {}
        self.usage_reported: set[str] = set()
        #: The renewals that billed usage: subscription id, the period end the renewal
        #: paid from, the usage lines and what they added to the charge.
        self.usage_invoices: list[FakeUsageInvoice] = []
        self.restore()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> FakeProvider:
        """Build from a ``provider_config["fake"]`` mapping: the keys of
        :attr:`settings_spec` (see the module docstring); other keys are not read."""
        spec = cls.settings_spec
        return cls(secrets=secrets_from(config, spec), **options_from(config, spec))

    # -- Provider API ----------------------------------------------------------------------
    def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        """Open a checkout session; the same ``idempotency_key`` returns the same session.

        :raises ProviderError: code ``idempotency_conflict`` when the key was used for
            another member or price.
        """
        self.call("create_checkout")
        refuse_unknown_code(self.name, request)
        existing = self._by_key.get(request.idempotency_key)
        if existing is not None:
            checkout = self.sessions[existing]
            if (checkout.member_id, checkout.price) != (request.member_id, request.provider_price):
                raise ProviderError(
                    f"fake: idempotency key {request.idempotency_key!r} was used for member "
                    f"{checkout.member_id!r} and price {checkout.price!r}, not for member "
                    f"{request.member_id!r} and price {request.provider_price!r}",
                    code="idempotency_conflict",
                )
        else:
            checkout = FakeCheckout(
                id=self.new_id("cs_fake"),
                member_id=request.member_id,
                customer_id=self.customer_for(request.member_id, request.customer_id),
                price=request.provider_price,
                interval=request.price.interval,
                # A one-off purchase is charged once: at its discount (a member price).
                amount=request.discount.amount
                if request.discount is not None and not request.price.recurring
                else request.price.amount,
                currency=request.price.currency,
                trial_days=request.trial_days,
                idempotency_key=request.idempotency_key,
                success_url=request.success_url,
                cancel_url=request.cancel_url,
                discount=request.discount,
            )
            self.sessions[checkout.id] = checkout
            self._by_key[request.idempotency_key] = checkout.id
            self.persist()
        return CheckoutSession(
            provider=self.name,
            id=checkout.id,
            url=f"{self.checkout_url}{checkout.id}/",
            customer_id=checkout.customer_id,
        )

    # -- simulation ------------------------------------------------------------------------
    def checkout(self, session_id: str) -> FakeCheckout:
        """The session with ``session_id`` (for a fake payment page to show what is sold).

        :raises ProviderError: code ``no_such_session``.
        """
        checkout = self.sessions.get(session_id)
        if checkout is None:
            raise ProviderError(f"fake: no checkout session {session_id!r}", code="no_such_session")
        return checkout

    def complete_checkout(self, session_id: str, *, succeed: bool = True) -> Webhook:
        """The customer submits the payment form.

        A recurring price starts a subscription, trialing when the checkout asked for
        trial days, else active for one interval; ``incomplete`` when the payment fails.
        A one-off price records a paid purchase (a failed one sends ``checkout.failed``,
        which sites ignore).

        :raises ProviderError: code ``no_such_session``, or ``session_closed`` when the
            session was already completed.
        """
        checkout = self.checkout(session_id)
        if checkout.state != "open":
            raise ProviderError(
                f"fake: checkout session {session_id!r} is already {checkout.state}",
                code="session_closed",
            )
        now = self.now()
        checkout.state = "complete" if succeed else "failed"
        if checkout.interval is Interval.ONE_OFF:
            if not succeed:
                return self.emit_other("checkout.failed", {"object": "checkout", "id": checkout.id})
            purchase = SimulatedPurchase(
                id=self.new_id("pur_fake"),
                customer_id=checkout.customer_id,
                member_id=checkout.member_id,
                price=checkout.price,
                state=PurchaseState.PAID,
                paid_at=now,
                checkout_id=checkout.id,
            )
            self.purchases[purchase.id] = purchase
            checkout.result = purchase.id
            return self.emit(EventType.PURCHASE_COMPLETED, purchase)
        trial = trial_end(now, checkout.trial_days) if succeed else None
        if not succeed:
            status, period_end = Status.INCOMPLETE, None
        elif trial is not None:
            status, period_end = Status.TRIALING, trial
        else:
            status, period_end = Status.ACTIVE, add_interval(now, checkout.interval)
        sub = SimulatedSubscription(
            id=self.new_id("sub_fake"),
            customer_id=checkout.customer_id,
            member_id=checkout.member_id,
            price=checkout.price,
            interval=checkout.interval,
            status=str(status),
            started_at=now,
            current_period_end=period_end,
            trial_end=trial,
            list_amount=checkout.amount,
        )
        discount = checkout.discount
        if discount is not None and succeed:
            sub.amount, sub.coupon = discount.amount, discount.code
            sub.discount_ends_at = discount.ends_at(trial or now)
            if discount.code:
                self.discount_terms[sub.id] = (
                    discount.code,
                    discount.percent_off,
                    discount.amount_off,
                )
        if status is Status.ACTIVE:
            self._paid(sub, sub.charge_for(now))
        self.subscriptions[sub.id] = sub
        checkout.result = sub.id
        return self.emit(EventType.SUBSCRIPTION_CREATED, sub)

    def renew(self, subscription_id: str) -> Webhook:
        """The next period's payment succeeded: active for one more interval (a trial
        converts to paid).

        :raises ProviderError: code ``subscription_ended``, or ``not_renewable`` for a
            subscription set to cancel at its period's end or one that is past due
            (use :meth:`recover`) or incomplete.
        """
        sub = self._live(subscription_id, "renew")
        if sub.cancel_at_period_end or sub.status not in (Status.ACTIVE, Status.TRIALING):
            state = "set to cancel" if sub.cancel_at_period_end else sub.status
            raise ProviderError(
                f"fake: subscription {sub.id!r} does not renew: it is {state}",
                code="not_renewable",
            )
        return self._extend(sub)

    def recover(self, subscription_id: str) -> Webhook:
        """A past-due subscription's payment finally succeeded: active again, for the
        period that was due.

        :raises ProviderError: code ``not_past_due``.
        """
        sub = self._live(subscription_id, "recover")
        if sub.status != Status.PAST_DUE:
            raise ProviderError(
                f"fake: subscription {sub.id!r} is {sub.status}, not past_due; nothing to recover",
                code="not_past_due",
            )
        return self._extend(sub)

    # -- dunning: a card that fails until the member updates it --------------------------------
    def decline_card(self, customer_id: str) -> None:
        """Make the customer's card fail every charge (the retries of
        :meth:`retry_payment` too) until :meth:`update_payment_method`."""
        self.declining.add(customer_id)
        self.persist()

    def retry_payment(self, subscription_id: str) -> Webhook:
        """The :class:`~membership_sdk.dunning.RetriesPayments` capability: charge a
        past-due subscription again. A declined card fails again (``payment.failed``, still
        past due); otherwise it recovers as :meth:`recover` does.

        :raises ProviderError: code ``subscription_ended``, or ``not_past_due``.
        """
        self.call("retry_payment")
        sub = self._live(subscription_id, "retry a payment of")
        if sub.status != Status.PAST_DUE:
            raise ProviderError(
                f"fake: subscription {sub.id!r} is {sub.status}, not past_due; nothing to retry",
                code="not_past_due",
            )
        if sub.customer_id in self.declining:
            return self.change(sub, EventType.PAYMENT_FAILED)
        return self._extend(sub)

    def update_payment_method(self, customer_id: str) -> list[Webhook]:
        """The member entered a working card on the fake hosted page: charges succeed
        again and each past-due subscription of theirs is charged at once (as a billing
        portal pays the open invoice). Returns those webhooks (none when nothing was due)."""
        self.call("update_payment_method")
        self.declining.discard(customer_id)
        self.persist()
        due = [
            sub
            for _, sub in sorted(self.subscriptions.items())
            if sub.customer_id == customer_id and sub.status == Status.PAST_DUE
        ]
        return [self._extend(sub) for sub in due]

    def _extend(self, sub: SimulatedSubscription) -> Webhook:
        base = sub.current_period_end or self.now()
        sub.end_discount_by(base)
        # A downgrade waiting for this renewal applies now.
        moved = renew_into_pending(sub, base, self._terms(sub))
        charged = moved.get("amount", sub.amount)  # what this renewal is charged
        rate = moved.get("list_amount", sub.list_amount) if charged is None else charged
        usage = self._bill_usage(sub, base)
        self._paid(sub, None if rate is None else rate + usage, rate)
        return self.change(
            sub,
            EventType.PAYMENT_SUCCEEDED,
            status=str(Status.ACTIVE),
            current_period_end=add_interval(base, moved.get("interval", sub.interval)),
            **moved,
        )

    # -- usage-based add-ons (membership_sdk.usage) --------------------------------------
    def report_usage(self, report: UsageReport) -> None:
        """The :class:`~membership_sdk.providers.UsageReporting` capability: the use is
        billed with the subscription's next renewal (:meth:`renew`), once per
        ``identifier``, at the report's ``unit_amount``. A subscription that ends
        (:meth:`expire`, or canceled now) has its use not billed yet charged at once,
        in a final usage invoice; so is use reported after it ended (a retried report)."""
        self.call("report_usage")
        sub = self.subscription(report.subscription_id)
        if report.identifier in self.usage_reported:
            return
        self.usage_reported.add(report.identifier)
        self.usage_due.setdefault(report.subscription_id, []).append(report)
        if sub.ended:
            self._bill_final_usage(sub)
        self.persist()

    def expire(self, subscription_id: str) -> Webhook:
        """The subscription ended without a renewal (its term ran out, a cancellation at
        the period's end, dunning gave up): the use of its last period, which no renewal
        bills, is charged in a final usage invoice."""
        self._bill_final_usage(self._live(subscription_id, "expire"))
        return super().expire(subscription_id)

    def cancel_subscription(
        self, subscription_id: str, *, at_period_end: bool = True
    ) -> SubscriptionSnapshot:
        """As :meth:`SimulatedService.cancel_subscription`; canceled now, the use not
        billed yet is charged in a final usage invoice (as Stripe's ``invoice_now``)."""
        snapshot = super().cancel_subscription(subscription_id, at_period_end=at_period_end)
        if not at_period_end:
            self._bill_final_usage(self.subscription(subscription_id))
            self.persist()
        return snapshot

    def _bill_final_usage(self, sub: SimulatedSubscription) -> None:
        """Charge every use of ``sub`` not billed yet on its own: it renews no more."""
        due = self.usage_due.pop(sub.id, [])
        if not due:
            return
        amount = sum(r.quantity * r.unit_amount for r in due)
        end = max(r.period_end for r in due)
        self.usage_invoices.append(FakeUsageInvoice(sub.id, end, tuple(due), amount, final=True))

    def _bill_usage(self, sub: SimulatedSubscription, period_end: datetime) -> int:
        """Add the use reported for periods ending by ``period_end`` to this renewal:
        returns what it adds to the charge, and keeps the lines in ``usage_invoices``."""
        due = self.usage_due.get(sub.id, [])
        lines = [r for r in due if r.period_end <= period_end]
        if not lines:
            return 0
        self.usage_due[sub.id] = [r for r in due if r.period_end > period_end]
        amount = sum(r.quantity * r.unit_amount for r in lines)
        self.usage_invoices.append(FakeUsageInvoice(sub.id, period_end, tuple(lines), amount))
        # Use priced in another currency than the subscription is charged separately.
        checkout = self._checkout_of(sub.id)
        same = checkout is None or all(r.currency == checkout.currency for r in lines)
        return amount if same else 0

    # -- refunds ---------------------------------------------------------------------------
    def purchase_amount(self, purchase_id: str) -> tuple[int, str]:
        checkout = self._checkout_of(purchase_id)
        return (checkout.amount, checkout.currency) if checkout else (0, "")

    def _checkout_of(self, result: str) -> FakeCheckout | None:
        return next((c for c in self.sessions.values() if c.result == result), None)

    def refund_latest_payment(self, subscription_id: str) -> Refund:
        """The :class:`~membership_sdk.providers.SubscriptionRefunds` capability: pay back
        the payment of the period paid last, once. A trial or an incomplete subscription
        has paid nothing (code ``nothing_to_refund``)."""
        self.call("refund_latest_payment")
        sub = self.subscription(subscription_id)
        paid = sub.current_period_end
        if paid is None or Status.parse(sub.status) in (Status.TRIALING, Status.INCOMPLETE):
            raise ProviderError(
                f"fake: subscription {sub.id!r} is {sub.status}: it has paid nothing to refund",
                code="nothing_to_refund",
            )
        if self.refunded.get(sub.id) == paid:
            raise ProviderError(
                f"fake: the latest payment of subscription {sub.id!r} is already refunded",
                code="already_refunded",
            )
        self.refunded[sub.id] = paid
        self.persist()
        checkout = self._checkout_of(sub.id)
        amount, currency = (checkout.amount, checkout.currency) if checkout else (0, "")
        # What the latest payment charged (a renewal, an upgrade's prorated difference);
        # for a subscription from before the service recorded it, what a period costs.
        charged = self.latest_payment.get(sub.id)
        if charged is None:
            charged = sub.amount if sub.amount is not None else sub.list_amount
        amount = charged if charged is not None else amount
        return Refund(f"{sub.id}:{int(paid.timestamp())}", amount, currency, sub.id, paid)

    def apply_discount(
        self,
        subscription_id: str,
        *,
        code: str,
        percent_off: int | None = None,
        amount_off: int | None = None,
        months: int | None = None,
    ) -> SubscriptionSnapshot:
        """The :class:`~membership_sdk.providers.SubscriptionDiscounts` capability:
        renewals from the end of the current period cost the discounted amount, for
        ``months`` months or for ever (``None``)."""
        self.call("apply_discount")
        sub = self._live(subscription_id, "discount")
        changes = discount_changes(
            self.name,
            sub,
            self.now(),
            code=code,
            percent_off=percent_off,
            amount_off=amount_off,
            months=months,
        )
        self.discount_terms[sub.id] = (code, percent_off, amount_off)
        self.change(sub, EventType.SUBSCRIPTION_UPDATED, **changes)
        return sub.snapshot()


@hookimpl
def membership_register_providers(
    register: Callable[[Provider], None], config: Mapping[str, Mapping[str, Any]]
) -> None:
    """Register the ``fake`` provider (development and tests only: nobody pays). Without a
    secret of its own the registry takes it only in development mode."""
    provider: Provider = FakeProvider.from_config(config.get("fake", {}))
    register(provider)
