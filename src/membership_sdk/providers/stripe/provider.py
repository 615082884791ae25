"""The Stripe provider: Checkout, the Billing Portal, subscriptions and signed webhooks.

The ``stripe`` package is imported when a :class:`StripeProvider` is built, never when this
module is imported, so the SDK works without the ``stripe`` extra until Stripe is configured.

Webhooks are verified with the SDK's :class:`stripe.WebhookSignature` and parsed with
:func:`json.loads`, not built into the SDK's event object: that converts every nested
object of the payload into a ``StripeObject``, many times the work of verifying and
parsing, and the translation reads plain mappings anyway.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ...catalog import Price
from ...discounts import Discount
from ...errors import (
    CouponError,
    MalformedEvent,
    PluginError,
    ProviderError,
    SignatureError,
    UnknownShape,
)
from ...events import (
    BillingEvent,
    EventType,
    PurchaseSnapshot,
    PurchaseState,
    SubscriptionSnapshot,
)
from ..base import (
    CheckoutRequest,
    CheckoutSession,
    ListedSubscription,
    PaidPeriod,
    PlanChangePreview,
    ProrationLine,
    Refund,
    SubscriptionPage,
    UsageReport,
)
from ..settings import Setting, SettingsSpec
from . import translate as tr

if TYPE_CHECKING:
    import stripe

logger = logging.getLogger("membership_sdk.providers.stripe")

#: Seconds a webhook signature's timestamp may lie from now, before or after (Stripe's own
#: default for its age).
DEFAULT_TOLERANCE = 300

_SUBSCRIPTION_EVENTS: Mapping[str, EventType] = {
    "customer.subscription.created": EventType.SUBSCRIPTION_CREATED,
    "customer.subscription.updated": EventType.SUBSCRIPTION_UPDATED,
    "customer.subscription.deleted": EventType.SUBSCRIPTION_DELETED,
    "customer.subscription.paused": EventType.SUBSCRIPTION_UPDATED,
    "customer.subscription.resumed": EventType.SUBSCRIPTION_UPDATED,
    "customer.subscription.trial_will_end": EventType.SUBSCRIPTION_UPDATED,
    "customer.subscription.pending_update_applied": EventType.SUBSCRIPTION_UPDATED,
    "customer.subscription.pending_update_expired": EventType.SUBSCRIPTION_UPDATED,
}
_INVOICE_EVENTS: Mapping[str, EventType] = {
    "invoice.paid": EventType.PAYMENT_SUCCEEDED,
    "invoice.payment_succeeded": EventType.PAYMENT_SUCCEEDED,
    "invoice.payment_failed": EventType.PAYMENT_FAILED,
}
_CHECKOUT_EVENTS = frozenset(
    {"checkout.session.completed", "checkout.session.async_payment_succeeded"}
)
#: A one-off Checkout's ``payment_status`` values that settle it: paid, or nothing to pay
#: (a 100%-off promotion code).
_SETTLED = frozenset({"paid", "no_payment_required"})

#: The events to enable on the Stripe webhook endpoint (see docs/stripe.md).
WEBHOOK_EVENTS: tuple[str, ...] = (
    *sorted(_CHECKOUT_EVENTS),
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.resumed",
    "invoice.paid",
    "invoice.payment_failed",
    "charge.refunded",
    "charge.dispute.closed",
)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


#: How live (real money) keys begin: secret and restricted keys.
LIVE_KEY_PREFIXES = ("sk_live_", "rk_live_")
#: How a plan change is prorated, previewed and made alike: invoiced and charged at once,
#: so the preview's ``amount_due`` is what is due now (with ``create_prorations`` a
#: same-interval change would be billed only at the next renewal).
PLAN_CHANGE_PRORATION = "always_invoice"


def livemode_of(api_key: str) -> bool:
    """Whether ``api_key`` is a live key (``sk_live_``/``rk_live_``) or a test one.

    :raises PluginError: the key is neither.
    """
    if api_key.startswith(LIVE_KEY_PREFIXES):
        return True
    if api_key.startswith(("sk_test_", "rk_test_")):
        return False
    shown = api_key[:8] + "..." if len(api_key) > 8 else api_key
    raise PluginError(
        f"Stripe api_key {shown!r} is neither a live key (sk_live_..., rk_live_...) nor "
        "a test key (sk_test_..., rk_test_...)"
    )


def _replace_item(
    subscription: Mapping[str, Any],
    item: Mapping[str, Any],
    price: str,
    usage_prices: Sequence[str] | None,
) -> list[dict[str, Any]]:
    """Subscription items that delete the plan's ``item`` and add one for ``price``: the
    new item's ``created`` dates the change (a drip reads it as ``price_since``).

    The usage add-ons' metered items follow ``usage_prices`` (the new tier's, see
    :func:`membership_sdk.usage.usage_prices`): an item whose price is among them is
    kept as it is, any other is deleted, and a price no item has yet is added (metered
    prices take no quantity). ``None`` keeps them all as they are."""
    changes: list[dict[str, Any]] = [{"id": item["id"], "deleted": True}, {"price": price}]
    if usage_prices is None:
        return changes
    wanted = list(dict.fromkeys(usage_prices))
    for metered in tr.metered_items(subscription):
        held = tr.item_price(metered)
        if held in wanted:
            wanted.remove(held)
        else:
            changes.append({"id": metered["id"], "deleted": True})
    return changes + [{"price": p} for p in wanted]


def _malformed(field: str, expected: str, value: object) -> MalformedEvent:
    return tr.malformed(field, expected, value, of="Stripe event")


def _refused_code(exc: ProviderError, code: str | None) -> CouponError | None:
    """The coupon error a Stripe refusal of a checkout's code stands for (an expired,
    used-up or inactive promotion code or coupon), or ``None`` for any other failure."""
    if not code or exc.retryable:
        return None
    said = (exc.provider_message or "").lower()
    if exc.code not in ("coupon_expired", "promotion_code_expired") and not any(
        word in said for word in ("coupon", "promotion code", "promotion_code")
    ):
        return None
    if "expired" in said or exc.code.endswith("_expired"):
        reason = "expired"
    elif "redeemed" in said or "max" in said:
        reason = "used_up"
    elif "first" in said:
        reason = "not_first_time"
    else:
        reason = "unknown"
    return CouponError(f"Stripe refused the code {code!r}", code=code, reason=reason)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class StripeProvider:
    """Sells tiers and items through Stripe Checkout.

    :param api_key: a secret or restricted key; its prefix decides live or test mode, and
        events of the other mode are ignored.
    :param webhook_secrets: the endpoint's signing secrets (``whsec_...``). Give two while
        rotating: a webhook signed with either verifies.
    :param tolerance: seconds a signature's timestamp may lie from now, either way: older
        signatures are refused as replays, ones dated further ahead as forged or signed in
        advance.
    :param api_base: another API address, e.g. a localstripe server in tests.
    :param http_client: a :class:`stripe.HTTPClient` to send requests with (tests pass one
        that replays recorded responses).
    :param max_network_retries: how often the Stripe SDK retries a failed request (with
        the same idempotency key) before the provider reports it.
    :param stripe_version: the API version to pin; the SDK's own version by default.
    :param products: if given, only events for these Stripe products are translated
        (others, from a shared Stripe account, are ignored and logged).
    :param prices: likewise for Stripe price ids.
    :param allow_promotion_codes: let members enter promotion codes on the Checkout page
        when the checkout carries no code of its own.
    :param clock_ms: the current time in milliseconds (tests pass a fixed one).

    **Snapshot versions.** A snapshot's ``version`` is a time in milliseconds: the
    event's ``created`` (seconds, times 1000) for a snapshot read from a webhook payload,
    and the moment the response arrived for one read from the API (retrieve, cancel,
    resume, change of plan). Stripe's reads are consistent, so an object fetched later is
    never older than one fetched earlier or carried by any event created before it; with
    ``refetch_subscriptions`` the program always applies the fetched snapshot, so a late
    ``created(incomplete)`` or a stale ``updated(active)`` can never overwrite what a
    later fetch saw. Milliseconds keep a cancel issued in the same second as a webhook
    ordered after it, and one provider never gives two answers the same version. The app
    servers' clocks must agree to well under a second (NTP).
    """

    name = "stripe"
    refetch_subscriptions = True
    #: Every key :meth:`from_config` accepts: the constructor's keywords, with the webhook
    #: secrets as one ``webhook_secret`` or a ``webhook_secrets`` list.
    settings_spec = SettingsSpec(
        (
            Setting(
                "api_key",
                "a secret or restricted key (sk_live_, sk_test_, rk_live_, rk_test_)",
                secret=True,
                required=True,
                live_prefixes=LIVE_KEY_PREFIXES,
            ),
            Setting(
                "webhook_secret",
                "the webhook endpoint's signing secret (whsec_...)",
                secret=True,
                verifies_webhooks=True,
            ),
            Setting(
                "webhook_secrets",
                "several signing secrets while one is rotated",
                secret=True,
                many=True,
                verifies_webhooks=True,
            ),
            Setting("tolerance", "seconds a signature's timestamp may lie from now (300)"),
            Setting("products", "only translate events for these Stripe product ids", many=True),
            Setting("prices", "only translate events for these Stripe price ids", many=True),
            Setting("allow_promotion_codes", "let members enter promotion codes (True)"),
            Setting("max_network_retries", "retries of a failed API request (2)"),
            Setting("stripe_version", "the API version to pin"),
            Setting("api_base", "another API address, e.g. a localstripe server in tests"),
            Setting("http_client", "a stripe.HTTPClient to send requests with (tests)"),
            Setting("clock_ms", "the current time in milliseconds (tests)"),
        ),
        receives_webhooks=True,
    )

    def __init__(
        self,
        api_key: str,
        *,
        webhook_secrets: Iterable[str] = (),
        tolerance: int = DEFAULT_TOLERANCE,
        api_base: str | None = None,
        http_client: stripe.HTTPClient | None = None,
        max_network_retries: int = 2,
        stripe_version: str | None = None,
        products: Iterable[str] | None = None,
        prices: Iterable[str] | None = None,
        allow_promotion_codes: bool = True,
        clock_ms: Callable[[], int] = _now_ms,
    ) -> None:
        try:
            import stripe
        except ImportError as exc:  # pragma: no cover - exercised without the extra
            raise PluginError(
                "the Stripe provider needs the 'stripe' package: "
                "pip install 'membership-sdk[stripe]'"
            ) from exc
        if not isinstance(api_key, str) or not api_key:
            raise PluginError("Stripe needs an api_key (sk_test_... or sk_live_...)")
        self.livemode = livemode_of(api_key)
        self.webhook_secrets = tuple(s for s in webhook_secrets if s)
        self.tolerance = tolerance
        self.products = frozenset(products) if products is not None else None
        self.prices = frozenset(prices) if prices is not None else None
        self.allow_promotion_codes = allow_promotion_codes
        self.clock_ms = clock_ms
        self._last_version = 0
        self._version_lock = threading.Lock()
        self._stripe = stripe
        self._client = stripe.StripeClient(
            api_key,
            stripe_version=stripe_version,
            base_addresses={"api": api_base} if api_base else {},
            max_network_retries=max_network_retries,
            http_client=http_client,
        )

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> StripeProvider:
        """Build from a settings mapping (the ``"stripe"`` entry of the provider config).

        Keys: those of :attr:`settings_spec`; ``api_key`` is required.

        :raises PluginError: ``api_key`` is missing, a key is not declared (a misspelt
            setting), or ``products``/``prices`` is one string instead of a list.
        """
        spec = cls.settings_spec
        known = spec.declared_keys()
        unknown = sorted(set(config) - set(known))
        if unknown:
            raise PluginError(
                f"unknown Stripe setting(s) {unknown}; expected some of {sorted(known)}"
            )
        if spec.missing_required(config):
            raise PluginError(f"Stripe settings need an 'api_key'; got keys {sorted(config)}")
        if isinstance(config.get("products"), str) or isinstance(config.get("prices"), str):
            raise PluginError("Stripe 'products' and 'prices' settings must be lists of ids")
        secret_keys = {s.key for s in spec.webhook_secret_settings()}
        options = {k: v for k, v in config.items() if k not in secret_keys | {"api_key"}}
        return cls(config["api_key"], webhook_secrets=spec.webhook_secrets(config), **options)

    def __repr__(self) -> str:
        return f"<StripeProvider {'live' if self.livemode else 'test'}>"

    # -- calling Stripe -------------------------------------------------------------------
    def _call(self, doing: str, method: str, path: str, **params: Any) -> dict[str, Any]:
        """One API request; Stripe's errors become :class:`ProviderError` naming ``doing``."""
        stripe = self._stripe
        try:
            response = self._client.raw_request(method, path, **params)
        except stripe.StripeError as exc:
            raise self._translate(exc, doing) from exc
        data = response.data
        if not isinstance(data, dict):
            raise ProviderError(
                f"Stripe answered {method.upper()} {path} with {type(data).__name__}, "
                "expected a JSON object",
                code="bad_response",
                retryable=True,
            )
        return data

    def _translate(self, exc: stripe.StripeError, doing: str) -> ProviderError:
        stripe = self._stripe
        said = exc.user_message or str(exc) or type(exc).__name__
        status = exc.http_status
        if isinstance(exc, stripe.APIConnectionError):
            return ProviderError(
                f"Stripe is unreachable; could not {doing}",
                code="unreachable",
                provider_message=said,
                retryable=True,
            )
        if isinstance(exc, stripe.RateLimitError):
            return ProviderError(
                f"Stripe rate-limited the request to {doing}",
                code="rate_limited",
                provider_message=said,
                retryable=True,
            )
        if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
            return ProviderError(
                f"Stripe refused the api_key while trying to {doing}",
                code="authentication",
                provider_message=said,
            )
        if isinstance(exc, stripe.IdempotencyError):
            return ProviderError(
                f"Stripe rejected a reused idempotency key while trying to {doing}: the "
                "same checkout attempt was sent with different parameters",
                code="idempotency_conflict",
                provider_message=said,
            )
        if isinstance(exc, stripe.CardError):
            return ProviderError(
                f"Stripe declined the card while trying to {doing}",
                code=exc.code or "card_declined",
                provider_message=said,
            )
        if isinstance(exc, stripe.InvalidRequestError):
            code = "not_found" if status == 404 else (exc.code or "invalid_request")
            return ProviderError(
                f"Stripe rejected the request to {doing}", code=code, provider_message=said
            )
        retryable = status is None or status >= 500 or status == 409
        return ProviderError(
            f"Stripe failed to {doing}",
            code="provider_error",
            provider_message=said,
            retryable=retryable,
        )

    # -- checkout ---------------------------------------------------------------------------
    def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        """A Checkout Session selling ``request.price``: a subscription for recurring
        prices, a one-off payment otherwise.

        The member's Stripe Customer is reused (``request.customer_id``, else a customer
        with the same email and our member id, else a new one). Every request carries a
        key derived from ``request.idempotency_key``, so retries of one attempt (a double
        click, two tabs, a retry after a timeout) create one customer and one session.

        :raises ProviderError: Stripe failed; ``retryable`` says whether to try again.
            Nothing is stored by the SDK either way.
        """
        key = request.idempotency_key
        customer = request.customer_id or self.ensure_customer(
            request.member_id, email=request.email, idempotency_key=f"{key}-customer"
        )
        recurring = request.price.recurring
        meta = {
            **request.metadata,
            tr.MEMBER_KEY: request.member_id,
            tr.PRICE_KEY: request.provider_price,
        }
        params: dict[str, Any] = {
            "mode": "subscription" if recurring else "payment",
            "customer": customer,
            "client_reference_id": request.member_id,
            "line_items": [{"price": request.provider_price, "quantity": 1}],
            "success_url": request.success_url,
            "cancel_url": request.cancel_url,
            "metadata": meta,
        }
        if recurring:
            # Usage-based add-ons (membership_sdk.usage): their metered prices, which
            # take no quantity; Stripe bills the meter events reported against them.
            params["line_items"] += [{"price": p} for p in request.usage_prices]
            sub_data: dict[str, Any] = {"metadata": meta}
            if request.trial_days:
                sub_data["trial_period_days"] = request.trial_days
            params["subscription_data"] = sub_data
        else:
            params["payment_intent_data"] = {"metadata": meta}
        if request.coupon or request.discount is not None:
            params["discounts"] = [self._checkout_discount(request)]
            if request.coupon:
                meta[tr.COUPON_KEY] = request.coupon
        elif self.allow_promotion_codes:
            params["allow_promotion_codes"] = True
        try:
            session = self._call(
                "start a checkout",
                "post",
                "/v1/checkout/sessions",
                idempotency_key=f"{key}-session",
                **params,
            )
        except ProviderError as exc:
            refused = _refused_code(exc, request.coupon)
            if refused is not None:
                raise refused from exc
            raise
        url = session.get("url")
        return CheckoutSession(
            provider=self.name,
            id=str(session["id"]),
            url=url if isinstance(url, str) else None,
            customer_id=customer,
        )

    def ensure_customer(
        self, member_id: str, *, email: str | None = None, idempotency_key: str | None = None
    ) -> str:
        """The member's Stripe Customer id: one with ``email`` whose metadata names
        ``member_id``, else a new one (created once per ``idempotency_key``)."""
        if email:
            found = self._call(
                "look up the member's customer", "get", "/v1/customers", email=email, limit=100
            )
            for customer in found.get("data") or ():
                if tr.metadata(customer).get(tr.MEMBER_KEY) == member_id:
                    return str(customer["id"])
        params: dict[str, Any] = {"metadata": {tr.MEMBER_KEY: member_id}}
        if email:
            params["email"] = email
        if idempotency_key:
            params["idempotency_key"] = idempotency_key
        created = self._call("create the member's customer", "post", "/v1/customers", **params)
        return str(created["id"])

    def _checkout_discount(self, request: CheckoutRequest) -> dict[str, str]:
        """The ``discounts`` entry of a checkout: the catalog coupon's own Stripe id (a
        promotion code ``promo_...`` or a coupon id), else a Stripe coupon with its terms
        (created once: its id is derived from them); a code the catalog does not know is
        looked up among the account's promotion codes."""
        code, discount = request.coupon, request.discount
        if code and (discount is None or discount.code.casefold() != code.casefold()):
            return {"promotion_code": self._promotion_code(code)}
        assert discount is not None
        own = discount.provider_ids.get(self.name)
        if own:
            return {"promotion_code": own} if own.startswith("promo_") else {"coupon": own}
        return {"coupon": self._coupon_for(discount)}

    def _coupon_for(self, discount: Discount) -> str:
        """The id of a Stripe coupon with ``discount``'s terms, created on first use."""
        terms: dict[str, Any] = {"duration": str(discount.duration)}
        if discount.months:
            terms["duration_in_months"] = discount.months
        if discount.percent_off is not None:
            terms["percent_off"] = discount.percent_off
        else:
            terms["amount_off"] = discount.off if discount.intro else discount.amount_off
            terms["currency"] = discount.currency.lower()
        digest = hashlib.sha256(json.dumps(terms, sort_keys=True).encode()).hexdigest()[:12]
        kind = f"member-{discount.member_tier}" if discount.member_tier else "intro"
        label = discount.code or f"{kind}-{discount.price}"
        plain = "Member price" if discount.member_tier else "Intro offer"
        coupon_id = f"paywall-{label}-{digest}"[:200]
        try:
            self._call(
                "create the coupon",
                "post",
                "/v1/coupons",
                id=coupon_id,
                name=(discount.code or plain)[:40],
                idempotency_key=f"coupon-{coupon_id}",
                **terms,
            )
        except ProviderError as exc:
            if exc.code != "resource_already_exists":
                raise
        return coupon_id

    def apply_discount(
        self,
        subscription_id: str,
        *,
        code: str,
        percent_off: int | None = None,
        amount_off: int | None = None,
        months: int | None = None,
    ) -> SubscriptionSnapshot:
        """The :class:`~membership_sdk.providers.SubscriptionDiscounts` capability: a new
        Stripe coupon with these terms (``repeating`` for ``months``, else ``forever``),
        put on the subscription in place of any discount it had."""
        terms: dict[str, Any] = {"name": code[:40]}
        if months:
            terms.update(duration="repeating", duration_in_months=months)
        else:
            terms["duration"] = "forever"
        if percent_off is not None:
            terms["percent_off"] = percent_off
        else:
            subscription = self._call(
                "fetch the subscription", "get", f"/v1/subscriptions/{subscription_id}"
            )
            terms.update(amount_off=amount_off, currency=str(subscription.get("currency") or ""))
        coupon = self._call("create the coupon", "post", "/v1/coupons", **terms)
        found = self._call(
            "discount the subscription",
            "post",
            f"/v1/subscriptions/{subscription_id}",
            discounts=[{"coupon": str(coupon["id"])}],
            metadata={tr.COUPON_KEY: code},
        )
        return self._snapshot(found)

    def _promotion_code(self, code: str) -> str:
        """The id of a promotion code given as its id (``promo_...``) or as the code a
        member typed; raises :class:`CouponError` (``unknown``) for an unknown one."""
        if code.startswith("promo_"):
            return code
        found = self._call(
            "look up the promotion code",
            "get",
            "/v1/promotion_codes",
            code=code,
            active="true",
            limit=1,
        )
        data = found.get("data") or []
        if not data:
            raise CouponError(
                f"no active Stripe promotion code {code!r}", code=code, reason="unknown"
            )
        return str(data[0]["id"])

    # -- usage-based add-ons (membership_sdk.usage) -----------------------------------------
    def report_usage(self, report: UsageReport) -> None:
        """The :class:`~membership_sdk.providers.UsageReporting` capability: one billing
        meter event (``report.provider_meter`` is the meter's event name) for the
        customer, valued ``report.quantity``, at ``report.when``. Its ``identifier`` is
        the report's, and so is the request's idempotency key: a report sent again is
        counted once. Stripe bills it through the subscription's metered price (added
        at checkout from ``CheckoutRequest.usage_prices``) with the period's invoice.

        :raises ProviderError: Stripe failed; the site retries the report later.
        """
        if not report.customer_id:
            raise ProviderError(
                f"Stripe needs the customer of subscription {report.subscription_id!r} to "
                "report usage, and the membership names none",
                code="no_customer",
            )
        try:
            self._call(
                "report usage",
                "post",
                "/v1/billing/meter_events",
                idempotency_key=report.identifier,
                event_name=report.provider_meter,
                identifier=report.identifier,
                timestamp=int(report.when.timestamp()),
                payload={"stripe_customer_id": report.customer_id, "value": str(report.quantity)},
            )
        except ProviderError as exc:
            said = (exc.provider_message or "").lower()
            if "identifier" in said and ("already" in said or "duplicate" in said):
                return  # reported before (outside the idempotency key's 24 hours)
            raise

    def portal_url(self, customer_id: str, return_url: str) -> str | None:
        """A Billing Portal session for the customer, where they update cards, see
        invoices, and cancel or switch plans as the portal's configuration allows."""
        session = self._call(
            "open the billing portal",
            "post",
            "/v1/billing_portal/sessions",
            customer=customer_id,
            return_url=return_url,
        )
        url = session.get("url")
        return url if isinstance(url, str) else None

    # -- subscriptions ----------------------------------------------------------------------
    def _version(self) -> int:
        """Now in milliseconds, and always above the last version this provider gave, so
        an answer received later is never ordered before an earlier one of this process
        (two calls may land in the same millisecond)."""
        with self._version_lock:
            self._last_version = max(self.clock_ms(), self._last_version + 1)
            return self._last_version

    def _snapshot(self, subscription: Mapping[str, Any]) -> SubscriptionSnapshot:
        return tr.subscription_snapshot(subscription, self._version())

    def fetch_subscription(self, subscription_id: str) -> SubscriptionSnapshot | None:
        """The subscription as Stripe holds it now, or ``None`` if Stripe has no such one.

        :raises ProviderError: Stripe failed (``retryable`` when unreachable); the inbox
            retries the event later.
        """
        try:
            found = self._call(
                "fetch the subscription", "get", f"/v1/subscriptions/{subscription_id}"
            )
        except ProviderError as exc:
            if exc.code == "not_found":
                return None
            raise
        return self._snapshot(found)

    def subscription_for_payment(self, payment_id: str) -> PaidPeriod | None:
        """The subscription, and the period, that a PaymentIntent (``pi_``) or a charge
        (``ch_``, a payment made through the legacy Charges API) paid an invoice of; or
        ``None`` (a one-off payment, or none Stripe knows).

        Read from the invoice's payments (``GET /v1/invoice_payments``, API
        ``2025-03-31.basil`` and later, where charges and PaymentIntents no longer name
        their invoice), else from the PaymentIntent's or the charge's ``invoice`` (older
        versions). The period is the latest ``lines.data[].period.end`` of that invoice.

        :raises ProviderError: Stripe failed; the program leaves the event to be retried.
        """
        kind, path = (
            ("charge", "/v1/charges")
            if payment_id.startswith(("ch_", "py_"))
            else ("payment_intent", "/v1/payment_intents")
        )
        invoice: str | None = None
        try:
            found = self._call(
                "find the invoice of the payment",
                "get",
                "/v1/invoice_payments",
                payment={"type": kind, kind: payment_id},
                limit=1,
            )
            data = found.get("data") or []
            if data and isinstance(data[0], Mapping):
                invoice = tr.object_id(data[0].get("invoice"))
        except ProviderError as exc:
            if exc.code not in ("not_found", "invalid_request", "parameter_unknown"):
                raise
        if invoice is None:
            try:
                payment = self._call("fetch the payment", "get", f"{path}/{payment_id}")
            except ProviderError as exc:
                if exc.code == "not_found":
                    return None
                raise
            invoice = tr.object_id(payment.get("invoice"))
        if invoice is None:
            return None
        found = self._call("fetch the invoice", "get", f"/v1/invoices/{invoice}")
        subscription = tr.invoice_subscription(found)
        if not subscription:
            return None
        try:
            period_end: datetime | None = tr.invoice_paid_through(found)
        except MalformedEvent:
            period_end = None
        return PaidPeriod(subscription, period_end)

    def list_subscriptions(self, *, after: str | None = None, limit: int = 100) -> SubscriptionPage:
        """Every subscription of the account, ended ones too (``status=all``), newest
        first, one page at a time; ``after`` is the last subscription id of the page
        before (Stripe's ``starting_after``).
        """
        params: dict[str, Any] = {"status": "all", "limit": limit}
        if after:
            params["starting_after"] = after
        found = self._call("list the subscriptions", "get", "/v1/subscriptions", **params)
        data = [s for s in found.get("data") or () if isinstance(s, Mapping)]
        listed = tuple(
            ListedSubscription(
                self._snapshot(s), str(tr.metadata(s).get(tr.MEMBER_KEY) or "") or None
            )
            for s in data
        )
        more = bool(found.get("has_more")) and bool(listed)
        return SubscriptionPage(listed, listed[-1].snapshot.id if more else None)

    def cancel_subscription(
        self, subscription_id: str, *, at_period_end: bool = True
    ) -> SubscriptionSnapshot:
        """Cancel at the end of the paid period (undo with :meth:`resume_subscription`),
        or at once."""
        if at_period_end:
            found = self._call(
                "cancel the subscription at period end",
                "post",
                f"/v1/subscriptions/{subscription_id}",
                cancel_at_period_end="true",
            )
        else:
            found = self._call(
                "cancel the subscription", "delete", f"/v1/subscriptions/{subscription_id}"
            )
        return self._snapshot(found)

    def resume_subscription(self, subscription_id: str) -> SubscriptionSnapshot:
        """Undo a cancel at period end."""
        found = self._call(
            "resume the subscription",
            "post",
            f"/v1/subscriptions/{subscription_id}",
            cancel_at_period_end="false",
        )
        return self._snapshot(found)

    def _item(self, subscription_id: str) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
        """The subscription and the item that sells its plan: its one licensed item,
        wherever Stripe lists it; the metered items of usage add-ons are not counted."""
        subscription = self._call(
            "fetch the subscription", "get", f"/v1/subscriptions/{subscription_id}"
        )
        items = tr.plan_items(subscription)
        if len(items) != 1:
            raise ProviderError(
                f"Stripe subscription {subscription_id!r} has {len(items)} licensed items "
                "(besides the metered items of usage add-ons); a plan change needs exactly one",
                code="unsupported",
            )
        return subscription, items[0]

    def preview_plan_change(
        self,
        subscription_id: str,
        price: str,
        *,
        proration_date: int | None = None,
        prices: Mapping[str, Price] | None = None,
        usage_prices: Sequence[str] | None = None,
    ) -> PlanChangePreview:
        """What moving the subscription to ``price`` now would charge, prorated (the
        :class:`~membership_sdk.providers.PlanChanges` capability). The change is
        previewed as :meth:`change_plan` makes it, with ``proration_behavior=
        always_invoice``: the preview is the invoice charged at once, so its
        ``amount_due`` is what is due now (a downgrade's credit goes to the customer's
        balance, for the next invoices). ``effective_at`` is the proration date.

        :param price: the Stripe price id to move to.
        :param proration_date: the moment (Unix seconds) to prorate from; now by default.
        :param prices: not read: Stripe knows its prices.
        :param usage_prices: the metered prices of the new tier's usage add-ons: the
            subscription's metered items are made to match (see :meth:`change_plan`).
        """
        subscription, item = self._item(subscription_id)
        when = proration_date if proration_date is not None else self.clock_ms() // 1000
        invoice = self._call(
            "preview the plan change",
            "post",
            "/v1/invoices/create_preview",
            customer=tr.object_id(subscription.get("customer")),
            subscription=subscription_id,
            subscription_details={
                "items": _replace_item(subscription, item, price, usage_prices),
                "proration_behavior": PLAN_CHANGE_PRORATION,
                "proration_date": when,
            },
        )
        lines = []
        for line in (invoice.get("lines") or {}).get("data") or ():
            parent = line.get("parent") or {}
            details = parent.get("subscription_item_details") or {}
            proration = bool(details.get("proration", line.get("proration", False)))
            lines.append(
                ProrationLine(
                    str(line.get("description") or ""), int(line.get("amount") or 0), proration
                )
            )
        return PlanChangePreview(
            subscription_id=subscription_id,
            price=price,
            amount_due=int(invoice.get("amount_due") or 0),
            currency=str(invoice.get("currency") or ""),
            proration_date=when,
            lines=tuple(lines),
            effective_at=datetime.fromtimestamp(when, UTC),
        )

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
        """Move the subscription to ``price``, prorating from ``proration_date`` (pass the
        preview's to bill exactly what was shown).

        The subscription item is replaced (the old one deleted, a new one added), so the
        new item's ``created`` is the snapshot's ``price_since``: a drip counts what the
        new tier gives from the change. The proration is invoiced and charged at once
        (``proration_behavior=always_invoice``, as previewed) and the change applies only
        if that payment succeeds (``payment_behavior=pending_if_incomplete``): a new tier
        is always a paid one.

        Only the plan's (licensed) item is replaced. The metered items of usage add-ons
        follow ``usage_prices``, the new tier's metered prices
        (:func:`membership_sdk.usage.usage_prices`): one the new tier still has is kept,
        one it lacks is deleted (``deleted``), one it adds is added; ``None`` leaves them
        as they are.

        :raises ProviderError: code ``card_declined`` when the payment failed; the
            subscription stays on its price (Stripe keeps the change as a
            ``pending_update`` that applies only if the open invoice is paid before it
            expires).
        """
        subscription, item = self._item(subscription_id)
        params: dict[str, Any] = {
            "items": _replace_item(subscription, item, price, usage_prices),
            "proration_behavior": PLAN_CHANGE_PRORATION,
            "payment_behavior": "pending_if_incomplete",
        }
        if proration_date is not None:
            params["proration_date"] = proration_date
        if idempotency_key:
            params["idempotency_key"] = idempotency_key
        found = self._call(
            "change the plan", "post", f"/v1/subscriptions/{subscription_id}", **params
        )
        if found.get("pending_update"):
            raise ProviderError(
                f"Stripe: the payment for the plan change of subscription {subscription_id!r} "
                f"failed (invoice {tr.object_id(found.get('latest_invoice'))!r} is open); the "
                "plan was not changed",
                code="card_declined",
            )
        return self._snapshot(found)

    def pause_subscription(
        self, subscription_id: str, *, resumes_at: datetime
    ) -> SubscriptionSnapshot:
        """Pause collection until ``resumes_at`` (the
        :class:`~membership_sdk.providers.Pausing` capability): Stripe's
        ``pause_collection`` with ``behavior=void``, so the invoices of the paused time
        are voided, never charged later. The subscription stays ``active`` at Stripe; its
        snapshot reads ``paused`` until ``resumes_at``, when Stripe collects again."""
        found = self._call(
            "pause the subscription",
            "post",
            f"/v1/subscriptions/{subscription_id}",
            pause_collection={"behavior": "void", "resumes_at": int(resumes_at.timestamp())},
        )
        return self._snapshot(found)

    def unpause_subscription(self, subscription_id: str) -> SubscriptionSnapshot:
        """Collect again now: clears ``pause_collection``."""
        found = self._call(
            "resume the paused subscription",
            "post",
            f"/v1/subscriptions/{subscription_id}",
            pause_collection="",
        )
        return self._snapshot(found)

    # -- lawful cancellation (membership_sdk.cancellation) -----------------------------------
    def cancel_subscription_at(self, subscription_id: str, at: datetime) -> SubscriptionSnapshot:
        """End the subscription at ``at`` (the
        :class:`~membership_sdk.providers.ScheduledCancellation` capability): Stripe's
        ``cancel_at``, with no proration (the time paid for is not credited; refund it
        by hand if the law or your terms say so)."""
        found = self._call(
            "schedule the subscription's end",
            "post",
            f"/v1/subscriptions/{subscription_id}",
            cancel_at=int(at.timestamp()),
            proration_behavior="none",
        )
        return self._snapshot(found)

    def renew_on_price(
        self,
        subscription_id: str,
        price: str,
        *,
        prices: Mapping[str, Price] | None = None,
        usage_prices: Sequence[str] | None = None,
    ) -> SubscriptionSnapshot:
        """Renew on ``price`` after the current period (the
        :class:`~membership_sdk.providers.RenewalPrices` capability): a subscription
        schedule whose first phase is the current period on the current price and whose
        second is ``price``; the schedule then releases the subscription, which goes on
        at ``price``.

        A phase lists every item of the subscription: the first keeps the metered items
        of usage add-ons as they are; the second carries ``usage_prices`` (the metered
        prices for ``price``'s tier and interval, see
        :func:`membership_sdk.usage.usage_prices`), or the current ones when ``None``."""
        subscription, item = self._item(subscription_id)
        schedule = tr.object_id(subscription.get("schedule"))
        if schedule is None:
            created = self._call(
                "schedule the renewal price",
                "post",
                "/v1/subscription_schedules",
                from_subscription=subscription_id,
            )
            schedule = str(created.get("id") or "")
        current = tr.item_price(item) or ""
        metered = [p for p in map(tr.item_price, tr.metered_items(subscription)) if p]
        later = metered if usage_prices is None else list(dict.fromkeys(usage_prices))
        start = tr.period_start(subscription)
        end = tr.period_end(subscription)
        if not schedule or start is None or end is None:
            raise ProviderError(
                f"Stripe subscription {subscription_id!r} has no schedulable period",
                code="unsupported",
            )
        self._call(
            "schedule the renewal price",
            "post",
            f"/v1/subscription_schedules/{schedule}",
            end_behavior="release",
            proration_behavior="none",
            phases=[
                {
                    "items": [{"price": current, "quantity": 1}, *({"price": p} for p in metered)],
                    "start_date": int(start.timestamp()),
                    "end_date": int(end.timestamp()),
                },
                {
                    "items": [{"price": price, "quantity": 1}, *({"price": p} for p in later)],
                    "iterations": 1,
                },
            ],
        )
        return self._snapshot(subscription)

    # -- refunds ----------------------------------------------------------------------------
    def _refund(self, doing: str, payment_id: str, key: str) -> dict[str, Any]:
        field = "charge" if payment_id.startswith(("ch_", "py_")) else "payment_intent"
        return self._call(
            doing, "post", "/v1/refunds", **{field: payment_id}, idempotency_key=f"refund-{key}"
        )

    def refund_purchase(self, purchase_id: str) -> Refund:
        """Refund a one-off payment (its PaymentIntent, the purchase's id) in full; Stripe
        then sends ``charge.refunded``. One refund per payment: a repeated call reuses the
        idempotency key."""
        refund = self._refund("refund the payment", purchase_id, purchase_id)
        return Refund(
            purchase_id, int(refund.get("amount") or 0), str(refund.get("currency") or "")
        )

    def refund_latest_payment(self, subscription_id: str) -> Refund:
        """Refund the payment of the subscription's latest paid invoice in full.

        The payment is read from the invoice's payments (API ``2025-03-31.basil`` and
        later), else from the invoice's ``payment_intent`` or ``charge``.

        :raises ProviderError: code ``nothing_to_refund`` when no invoice was paid (a
            trial, a 100% coupon), Stripe's ``charge_already_refunded``, or Stripe failed.
        """
        found = self._call(
            "find the latest paid invoice",
            "get",
            "/v1/invoices",
            subscription=subscription_id,
            status="paid",
            limit=1,
        )
        invoices = [i for i in found.get("data") or () if isinstance(i, Mapping)]
        invoice = invoices[0] if invoices else None
        if invoice is None or not int(invoice.get("amount_paid") or 0):
            raise ProviderError(
                f"Stripe subscription {subscription_id!r} has no paid invoice to refund",
                code="nothing_to_refund",
            )
        invoice_id = str(invoice.get("id"))
        payment = tr.object_id(invoice.get("payment_intent")) or tr.object_id(invoice.get("charge"))
        if payment is None:
            paid = self._call(
                "find the payment of the invoice",
                "get",
                "/v1/invoice_payments",
                invoice=invoice_id,
                limit=1,
            )
            for entry in paid.get("data") or ():
                details = entry.get("payment") if isinstance(entry, Mapping) else None
                if isinstance(details, Mapping):
                    payment = tr.object_id(details.get("payment_intent")) or tr.object_id(
                        details.get("charge")
                    )
        if payment is None:
            raise ProviderError(
                f"Stripe invoice {invoice_id!r} of subscription {subscription_id!r} names no "
                "payment to refund (paid out of band?)",
                code="nothing_to_refund",
            )
        refund = self._refund("refund the latest payment", payment, invoice_id)
        try:
            period_end: datetime | None = tr.invoice_paid_through(invoice)
        except MalformedEvent:
            period_end = None
        return Refund(
            payment,
            int(refund.get("amount") or invoice.get("amount_paid") or 0),
            str(refund.get("currency") or invoice.get("currency") or ""),
            subscription_id,
            period_end,
        )

    # -- webhooks ---------------------------------------------------------------------------
    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        """Check ``Stripe-Signature`` against every configured secret.

        :raises SignatureError: no header, no secret configured, no secret matches, or
            the signature's timestamp is more than ``tolerance`` seconds before or after
            now (``clock_ms``).
        """
        header = _header(headers, "Stripe-Signature")
        if not header:
            raise SignatureError("Stripe webhook without a Stripe-Signature header")
        if not self.webhook_secrets:
            raise SignatureError(
                "no Stripe webhook secret is configured, so no webhook can be verified; "
                "set 'webhook_secret' (whsec_...) in the Stripe settings"
            )
        try:
            payload = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SignatureError("Stripe webhook body is not UTF-8, so it is not Stripe's") from exc
        verify = self._stripe.WebhookSignature.verify_header
        for secret in self.webhook_secrets:
            try:
                # No tolerance: the SDK would bound only the age, by the wall clock.
                verify(payload, header, secret, None)
            except self._stripe.SignatureVerificationError:
                continue
            self._check_signed_at(header)
            return
        raise SignatureError(
            f"Stripe webhook signature matches none of the {len(self.webhook_secrets)} "
            "configured secret(s)"
        )

    def _check_signed_at(self, header: str) -> None:
        """Refuse a verified signature whose ``t=`` lies more than ``tolerance`` seconds
        from now, either way. A tolerance of 0 checks nothing, as the SDK's does."""
        if not self.tolerance:
            return
        # Read exactly as the SDK read the timestamp it verified: the first ``t=``.
        items = [item.split("=", 2) for item in header.split(",")]
        signed_at = int(next(item[1] for item in items if item[0] == "t"))
        age = self.clock_ms() // 1000 - signed_at
        if age > self.tolerance:
            raise SignatureError(
                f"Stripe webhook signature is older than {self.tolerance} s "
                f"(signed at t={signed_at}, {age} s ago); a replay?"
            )
        if -age > self.tolerance:
            raise SignatureError(
                f"Stripe webhook signature is dated {-age} s in the future (t={signed_at}), "
                f"more than the {self.tolerance} s tolerance: forged, or signed ahead to be "
                "replayed later (or this server's clock is behind)"
            )

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Sequence[BillingEvent]:
        """Verify a webhook and translate its event.

        Returns no events for event types the SDK does not use, for events of the other
        mode (test events on a live key and the reverse), and for events about products
        or prices outside ``products``/``prices``; each ignored event is logged.

        :raises SignatureError: see :meth:`verify_webhook`.
        :raises MalformedEvent: the body is not a Stripe event.
        """
        self.verify_webhook(headers, body)
        return self.translate_body(body)

    def translate_body(self, body: bytes) -> list[BillingEvent]:
        """Translate a webhook body **whose signature was verified when it arrived**, with
        no signature check: an inbox retrying a stored body calls it (the signature's
        timestamp is too old by then). Never call it on a body that was not verified.

        :raises UnknownShape: a shape this version cannot read (kept, to retry after an
            upgrade); :raises MalformedEvent: anything else wrong.
        """
        try:
            event = json.loads(body)
        except ValueError as exc:
            raise MalformedEvent(f"Stripe webhook body is not JSON: {exc}") from exc
        try:
            return self.translate_event(event)
        except UnknownShape as exc:
            if isinstance(event, Mapping):
                exc.event_id = str(event.get("id") or "")
                exc.event_type = str(event.get("type") or "")
            raise

    def translate_event(self, event: object) -> list[BillingEvent]:
        """Translate one (already verified) Stripe event into billing events.

        :raises MalformedEvent: the event lacks a field or has one of the wrong type; the
            message names the field and its value.
        """
        if not isinstance(event, Mapping) or event.get("object") != "event":
            raise MalformedEvent("Stripe webhook body is not an event object")
        event_id, kind, created = event.get("id"), event.get("type"), event.get("created")
        livemode, data = event.get("livemode"), event.get("data")
        obj = data.get("object") if isinstance(data, Mapping) else data
        if not isinstance(event_id, str) or not event_id:
            raise _malformed("id", "a non-empty string", event_id)
        if not isinstance(kind, str):
            raise _malformed("type", "a string", kind)
        occurred = tr.moment(created, "created")  # refuses `true` and years past 9999
        if not isinstance(livemode, bool):
            raise _malformed("livemode", "true or false", livemode)
        if not isinstance(obj, Mapping):
            raise _malformed(
                "data.object" if isinstance(data, Mapping) else "data", "an object", obj
            )
        version = int(occurred.timestamp()) * 1000
        if livemode != self.livemode:
            logger.info(
                "ignored Stripe event %s (%s): %s event on a %s key",
                event_id,
                kind,
                "live" if livemode else "test",
                "live" if self.livemode else "test",
            )
            return []
        billing: BillingEvent | None = None
        if kind in _SUBSCRIPTION_EVENTS:
            if not self._ours(
                event_id, kind, tr.subscription_price(obj), tr.subscription_product(obj)
            ):
                return []
            snap = tr.subscription_snapshot(obj, version)
            member = tr.metadata(obj).get(tr.MEMBER_KEY)
            billing = self._event(event, _SUBSCRIPTION_EVENTS[kind], occurred, snap, member)
        elif kind in _INVOICE_EVENTS:
            billing = self._from_invoice(event, kind, obj, occurred, version)
        elif kind in _CHECKOUT_EVENTS:
            billing = self._from_checkout(event, obj, occurred, version)
        elif kind == "charge.refunded":
            billing = self._from_refund(event, obj, occurred, version)
        elif kind == "charge.dispute.closed":
            billing = self._from_dispute(event, obj, occurred, version)
        if billing is None:
            logger.debug("ignored Stripe event %s (%s)", event_id, kind)
            return []
        return [billing]

    def _ours(self, event_id: str, kind: str, price: str | None, product: str | None) -> bool:
        if self.prices is not None and price and price not in self.prices:
            logger.info(
                "ignored Stripe event %s (%s): price %r is not one of ours", event_id, kind, price
            )
            return False
        if self.products is not None and product and product not in self.products:
            logger.info(
                "ignored Stripe event %s (%s): product %r is not one of ours",
                event_id,
                kind,
                product,
            )
            return False
        return True

    def _event(
        self,
        event: Mapping[str, Any],
        kind: EventType,
        occurred: datetime,
        snapshot: SubscriptionSnapshot | PurchaseSnapshot,
        member: object = None,
        country: str | None = None,
    ) -> BillingEvent:
        subscription = snapshot if isinstance(snapshot, SubscriptionSnapshot) else None
        purchase = snapshot if isinstance(snapshot, PurchaseSnapshot) else None
        return BillingEvent(
            provider=self.name,
            id=str(event["id"]),
            type=kind,
            occurred_at=occurred,
            subscription=subscription,
            purchase=purchase,
            member_id=member if isinstance(member, str) and member else None,
            livemode=bool(event.get("livemode")),
            country=country,
            data={"stripe_type": event["type"]},
        )

    def _from_invoice(
        self,
        event: Mapping[str, Any],
        kind: str,
        invoice: Mapping[str, Any],
        occurred: datetime,
        version: int,
    ) -> BillingEvent | None:
        subscription = tr.invoice_subscription(invoice)
        customer = tr.object_id(invoice.get("customer"))
        if not subscription or not customer:
            return None  # a one-off invoice; purchases come from Checkout
        price = tr.invoice_price(invoice, self.prices)
        if not self._ours(str(event["id"]), kind, price, None):
            return None
        snap = tr.placeholder_subscription(subscription, customer, price, version)
        if _INVOICE_EVENTS[kind] is EventType.PAYMENT_SUCCEEDED:
            # What was paid, which the subscription itself does not say: it starts its
            # next period (and may turn past_due) before the charge.
            snap = dataclasses.replace(snap, paid_through=tr.invoice_paid_through(invoice))
        return self._event(event, _INVOICE_EVENTS[kind], occurred, snap)

    def _from_checkout(
        self,
        event: Mapping[str, Any],
        session: Mapping[str, Any],
        occurred: datetime,
        version: int,
    ) -> BillingEvent | None:
        customer = tr.object_id(session.get("customer"))
        meta = tr.metadata(session)
        price = str(meta.get(tr.PRICE_KEY) or "")
        member = session.get("client_reference_id") or meta.get(tr.MEMBER_KEY)
        if not customer or not self._ours(str(event["id"]), str(event["type"]), price, None):
            return None
        if session.get("mode") == "subscription":
            subscription = tr.object_id(session.get("subscription"))
            if not subscription:
                return None
            snap = tr.placeholder_subscription(subscription, customer, price, version)
            return self._event(
                event,
                EventType.SUBSCRIPTION_CREATED,
                occurred,
                snap,
                member,
                country=tr.billing_country(session),
            )
        if session.get("mode") != "payment" or session.get("payment_status") not in _SETTLED:
            return None  # an async payment still pending: async_payment_succeeded follows
        purchase = PurchaseSnapshot(
            id=tr.object_id(session.get("payment_intent")) or str(session["id"]),
            customer_id=customer,
            price=price,
            state=PurchaseState.PAID,
            version=version,
            paid_at=occurred,
            checkout_id=str(session["id"]),
        )
        return self._event(
            event,
            EventType.PURCHASE_COMPLETED,
            occurred,
            purchase,
            member,
            country=tr.billing_country(session),
        )

    def _from_refund(
        self,
        event: Mapping[str, Any],
        charge: Mapping[str, Any],
        occurred: datetime,
        version: int,
    ) -> BillingEvent | None:
        """A full refund. A one-off purchase made through our Checkout carries its price
        in the metadata; a subscription's payment carries none, and the program asks
        :meth:`subscription_for_payment` which subscription it paid."""
        intent = tr.object_id(charge.get("payment_intent"))
        customer = tr.object_id(charge.get("customer")) or ""
        price = str(tr.metadata(charge).get(tr.PRICE_KEY) or "")
        if not intent or not tr.flag(charge, "refunded"):
            return None  # partly refunded, or not paid through a PaymentIntent
        if not self._ours(str(event["id"]), str(event["type"]), price, None):
            return None
        purchase = PurchaseSnapshot(
            id=intent,
            customer_id=customer,
            price=price,
            state=PurchaseState.REFUNDED,
            version=version,
            paid_at=None,
        )
        return self._event(event, EventType.PURCHASE_REFUNDED, occurred, purchase)

    def _from_dispute(
        self,
        event: Mapping[str, Any],
        dispute: Mapping[str, Any],
        occurred: datetime,
        version: int,
    ) -> BillingEvent | None:
        """A chargeback the site lost takes back what the payment bought, as a refund
        does. Open, won and warning-only disputes change nothing (access is kept while
        the bank decides). A dispute names its payment, not the customer or the price,
        so the program finds the purchase (or, through :meth:`subscription_for_payment`,
        the subscription) by the payment's id."""
        if dispute.get("status") != "lost":
            return None
        payment = tr.object_id(dispute.get("payment_intent"))
        if not payment:
            # A charge made through the legacy Charges API has no PaymentIntent: the
            # dispute names only the charge, which names its invoice (older API versions)
            # or is found through the invoice's payments.
            payment = tr.object_id(dispute.get("charge"))
            if not payment:
                logger.warning(
                    "Stripe event %s: lost dispute %s names neither a PaymentIntent nor a "
                    "charge; nothing to take back, ignored",
                    event.get("id"),
                    dispute.get("id"),
                )
                return None
            logger.warning(
                "Stripe event %s: lost dispute %s of charge %s, which has no PaymentIntent "
                "(the legacy Charges API): looking the payment up by its charge; ignored "
                "if it paid nothing this site knows",
                event.get("id"),
                dispute.get("id"),
                payment,
            )
        purchase = PurchaseSnapshot(
            id=payment,
            customer_id="",
            price="",
            state=PurchaseState.CHARGED_BACK,
            version=version,
            paid_at=None,
        )
        return self._event(event, EventType.PURCHASE_REFUNDED, occurred, purchase)
