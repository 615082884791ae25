"""An in-memory payment service: the state the ``fake`` and ``manual`` providers keep.

:class:`SimulatedService` holds customers, subscriptions and one-off purchases the way a
remote payment service would, bumps each object's ``version`` on every change, and
reports every change as a signed webhook appended to :attr:`SimulatedService.outbox`.
Subclasses add how a customer pays (a fake card form, a confirmed bank transfer).
"""

from __future__ import annotations

import bisect
import calendar
import dataclasses
import json
import pickle
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from secrets import token_hex
from typing import Any

from ..catalog import Interval
from ..errors import CouponError, PluginError, ProviderError
from ..events import (
    BillingEvent,
    EventType,
    PurchaseSnapshot,
    PurchaseState,
    SubscriptionSnapshot,
)
from ..membership import TERMINAL, Status
from .base import CheckoutRequest, ListedSubscription, Refund, SubscriptionPage, Webhook
from .settings import Setting, SettingsSpec
from .webhooks import DEFAULT_TOLERANCE, WebhookSigner, decode_event, encode_event, utcnow


def add_interval(moment: datetime, interval: Interval | str, count: int = 1) -> datetime:
    """``moment`` moved ``count`` calendar months or years on (Jan 31 + 1 month = Feb 28/29)."""
    interval = Interval(interval)
    if interval is Interval.ONE_OFF:
        raise ValueError("a one-off price has no billing interval")
    months = count * (12 if interval is Interval.YEAR else 1)
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


@dataclass(slots=True)
class SimulatedSubscription:
    """A subscription as the simulated service stores it (mutable; snapshots are not)."""

    id: str
    customer_id: str
    member_id: str | None
    price: str
    interval: Interval
    status: str
    started_at: datetime
    current_period_end: datetime | None
    trial_end: datetime | None = None
    cancel_at_period_end: bool = False
    canceled_at: datetime | None = None
    version: int = 1
    #: The price's list amount per period (``None``: not known to the service).
    list_amount: int | None = None
    #: What a period costs while ``discount_ends_at`` has not come (``None``: no discount).
    amount: int | None = None
    coupon: str = ""
    discount_ends_at: datetime | None = None
    #: Plan changes and pauses (see :mod:`membership_sdk.lifecycle`): when it moved to
    #: its current price, when a pause ends, and a change waiting for the period's end
    #: (or, at the ``manual`` provider, for ``pending_invoice`` to be paid).
    price_since: datetime | None = None
    paused_until: datetime | None = None
    pending_price: str | None = None
    pending_interval: Interval | None = None
    pending_amount: int | None = None
    pending_invoice: str | None = None

    def charge_for(self, period_start: datetime) -> int | None:
        """What the period starting at ``period_start`` costs: the discounted ``amount``
        while the discount lasts, else ``list_amount``."""
        if self.amount is not None and (
            self.discount_ends_at is None or period_start < self.discount_ends_at
        ):
            return self.amount
        return self.list_amount

    def end_discount_by(self, period_start: datetime) -> None:
        """Drop a discount that has ended by ``period_start`` (renewals then charge the
        list price, and the snapshot says so)."""
        if self.discount_ends_at is not None and period_start >= self.discount_ends_at:
            self.amount, self.coupon, self.discount_ends_at = None, "", None

    def snapshot(self) -> SubscriptionSnapshot:
        return SubscriptionSnapshot(
            id=self.id,
            customer_id=self.customer_id,
            price=self.price,
            status=Status.parse(self.status),
            version=self.version,
            current_period_end=self.current_period_end,
            started_at=self.started_at,
            trial_end=self.trial_end,
            cancel_at_period_end=self.cancel_at_period_end,
            canceled_at=self.canceled_at,
            raw_status=self.status,
            amount=self.amount,
            coupon=self.coupon,
            discount_ends_at=self.discount_ends_at,
            price_since=self.price_since or self.started_at,
            paused_until=self.paused_until,
        )

    @property
    def ended(self) -> bool:
        return Status.parse(self.status) in TERMINAL


@dataclass(slots=True)
class SimulatedPurchase:
    """A one-off payment as the simulated service stores it."""

    id: str
    customer_id: str
    member_id: str | None
    price: str
    state: PurchaseState
    paid_at: datetime
    version: int = 1
    checkout_id: str = ""

    def snapshot(self) -> PurchaseSnapshot:
        return PurchaseSnapshot(
            id=self.id,
            customer_id=self.customer_id,
            price=self.price,
            state=self.state,
            version=self.version,
            paid_at=self.paid_at,
            checkout_id=self.checkout_id,
        )


@dataclass(slots=True)
class _Counters:
    ids: dict[str, int] = field(default_factory=dict)

    def next(self, prefix: str) -> int:
        self.ids[prefix] = number = self.ids.get(prefix, 0) + 1
        return number


class SimulatedService:
    """Base class of providers that keep the payment service's state in this process.

    :param name: the provider name events carry.
    :param secrets: webhook secrets; the first signs, all verify.
    :param signature_header: the header carrying the signature.
    :param tolerance: seconds a webhook signature stays valid.
    :param clock: returns the current aware datetime.
    :param portal_url: a billing-portal address; ``{customer}`` is replaced by the
        customer id. ``None``: no portal.
    :param state_file: a file to keep the service's state in across restarts (the demo
        site uses it, so a restarted server still knows its subscriptions). Written with
        :mod:`pickle`: development only, never a file anyone else can write.

    Ids (``sub_fake_000001_3fa9c0b2d1``) are a counter and a random token drawn by each
    instance, so they never repeat across restarts or processes: a site's webhook inbox
    drops an event whose id it has seen, and a payment made after a restart must not be
    taken for one made before it.
    """

    refetch_subscriptions = False
    #: Set by each subclass: every key its ``from_config`` reads (see :func:`simulated_settings`).
    settings_spec: SettingsSpec
    #: Attributes that make up the service's state, saved to ``state_file``.
    state_attributes: tuple[str, ...] = ("customers", "subscriptions", "purchases", "_ids")

    def __init__(
        self,
        name: str,
        *,
        secrets: str | Sequence[str],
        signature_header: str,
        tolerance: float = DEFAULT_TOLERANCE,
        clock: Callable[[], datetime] = utcnow,
        portal_url: str | None = None,
        state_file: str | Path | None = None,
    ) -> None:
        self.name = name
        self.state_file = Path(state_file) if state_file is not None else None
        self.clock = clock
        self.signer = WebhookSigner(
            secrets, header=signature_header, tolerance=tolerance, clock=clock
        )
        self.portal = portal_url
        #: Customer id by member id: one customer per member, reused by every checkout.
        self.customers: dict[str, str] = {}
        self.subscriptions: dict[str, SimulatedSubscription] = {}
        self.purchases: dict[str, SimulatedPurchase] = {}
        #: Every webhook this service sent, oldest first.
        self.outbox: list[Webhook] = []
        self._ids = _Counters()
        #: Drawn per instance and never saved: ids stay unique when the counters restart
        #: (no ``state_file``) or are shared (two processes restoring one file).
        self._run = token_hex(5)
        self._unreachable: str | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    @property
    def using_dev_secret(self) -> bool:
        """Whether webhooks verify under a public development default of the spec."""
        return not self.settings_spec.public_defaults().isdisjoint(self.signer.secrets)

    # -- state kept across restarts ----------------------------------------------------------
    def restore(self) -> None:
        """Load the state saved in ``state_file``, if there is one (subclasses call this
        at the end of ``__init__``, once all their state attributes exist)."""
        if self.state_file is None or not self.state_file.exists():
            return
        # Our own dev-only file (see the class docstring), never one from elsewhere.
        state = pickle.loads(self.state_file.read_bytes())
        for attribute in self.state_attributes:
            if attribute in state:
                setattr(self, attribute, state[attribute])
                if isinstance(state[attribute], dict):
                    for record in state[attribute].values():
                        _fill_new_fields(record)

    def persist(self) -> None:
        """Save the state to ``state_file`` (atomically), if one is configured."""
        if self.state_file is None:
            return
        state = {attribute: getattr(self, attribute) for attribute in self.state_attributes}
        partial = self.state_file.with_suffix(self.state_file.suffix + ".tmp")
        partial.write_bytes(pickle.dumps(state))
        partial.replace(self.state_file)

    # -- helpers for subclasses --------------------------------------------------------------
    def now(self) -> datetime:
        # Webhooks carry whole seconds; keeping the same precision makes fetched and
        # delivered snapshots equal.
        return self.clock().replace(microsecond=0)

    def new_id(self, prefix: str) -> str:
        """A new id beginning with ``prefix``, unique across restarts and processes."""
        return f"{prefix}_{self._ids.next(prefix):06d}_{self._run}"

    def customer_for(self, member_id: str, customer_id: str | None = None) -> str:
        """The member's customer id, created on first use (or adopting ``customer_id``,
        which a site stored from an earlier run of this service)."""
        existing = self.customers.get(member_id)
        if existing is None:
            existing = customer_id or self.new_id(f"cus_{self.name}")
            self.customers[member_id] = existing
        return existing

    def call(self, operation: str) -> None:
        """Start an API call: fails as an outage would while :meth:`simulate_outage` is on."""
        if self._unreachable is not None:
            try:
                raise ConnectionError(self._unreachable)
            except ConnectionError as exc:
                raise ProviderError(
                    f"{self.name}: {operation} failed: the payment service is unreachable",
                    code="unreachable",
                    provider_message=str(exc),
                    retryable=True,
                ) from exc

    def subscription(self, subscription_id: str) -> SimulatedSubscription:
        """The stored subscription, or :class:`ProviderError` (code ``no_such_subscription``)."""
        sub = self.subscriptions.get(subscription_id)
        if sub is None:
            raise ProviderError(
                f"{self.name}: no subscription {subscription_id!r}",
                code="no_such_subscription",
            )
        return sub

    def purchase(self, purchase_id: str) -> SimulatedPurchase:
        """The stored purchase, or :class:`ProviderError` (code ``no_such_purchase``)."""
        purchase = self.purchases.get(purchase_id)
        if purchase is None:
            raise ProviderError(
                f"{self.name}: no purchase {purchase_id!r}", code="no_such_purchase"
            )
        return purchase

    def _live(self, subscription_id: str, action: str) -> SimulatedSubscription:
        sub = self.subscription(subscription_id)
        if sub.ended:
            raise ProviderError(
                f"{self.name}: cannot {action} subscription {sub.id!r}: it is {sub.status}",
                code="subscription_ended",
            )
        return sub

    def emit(
        self, type: EventType | str, record: SimulatedSubscription | SimulatedPurchase
    ) -> Webhook:
        """Send a webhook carrying ``record``'s current state; returns it (also in the outbox)."""
        body = encode_event(
            self.new_id(f"evt_{self.name}"),
            str(type),
            self.now(),
            record.snapshot(),
            member_id=record.member_id,
        )
        webhook = self.signer.sign(body)
        self.outbox.append(webhook)
        self.persist()
        return webhook

    def emit_other(self, type: str, data: Mapping[str, Any]) -> Webhook:
        """Send a webhook of a type sites ignore (``checkout.failed``)."""
        body = json.dumps(
            {
                "id": self.new_id(f"evt_{self.name}"),
                "type": type,
                "created": int(self.now().timestamp()),
                "data": dict(data),
            },
            sort_keys=True,
        ).encode()
        webhook = self.signer.sign(body)
        self.outbox.append(webhook)
        self.persist()
        return webhook

    def change(self, sub: SimulatedSubscription, type: EventType | str, **changes: Any) -> Webhook:
        """Change a subscription, bump its version and send a webhook about it."""
        for key, value in changes.items():
            setattr(sub, key, value)
        sub.version += 1
        return self.emit(type, sub)

    # -- simulation: what happens at the payment service ---------------------------------------
    def simulate_outage(self, message: str | None = "connection refused") -> None:
        """Make every API call fail as if the service were down; ``None`` ends the outage."""
        self._unreachable = message

    def fail_payment(self, subscription_id: str) -> Webhook:
        """A renewal payment failed: the subscription becomes past due."""
        sub = self._live(subscription_id, "fail a payment of")
        return self.change(sub, EventType.PAYMENT_FAILED, status=str(Status.PAST_DUE))

    def expire(self, subscription_id: str) -> Webhook:
        """The subscription ended without a renewal (dunning gave up, or its term ran out)."""
        sub = self._live(subscription_id, "expire")
        return self.change(sub, EventType.SUBSCRIPTION_DELETED, status=str(Status.EXPIRED))

    def set_status(self, subscription_id: str, status: str) -> Webhook:
        """Give a subscription any status word, including ones the SDK does not know."""
        return self.change(
            self.subscription(subscription_id), EventType.SUBSCRIPTION_UPDATED, status=status
        )

    def refund(self, purchase_id: str) -> Webhook:
        """Refund a one-off purchase; the site revokes what it bought."""
        purchase = self.purchase(purchase_id)
        if purchase.state is PurchaseState.REFUNDED:
            raise ProviderError(
                f"{self.name}: purchase {purchase_id!r} is already refunded",
                code="already_refunded",
            )
        purchase.state = PurchaseState.REFUNDED
        purchase.version += 1
        return self.emit(EventType.PURCHASE_REFUNDED, purchase)

    def refund_purchase(self, purchase_id: str) -> Refund:
        """The :class:`~membership_sdk.providers.PurchaseRefunds` capability: :meth:`refund`
        as an API call (it fails during a simulated outage)."""
        self.call("refund_purchase")
        self.refund(purchase_id)
        amount, currency = self.purchase_amount(purchase_id)
        return Refund(purchase_id, amount, currency)

    def purchase_amount(self, purchase_id: str) -> tuple[int, str]:
        """What ``purchase_id`` cost (``0`` and ``""`` when the service cannot say);
        subclasses that know their checkouts override it."""
        return 0, ""

    # -- the Provider API ----------------------------------------------------------------------
    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Sequence[BillingEvent]:
        """Verify the signature, then read the event (see :mod:`.webhooks`)."""
        self.signer.verify(headers, body)
        return decode_event(self.name, body)

    def fetch_subscription(self, subscription_id: str) -> SubscriptionSnapshot | None:
        self.call("fetch_subscription")
        sub = self.subscriptions.get(subscription_id)
        return None if sub is None else sub.snapshot()

    def list_subscriptions(self, *, after: str | None = None, limit: int = 100) -> SubscriptionPage:
        """Every stored subscription, ended ones too, in id order, ``limit`` at a time."""
        self.call("list_subscriptions")
        ids = sorted(self.subscriptions)
        start = bisect.bisect_right(ids, after) if after else 0
        page = ids[start : start + limit]
        listed = tuple(
            ListedSubscription(self.subscriptions[i].snapshot(), self.subscriptions[i].member_id)
            for i in page
        )
        more = start + limit < len(ids)
        return SubscriptionPage(listed, page[-1] if more and page else None, total=len(ids))

    def cancel_subscription(
        self, subscription_id: str, *, at_period_end: bool = True
    ) -> SubscriptionSnapshot:
        """Cancel at the period's end (access continues until then) or now (access ends now).

        Also sends the ``subscription.updated`` or ``subscription.deleted`` webhook a real
        service would.
        """
        self.call("cancel_subscription")
        sub = self._live(subscription_id, "cancel")
        now = self.now()
        if at_period_end:
            self.change(
                sub, EventType.SUBSCRIPTION_UPDATED, cancel_at_period_end=True, canceled_at=now
            )
        else:
            self.change(
                sub,
                EventType.SUBSCRIPTION_DELETED,
                status=str(Status.CANCELED),
                cancel_at_period_end=False,
                canceled_at=now,
                current_period_end=now,
            )
        return sub.snapshot()

    def cancel_subscription_at(self, subscription_id: str, at: datetime) -> SubscriptionSnapshot:
        """The :class:`~membership_sdk.providers.ScheduledCancellation` capability: end
        at ``at``, inside the paid period (see :func:`~membership_sdk.cancellation.ending_at`)."""
        from ..cancellation import ending_at

        self.call("cancel_subscription_at")
        sub = self._live(subscription_id, "cancel")
        self.change(
            sub, EventType.SUBSCRIPTION_UPDATED, **ending_at(self.name, sub, at, self.now())
        )
        return sub.snapshot()

    def resume_subscription(self, subscription_id: str) -> SubscriptionSnapshot:
        """Undo a cancel-at-period-end; the subscription renews again."""
        self.call("resume_subscription")
        return resume_canceling(self.name, self._live(subscription_id, "resume"), self.change)

    def portal_url(self, customer_id: str, return_url: str) -> str | None:
        self.call("portal_url")
        if self.portal is None:
            return None
        return self.portal.replace("{customer}", customer_id)


def refuse_unknown_code(name: str, request: CheckoutRequest) -> None:
    """Raise :class:`CouponError` (``unknown``) for a checkout whose code the program did
    not resolve to a discount: the simulated providers keep no codes of their own."""
    code = request.coupon
    discount = request.discount
    if code and (discount is None or discount.code.casefold() != code.strip().casefold()):
        raise CouponError(
            f"{name}: unknown coupon code {code!r}: it is not in the site's catalog",
            code=code,
            reason="unknown",
        )


def discount_changes(
    name: str,
    sub: SimulatedSubscription,
    now: datetime,
    *,
    code: str,
    percent_off: int | None,
    amount_off: int | None,
    months: int | None,
) -> dict[str, Any]:
    """The fields that put a discount on ``sub``'s coming periods (from the end of the
    current one, or ``now``), for ``months`` months or for ever: the
    :class:`~membership_sdk.providers.SubscriptionDiscounts` capability of the simulated
    providers. A discount already on it is replaced.

    :raises ProviderError: code ``unknown_amount`` when the subscription's list amount
        is not known (one created before the service recorded it).
    """
    from ..discounts import discounted

    if sub.list_amount is None:
        raise ProviderError(
            f"{name}: subscription {sub.id!r} does not record its price's amount, so it "
            "cannot be discounted",
            code="unknown_amount",
        )
    start = max(sub.current_period_end or now, now)
    return {
        "amount": discounted(sub.list_amount, percent_off=percent_off, amount_off=amount_off),
        "coupon": code,
        "discount_ends_at": add_interval(start, Interval.MONTH, months) if months else None,
    }


def _fill_new_fields(record: object) -> None:
    """Give a record saved by an older version the defaults of fields added since (a
    slotted dataclass unpickles without them)."""
    if not dataclasses.is_dataclass(record):
        return
    for spec in dataclasses.fields(record):
        if hasattr(record, spec.name):
            continue
        if spec.default is not dataclasses.MISSING:
            object.__setattr__(record, spec.name, spec.default)
        elif spec.default_factory is not dataclasses.MISSING:
            object.__setattr__(record, spec.name, spec.default_factory())


def resume_canceling(
    name: str, sub: SimulatedSubscription, change: Callable[..., Webhook]
) -> SubscriptionSnapshot:
    """Undo ``sub``'s cancel-at-period-end through ``change`` (the provider's, which saves
    it and reports it as a webhook); :class:`ProviderError` (``not_canceling``) if it was
    not set to cancel. Shared by the simulated providers."""
    if not sub.cancel_at_period_end:
        raise ProviderError(
            f"{name}: subscription {sub.id!r} is not set to cancel; nothing to resume",
            code="not_canceling",
        )
    change(sub, EventType.SUBSCRIPTION_UPDATED, cancel_at_period_end=False, canceled_at=None)
    return sub.snapshot()


def simulated_settings(dev_secret: str | None) -> tuple[Setting, ...]:
    """The settings every simulated service reads: its webhook secret(s), and
    ``portal_url``, ``tolerance`` and ``clock``.

    With a ``dev_secret``, an unset secret falls back to that public value, which hosts
    accept only in development mode; with ``None`` there is no fallback and a site must
    set one."""
    fallback = (
        "; without one, a public development secret (development mode only)"
        if dev_secret is not None
        else "; required to receive webhooks"
    )
    return (
        Setting(
            "secret",
            "the webhook signing secret" + fallback,
            secret=True,
            verifies_webhooks=True,
            dev_default=dev_secret,
        ),
        Setting(
            "secrets",
            "several webhook signing secrets while one is rotated; all verify, the first "
            "signs unless secret is set too (a string here is one secret)",
            secret=True,
            many=True,
            verifies_webhooks=True,
            dev_default=dev_secret,
        ),
        Setting("portal_url", "a billing-portal address; {customer} is replaced"),
        Setting("tolerance", "seconds a webhook signature stays valid (300)"),
        Setting("clock", "a callable returning the current aware datetime (for tests)"),
    )


def secrets_from(config: Mapping[str, Any], spec: SettingsSpec) -> list[str]:
    """The webhook secrets to build a simulated service with: the first signs, all verify.

    Returns the secrets ``config`` sets under ``spec``'s webhook-secret keys, in
    declaration order, lists flattened, empty values and repeats dropped (see
    :meth:`~membership_sdk.providers.SettingsSpec.webhook_secrets`); when it sets none,
    the spec's public development defaults, without repeats. Under
    :func:`simulated_settings` that means: with both ``secret`` and ``secrets`` set, all
    of them verify and ``secret`` signs; a string under ``secrets`` is one secret.

    :raises PluginError: a secret is not a string (the message names the key, never the
        value), or none is set and the spec declares no development default.
    """
    configured = spec.webhook_secrets(config)
    if configured:
        return configured
    defaults = [s.dev_default for s in spec.webhook_secret_settings() if s.dev_default]
    if not defaults:
        keys = ", ".join(s.key for s in spec.webhook_secret_settings()) or "none declared"
        raise PluginError(f"no webhook secret is set; expected one of: {keys}")
    return list(dict.fromkeys(defaults))


def options_from(config: Mapping[str, Any], spec: SettingsSpec) -> dict[str, Any]:
    """The settings ``config`` holds under ``spec``'s keys other than webhook secrets, as
    keyword arguments for the provider's constructor (undeclared keys are not read)."""
    secret_keys = {s.key for s in spec.webhook_secret_settings()}
    return {k: config[k] for k in spec.declared_keys() if k in config and k not in secret_keys}


def trial_end(start: datetime, trial_days: int) -> datetime | None:
    return start + timedelta(days=trial_days) if trial_days > 0 else None
