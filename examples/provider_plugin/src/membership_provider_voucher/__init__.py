"""Prepaid voucher codes as a membership-sdk payment provider (an example plugin).

A publisher issues codes (:meth:`VoucherProvider.issue_code`) and sells them printed;
a reader starts a checkout and redeems a code (:meth:`VoucherProvider.redeem`), which
starts a subscription paid for the code's months. It does not renew: when the months
are used up the publisher's back office calls :meth:`VoucherProvider.expire`.

Settings (``provider_config["voucher"]``), declared in :attr:`VoucherProvider.settings_spec`
so a host can check them without knowing this provider: ``secret`` signs webhooks (without
one, the public :data:`DEV_SECRET`, which hosts take only in development mode),
``redeem_url`` is the page where readers enter a code.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from membership_sdk import (
    BillingEvent,
    EventType,
    ProviderError,
    Status,
    SubscriptionSnapshot,
    hookimpl,
)
from membership_sdk.providers import (
    CheckoutRequest,
    CheckoutSession,
    Provider,
    Setting,
    SettingsSpec,
    Webhook,
)
from membership_sdk.providers.webhooks import WebhookSigner, decode_event, encode_event

NAME = "voucher"
#: The signing secret used when none is set. Development only: it is public.
DEV_SECRET = "voucher-dev-only-secret"


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _months_later(moment: datetime, months: int) -> datetime:
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, 28))


@dataclass(slots=True)
class Voucher:
    code: str
    price: str
    months: int
    redeemed_by: str | None = None


@dataclass(slots=True)
class Subscription:
    id: str
    customer_id: str
    member_id: str
    price: str
    started_at: datetime
    current_period_end: datetime
    status: Status = Status.ACTIVE
    cancel_at_period_end: bool = False
    version: int = 1

    def snapshot(self) -> SubscriptionSnapshot:
        return SubscriptionSnapshot(
            id=self.id,
            customer_id=self.customer_id,
            price=self.price,
            status=self.status,
            version=self.version,
            current_period_end=self.current_period_end,
            started_at=self.started_at,
            cancel_at_period_end=self.cancel_at_period_end,
        )


class VoucherProvider:
    """Readers pay with a prepaid voucher code."""

    name = NAME
    refetch_subscriptions = False
    settings_spec = SettingsSpec(
        (
            Setting(
                "secret",
                "signs the webhooks the voucher back office sends; without it, the public "
                "development secret (development mode only)",
                secret=True,
                verifies_webhooks=True,
                dev_default=DEV_SECRET,
            ),
            Setting("redeem_url", "the page where readers enter a code"),
        ),
        receives_webhooks=True,
    )

    def __init__(self, secret: str = DEV_SECRET, redeem_url: str | None = None) -> None:
        self.signer = WebhookSigner(secret, header="Voucher-Signature")
        self.redeem_url = redeem_url
        self.vouchers: dict[str, Voucher] = {}
        self.sessions: dict[str, tuple[str, str, str]] = {}  # id -> member, customer, price
        self.subscriptions: dict[str, Subscription] = {}
        self._by_key: dict[str, str] = {}
        self._ids = itertools.count(1)
        # Ids must never repeat across restarts or processes: a site drops an event whose
        # id it has already seen.
        self._run = secrets.token_hex(5)

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids)}_{self._run}"

    # -- the Provider protocol -------------------------------------------------------------
    def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        session_id = self._by_key.get(request.idempotency_key)
        if session_id is None:
            session_id = self._id("vs")
            customer = request.customer_id or f"vc_{request.member_id}"
            self.sessions[session_id] = (request.member_id, customer, request.provider_price)
            self._by_key[request.idempotency_key] = session_id
        return CheckoutSession(
            provider=self.name,
            id=session_id,
            url=self.redeem_url,
            customer_id=self.sessions[session_id][1],
            instructions="Enter the code printed on your voucher.",
        )

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Sequence[BillingEvent]:
        self.signer.verify(headers, body)
        return decode_event(self.name, body)

    def fetch_subscription(self, subscription_id: str) -> SubscriptionSnapshot | None:
        sub = self.subscriptions.get(subscription_id)
        return None if sub is None else sub.snapshot()

    def cancel_subscription(
        self, subscription_id: str, *, at_period_end: bool = True
    ) -> SubscriptionSnapshot:
        sub = self._subscription(subscription_id)
        if at_period_end:
            self._change(sub, cancel_at_period_end=True)
        else:
            self._change(sub, status=Status.CANCELED, current_period_end=_now())
        return sub.snapshot()

    def resume_subscription(self, subscription_id: str) -> SubscriptionSnapshot:
        sub = self._subscription(subscription_id)
        self._change(sub, cancel_at_period_end=False)
        return sub.snapshot()

    def portal_url(self, customer_id: str, return_url: str) -> str | None:
        return None  # vouchers have no billing portal

    # -- what the publisher and the reader do ----------------------------------------------
    def issue_code(self, price: str, months: int = 1) -> str:
        """A new voucher code for ``months`` of the provider price ``price``."""
        code = "-".join(secrets.token_hex(2).upper() for _ in range(3))
        self.vouchers[code] = Voucher(code, price, months)
        return code

    def redeem(self, session_id: str, code: str) -> Webhook:
        """The reader enters ``code`` for checkout ``session_id``; returns the webhook."""
        if session_id not in self.sessions:
            raise ProviderError(f"voucher: no checkout {session_id!r}", code="no_such_session")
        member, customer, price = self.sessions[session_id]
        voucher = self.vouchers.get(code.strip().upper())
        if voucher is None or voucher.redeemed_by is not None:
            state = "unknown" if voucher is None else "already redeemed"
            raise ProviderError(f"voucher: code {code!r} is {state}", code="invalid_code")
        if voucher.price != price:
            raise ProviderError(
                f"voucher: code {code!r} is for {voucher.price!r}, not {price!r}",
                code="wrong_price",
            )
        voucher.redeemed_by = member
        now = _now()
        sub = Subscription(
            self._id("vsub"), customer, member, price, now, _months_later(now, voucher.months)
        )
        self.subscriptions[sub.id] = sub
        return self._send(EventType.SUBSCRIPTION_CREATED, sub)

    def expire(self, subscription_id: str) -> Webhook:
        """The voucher's months are used up."""
        sub = self._subscription(subscription_id)
        return self._change(sub, status=Status.EXPIRED, type=EventType.SUBSCRIPTION_DELETED)

    # -- internals -------------------------------------------------------------------------
    def _subscription(self, subscription_id: str) -> Subscription:
        sub = self.subscriptions.get(subscription_id)
        if sub is None:
            raise ProviderError(
                f"voucher: no subscription {subscription_id!r}", code="no_such_subscription"
            )
        return sub

    def _change(
        self, sub: Subscription, type: EventType = EventType.SUBSCRIPTION_UPDATED, **changes: Any
    ) -> Webhook:
        for key, value in changes.items():
            setattr(sub, key, value)
        sub.version += 1
        return self._send(type, sub)

    def _send(self, type: EventType, sub: Subscription) -> Webhook:
        body = encode_event(self._id("vevt"), type, _now(), sub.snapshot(), member_id=sub.member_id)
        return self.signer.sign(body)


@hookimpl
def membership_register_providers(
    register: Callable[[Provider], None], config: Mapping[str, Mapping[str, Any]]
) -> None:
    """Register the voucher provider with its settings."""
    settings = config.get(NAME, {})
    provider: Provider = VoucherProvider(
        secret=settings.get("secret") or DEV_SECRET, redeem_url=settings.get("redeem_url")
    )
    register(provider)
