"""A site's membership program: the catalog, its store, its providers and plugins.

:class:`MembershipProgram` is the one entry point adapters and scripts use to start
checkouts, apply billing events, manage grants and resolve access contexts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pluggy

from . import lifecycle, member_prices
from .access import AccessContext, Decision, Resource, decide, resolve_context, settle
from .catalog import Catalog, Price
from .discounts import Discount, check_discount_terms, checkout_discount, intro_discount
from .errors import (
    CouponError,
    InvalidTransition,
    MalformedEvent,
    MembershipError,
    ProviderError,
    UnknownPrice,
)
from .events import (
    ApplyResult,
    BillingEvent,
    EventType,
    Outcome,
    PurchaseSnapshot,
    PurchaseState,
    SubscriptionSnapshot,
)
from .gifts import GiftError, GiftOrder, apply_gift_purchase, check_order, normalize_code
from .membership import GRANTING, PAYING, TERMINAL, UNCOUNTED, Grant, GrantKind, Membership, Status
from .memory import MemoryRedemptions
from .plugins import Providers, get_plugin_manager
from .ports import GiftStore, RedemptionStore, Store
from .privacy import erased_customer
from .providers.base import (
    CheckoutRequest,
    CheckoutSession,
    PaymentLookup,
    PlanChangePreview,
    PurchaseRefunds,
    Refund,
    SubscriptionDiscounts,
    SubscriptionRefunds,
)
from .usage import usage_prices

logger = logging.getLogger("membership_sdk.program")


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Transition:
    """A stored change of one membership, and the lifecycle hook it fires."""

    before: Membership | None
    after: Membership

    @property
    def hook(self) -> str | None:
        """The lifecycle hook this change fires, if any.

        A cancellation fires ``membership_canceled`` once, when it is asked for (at
        period end or at once); a scheduled cancellation taking effect, like an expiry,
        fires ``membership_expired``.
        """
        before, after = self.before, self.after
        old = before.status if before is not None else None
        new = after.status
        scheduled = before is not None and before.cancel_at_period_end
        # The end of a pause the member asked for (it has a resume date) is no new start.
        resumed = old is Status.PAUSED and before is not None and before.paused_until is not None
        if new in (Status.TRIALING, Status.ACTIVE) and old not in GRANTING and not resumed:
            return "membership_activated"
        if new is Status.PAST_DUE and old is not Status.PAST_DUE:
            return "membership_payment_failed"
        if new is Status.CANCELED and old is not Status.CANCELED:
            return "membership_expired" if scheduled else "membership_canceled"
        if new is Status.EXPIRED and old is not Status.EXPIRED:
            return "membership_expired"
        if new in GRANTING and not scheduled and after.cancel_at_period_end:
            return "membership_canceled"
        if new is Status.ACTIVE and before is not None and old in PAYING:
            # A renewal is a payment that covers a later period than the last one did:
            # never the provider merely starting a new period (Stripe does so an hour
            # before it charges, and a failed charge follows).
            paid = after.paid_through
            last = before.paid_through or before.current_period_end
            if paid is not None and (last is None or paid > last):
                return "membership_renewed"
        return None


#: What a full refund or a lost chargeback of a subscription's payment may do (see
#: :class:`MembershipProgram`'s ``on_refund`` and ``on_dispute_lost``).
TAKE_BACK_POLICIES = ("keep_to_period_end", "end_now")


def paid_through(
    event: BillingEvent, snap: SubscriptionSnapshot, known: datetime | None
) -> datetime | None:
    """The end of the last period a membership is paid for, once ``event`` is seen.

    ``known`` is what the membership had. The snapshot's own ``paid_through``, set by a
    provider event that reports a payment (Stripe's ``invoice.paid``), moves it on; so
    does a ``payment.succeeded`` event that does not say which period it paid, with the
    subscription active: it paid the period the subscription is in (the ``fake`` and
    ``manual`` providers extend the period only when a payment arrives).

    It is the latest payment reported by the snapshots applied: only a payment moves it
    on. The snapshot's ``unpaid_since`` (Stripe's past-due subscription: where the unpaid
    period began) is an upper bound, never a payment: it may lower the result, or set it
    when no payment is known, never raise it. A subscription left past due rolls its
    period on without paying, and each roll must not open a new grace period.

    A stale event changes nothing, as ever; Stripe's payment events are never stale (the
    program applies the subscription fetched at that moment), and for the ``fake`` and
    ``manual`` providers a past-due membership without it counts its current period,
    which is the paid one.
    """
    paid = snap.paid_through
    if paid is None and event.type is EventType.PAYMENT_SUCCEEDED and snap.status is Status.ACTIVE:
        paid = snap.current_period_end
    if known is not None and (paid is None or paid < known):
        paid = known
    bound = snap.unpaid_since
    if bound is not None and (paid is None or bound < paid):
        return bound
    return paid


class MembershipProgram:
    """Checkouts, billing events, grants and access for one site.

    :param catalog: the site's tiers and prices.
    :param store: where memberships, grants, events and usage live.
    :param pm: a plugin manager from :func:`~membership_sdk.plugins.get_plugin_manager`;
        one is built when omitted.
    :param provider_config: settings per provider, passed to the registration hook.
    :param development: development mode: providers may verify webhooks with their public
        development secrets (see :class:`~membership_sdk.plugins.Providers`). Off by
        default; never on where real members pay.
    :param configured_only: register only the providers ``provider_config`` names.
    :param grace: how long past-due memberships keep access after their last paid period
        ends.
    :param on_refund: what a full refund of a subscription's payment does:
        ``"keep_to_period_end"`` (the default: access lasts until the paid period ends and
        the subscription is set to cancel then, which :meth:`resume` undoes) or
        ``"end_now"`` (the subscription is canceled at the provider and access ends now).
        One-off purchases are always taken back.
    :param on_dispute_lost: the same for a chargeback the site lost; ``"end_now"`` by
        default.
    :param clock: returns the current aware datetime (tests pass a fixed one).
    :param redemptions: where coupon redemptions are counted (in memory by default; an
        adapter passes its database's, so ``max_redemptions`` holds across processes).
    :param redemption_hold: how long a checkout holds a coupon redemption before the
        subscription it starts confirms it; an abandoned checkout's hold lapses then.
    :param pause_access: what a paused membership gives: ``"paid_period"`` (the
        default: access until the period paid before the pause ends) or ``"none"``; see
        :class:`~membership_sdk.lifecycle.PauseAccess`.
    """

    def __init__(
        self,
        catalog: Catalog,
        store: Store,
        *,
        pm: pluggy.PluginManager | None = None,
        provider_config: Mapping[str, Mapping[str, Any]] | None = None,
        development: bool = False,
        configured_only: bool = False,
        grace: timedelta = timedelta(days=3),
        on_refund: str = "keep_to_period_end",
        on_dispute_lost: str = "end_now",
        clock: Callable[[], datetime] = _utcnow,
        redemptions: RedemptionStore | None = None,
        redemption_hold: timedelta = timedelta(hours=24),
        pause_access: str = "paid_period",
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.pm = pm if pm is not None else get_plugin_manager()
        self.providers = Providers(
            self.pm,
            provider_config,
            development=development,
            configured_only=configured_only,
        )
        self.grace = grace
        for name, policy in (("on_refund", on_refund), ("on_dispute_lost", on_dispute_lost)):
            if policy not in TAKE_BACK_POLICIES:
                raise MembershipError(
                    f"{name} must be one of {', '.join(map(repr, TAKE_BACK_POLICIES))}; "
                    f"got {policy!r}"
                )
        self.on_refund = on_refund
        self.on_dispute_lost = on_dispute_lost
        self.clock = clock
        try:
            self.pause_access = lifecycle.PauseAccess(pause_access)
        except ValueError:
            known = ", ".join(repr(v.value) for v in lifecycle.PauseAccess)
            raise MembershipError(
                f"pause_access must be one of {known}; got {pause_access!r}"
            ) from None
        self.redemptions: RedemptionStore = (
            redemptions if redemptions is not None else MemoryRedemptions()
        )
        self.redemption_hold = redemption_hold

    # -- checkout -----------------------------------------------------------------------
    def start_checkout(
        self,
        member_id: str,
        price_id: str,
        *,
        provider: str,
        success_url: str,
        cancel_url: str,
        email: str | None = None,
        coupon: str | None = None,
        attempt: str = "",
        metadata: Mapping[str, str] | None = None,
    ) -> CheckoutSession:
        """Ask ``provider`` to sell ``price_id`` to ``member_id``. Stores nothing: access
        is granted only when the provider's event arrives.

        :param attempt: an opaque token identifying this checkout attempt (a form's
            nonce); retries with the same token reuse one idempotency key.
        :param metadata: extra keys for the provider to keep with the checkout (Stripe
            shows them on the session and payment); ``member_id`` and ``price_id`` are
            always ours.
        :param coupon: a code the member entered. A code of the catalog is checked here
            (see :func:`~membership_sdk.discounts.checkout_discount`), a redemption is held
            for the member (given back if the provider fails) and the provider is passed
            the resolved discount; a code the catalog does not know is passed on as it
            is, for providers with codes of their own. The price's intro offer applies
            by itself, and so does a member price of a one-off item, decided here from
            the member's memberships and grants (see :mod:`membership_sdk.member_prices`).
        :raises UnknownPrice: the price is unknown, archived, or not sold by ``provider``.
        :raises CouponError: the code cannot be used (``reason`` says why); nothing was
            stored or reserved.
        :raises ProviderError: the provider failed; nothing was stored.
        """
        price = self.catalog.price(price_id)
        backend = self.providers[provider]
        external = price.provider_ids.get(provider)
        if external is None:
            raise UnknownPrice(
                f"price {price_id!r} is not sold through provider {provider!r}; "
                f"it has ids for: {sorted(price.provider_ids) or 'no provider'}"
            )
        code = (coupon or "").strip() or None
        discount = self._checkout_discount(member_id, price, code)
        if member_prices.amounts_of(price):
            # What the member holds now decides it, never the request (no meter query).
            discount = member_prices.checkout_discount(
                price, self.context(member_id, usage={}), discount, code
            )
        if discount is not None and discount.intro and code and self.catalog.coupon(code):
            code = None  # the intro offer is the better deal: the code is not used
        scope = f"{member_id}|{price_id}|{provider}|{attempt}"
        if code is not None:
            scope += f"|{code.casefold()}"
        if discount is not None and discount.member_tier:
            scope += f"|member:{discount.member_tier}"  # a new member price: a new session
        key = hashlib.sha256(scope.encode()).hexdigest()
        request = CheckoutRequest(
            member_id=member_id,
            price=price,
            provider_price=external,
            success_url=success_url,
            cancel_url=cancel_url,
            idempotency_key=f"checkout-{key[:32]}",
            email=email,
            customer_id=self.store.customers.customer_for(provider, member_id),
            coupon=discount.code if discount is not None and discount.code else code,
            discount=discount,
            trial_days=price.trial_days,
            metadata={**(metadata or {}), "member_id": member_id, "price_id": price_id},
            usage_prices=usage_prices(self.catalog, price, provider),
        )
        held = discount is not None and bool(discount.code)
        if held:
            assert discount is not None
            self._hold_redemption(member_id, discount.code)
        try:
            return backend.create_checkout(request)
        except BaseException:
            if held:
                assert discount is not None
                self.redemptions.release(discount.code, member_id)
            raise

    def _checkout_discount(self, member_id: str, price: Price, code: str | None) -> Discount | None:
        """The discount a checkout gets (see :func:`~membership_sdk.discounts.checkout_discount`);
        a code the catalog does not know gets the intro offer only, and goes on to the
        provider as it is."""
        if code is not None and self.catalog.coupon(code) is None:
            return intro_discount(price)
        first_time = code is None or not any(
            m.status not in UNCOUNTED for m in self.store.memberships.for_member(member_id)
        )
        return checkout_discount(
            self.catalog, price, code, now=self.clock(), first_time=first_time, member_id=member_id
        )

    def _hold_redemption(self, member_id: str, code: str) -> None:
        coupon = self.catalog.coupon(code)
        assert coupon is not None
        now = self.clock()
        if self.redemptions.redeemed(coupon.code, member_id):
            raise CouponError(
                f"coupon {coupon.code!r} was already redeemed by member {member_id!r}; "
                "each member redeems a code once",
                code=code,
                reason="already_redeemed",
            )
        if not self.redemptions.reserve(
            coupon.code, member_id, coupon.max_redemptions, now, now + self.redemption_hold
        ):
            raise CouponError(
                f"coupon {coupon.code!r} is used up: all {coupon.max_redemptions} "
                "redemptions are taken",
                code=code,
                reason="used_up",
            )

    def _count_redemption(self, before: Membership | None, after: Membership) -> None:
        """A subscription that started with a catalog coupon redeems it for good."""
        if not after.coupon or (before is not None and before.coupon == after.coupon):
            return
        coupon = self.catalog.coupon(after.coupon)
        if coupon is not None:
            self.redemptions.confirm(coupon.code, after.member_id, self.clock())

    # -- webhooks ---------------------------------------------------------------------------
    def handle_webhook(
        self, provider: str, headers: Mapping[str, str], body: bytes
    ) -> list[ApplyResult]:
        """Verify, translate and apply a webhook (the synchronous path; adapters usually
        store it in an inbox first and apply it in a task)."""
        events = self.providers[provider].parse_webhook(headers, body)
        return [self.apply(event) for event in events]

    def apply(self, event: BillingEvent) -> ApplyResult:
        """Apply one billing event: idempotent, order-safe, all or nothing.

        A duplicate returns ``DUPLICATE`` and changes nothing; an older snapshot than the
        one stored returns ``STALE``; an event for an unknown customer or a foreign
        price returns ``IGNORED`` with ``detail`` naming it. Lifecycle hooks fire after
        the change is stored, once per real transition.
        """
        if not isinstance(event, BillingEvent):
            raise MalformedEvent(f"expected a BillingEvent, got {type(event).__name__}")
        if event.purchase is not None and event.purchase.state is not PurchaseState.PAID:
            taken = self._take_back_subscription(event, event.purchase)
            if taken is not None:
                return taken
        snapshot = event.subscription
        lock_key = f"{event.provider}:{(snapshot or event.purchase).id}"  # type: ignore[union-attr]
        transition: Transition | None = None
        grant_action: tuple[Grant, str] | None = None
        with self.store.atomic(lock_key):
            if self.store.inbox.seen(event.provider, event.id):
                return ApplyResult(Outcome.DUPLICATE, event)
            if snapshot is not None:
                result, transition = self._apply_subscription(event, snapshot)
            else:
                result, grant_action = self._apply_purchase(event)
            self.store.inbox.record(result)
        if result.outcome is Outcome.IGNORED:
            self.pm.hook.membership_event_ignored(result=result)
        if transition is not None:
            self._fire(transition, event)
            if transition.hook == "membership_activated":
                self._check_duplicates(transition.after)
        if grant_action is not None:
            self._grant_changed(*grant_action)
        if result.outcome is Outcome.APPLIED and event.purchase is not None:
            self._gift_made(event, event.purchase)
        return result

    def _gift_made(self, event: BillingEvent, snap: PurchaseSnapshot) -> None:
        """Fire ``membership_gift_purchased`` when applying ``event`` made a paid gift."""
        gifts = self._gift_store()
        if gifts is None or snap.state is not PurchaseState.PAID:
            return
        gift = gifts.by_source(f"{event.provider}:{snap.id}")
        if gift is not None and gift.version == snap.version and not gift.refunded:
            self.pm.hook.membership_gift_purchased(gift=gift)

    def _check_duplicates(self, activated: Membership) -> None:
        """Fire ``membership_duplicate_subscription`` when ``activated`` is the member's
        second (or further) live subscription that will charge again: two checkouts in two
        tabs, say. Nothing is changed; the publisher decides which to refund.

        With no plugin implementing the hook, the member's memberships are not read: no
        one would hear the answer, and every activation would pay a query for it."""
        hook = self.pm.hook.membership_duplicate_subscription
        if not hook.get_hookimpls():
            return
        live = [
            m
            for m in self.store.memberships.for_member(activated.member_id)
            if m.status in GRANTING and m.provider_subscription_id and not m.cancel_at_period_end
        ]
        if len(live) > 1 and any(m.id == activated.id for m in live):
            hook(member_id=activated.member_id, memberships=live)

    def _member_for(self, event: BillingEvent) -> str | None:
        customers = self.store.customers
        member = customers.member_for(event.provider, event.customer_id)
        if member is None and event.member_id:
            if erased_customer(self.store, event.provider, event.customer_id):
                return None  # an erased member's customer: never linked (or re-created) again
            member = event.member_id
            customers.link(event.provider, event.customer_id, member)
        return member

    def _apply_subscription(
        self, event: BillingEvent, snap: SubscriptionSnapshot
    ) -> tuple[ApplyResult, Transition | None]:
        store = self.store
        existing = store.memberships.by_provider_id(event.provider, snap.id)
        provider = self.providers.get(event.provider)
        if provider is not None and provider.refetch_subscriptions:
            current = provider.fetch_subscription(snap.id)
            if current is not None:
                # The fetched subscription says where it stands now; only the event says
                # what was paid.
                reported = [t for t in (current.paid_through, snap.paid_through) if t]
                snap = dataclasses.replace(current, paid_through=max(reported, default=None))
        price = self.catalog.price_for_provider(event.provider, snap.price)
        if price is None or price.tier is None:
            return ApplyResult(
                Outcome.IGNORED, event, f"foreign price {snap.price!r}: not in this catalog"
            ), None
        member = existing.member_id if existing is not None else self._member_for(event)
        if member is None:
            return ApplyResult(
                Outcome.IGNORED, event, f"unknown customer {snap.customer_id!r}"
            ), None
        version = (snap.version, event.id)
        if existing is not None and existing.version >= version:
            return ApplyResult(
                Outcome.STALE,
                event,
                f"snapshot {snap.version} is older than stored {existing.version[0]}",
                existing.id,
            ), None
        fields: dict[str, Any] = {
            "tier": price.tier,
            "price_id": price.id,
            "provider_customer_id": snap.customer_id,
            "version": version,
            "paid_through": paid_through(
                event, snap, existing.paid_through if existing is not None else None
            ),
            **self._snapshot_fields(snap),
        }
        if existing is None:
            after = Membership(
                id=store.memberships.new_id(),
                member_id=member,
                status=snap.status,
                provider=event.provider,
                provider_subscription_id=snap.id,
                started_at=snap.started_at or event.occurred_at,
                **fields,
            )
        else:
            if snap.started_at is not None:
                # The provider's start date wins, so events applied in any order converge.
                fields["started_at"] = snap.started_at
            try:
                after = existing.transition(snap.status, **fields)
            except InvalidTransition as exc:
                return ApplyResult(Outcome.IGNORED, event, str(exc), existing.id), None
        store.memberships.save(after)
        self._count_redemption(existing, after)
        lifecycle.record_price_move(self, existing, after)
        return ApplyResult(Outcome.APPLIED, event, membership_id=after.id), Transition(
            existing, after
        )

    @staticmethod
    def _snapshot_fields(snap: SubscriptionSnapshot) -> dict[str, Any]:
        """The membership fields a provider snapshot sets as they are (not the version,
        the payments or the tier, which need the event and the catalog)."""
        return {
            "current_period_end": snap.current_period_end,
            "trial_end": snap.trial_end,
            "cancel_at_period_end": snap.cancel_at_period_end,
            "canceled_at": snap.canceled_at,
            "price_since": snap.price_since,
            "paused_until": snap.paused_until,
            "amount": snap.amount,
            "coupon": snap.coupon,
            "discount_ends_at": snap.discount_ends_at,
        }

    def _take_back_subscription(
        self, event: BillingEvent, snap: PurchaseSnapshot
    ) -> ApplyResult | None:
        """Apply ``on_refund`` or ``on_dispute_lost`` when the refunded or charged-back
        payment paid a subscription; ``None`` when it did not (a one-off purchase, or a
        payment this site does not know), for :meth:`_apply_purchase` to handle.

        The provider is asked which subscription period the payment paid (the optional
        :class:`~membership_sdk.providers.PaymentLookup` capability; without it nothing
        is taken back from subscriptions) and told to cancel before the event is recorded
        as seen, so a provider that fails leaves the event to be retried; a retry finds
        the membership canceled already and only records it.

        A full refund takes back only the membership's current period: the refund of an
        older invoice (last year's, say) is the publisher's goodwill on a period already
        served, and changes nothing but the record. A lost chargeback applies
        ``on_dispute_lost`` whichever period it paid: the cardholder refused the payment,
        and the card the subscription goes on charging is the one they dispute.
        """
        provider = event.provider
        if self.store.grants.by_source(f"{provider}:{snap.id}") is not None:
            return None
        gifts = self._gift_store()
        if gifts is not None and gifts.by_source(f"{provider}:{snap.id}") is not None:
            return None  # a gift's payment (a dispute names no price)
        if self.catalog.price_for_provider(provider, snap.price) is not None:
            return None
        backend = self.providers.get(provider)
        if not isinstance(backend, PaymentLookup) or self.store.inbox.seen(provider, event.id):
            return None
        paid = backend.subscription_for_payment(snap.id)
        subscription_id = paid.subscription_id if paid is not None else None
        membership = (
            self.store.memberships.by_provider_id(provider, subscription_id)
            if subscription_id
            else None
        )
        if membership is None:
            return None
        charged_back = snap.state is PurchaseState.CHARGED_BACK
        why = "a lost chargeback" if charged_back else "a full refund"
        assert paid is not None
        membership, policy = self._take_back(
            membership, paid.period_end, charged_back=charged_back, payment=snap.id
        )
        with self.store.atomic(f"{provider}:{snap.id}"):
            if self.store.inbox.seen(provider, event.id):
                return ApplyResult(Outcome.DUPLICATE, event, membership_id=membership.id)
            result = ApplyResult(
                Outcome.APPLIED,
                event,
                f"{why} of a payment for subscription {subscription_id!r}: {policy}",
                membership.id,
            )
            self.store.inbox.record(result)
        return result

    def _take_back(
        self,
        membership: Membership,
        period_end: datetime | None,
        *,
        charged_back: bool,
        payment: str,
    ) -> tuple[Membership, str]:
        """Apply ``on_dispute_lost`` (``charged_back``) or ``on_refund`` to ``membership``
        for ``payment``, which paid its period up to ``period_end``; returns the
        membership and the policy applied. A refund of a period before the current one
        changes nothing (see :meth:`_take_back_subscription`)."""
        policy = self.on_dispute_lost if charged_back else self.on_refund
        why = "a lost chargeback" if charged_back else "a full refund"
        latest = membership.paid_through or membership.current_period_end
        if (
            not charged_back
            and period_end is not None
            and latest is not None
            and period_end < latest
        ):
            logger.info(
                "%s of %s paid subscription %s up to %s, before its current period "
                "(paid through %s): the membership is unchanged",
                why,
                payment,
                membership.provider_subscription_id,
                period_end.isoformat(),
                latest.isoformat(),
            )
            policy = "none: an earlier period's payment"
        elif membership.status not in TERMINAL:
            at_period_end = policy == "keep_to_period_end"
            if not at_period_end or not membership.cancel_at_period_end:
                membership = self.cancel(
                    membership.id,
                    reason=f"{why} of {payment}",
                    at_period_end=at_period_end,
                )
        return membership, policy

    def _apply_purchase(self, event: BillingEvent) -> tuple[ApplyResult, tuple[Grant, str] | None]:
        snap = event.purchase
        assert snap is not None
        source = f"{event.provider}:{snap.id}"
        grants = self.store.grants
        existing = grants.by_source(source)
        version = snap.version
        gift_store = self._gift_store()
        if gift_store is not None:
            as_gift = apply_gift_purchase(
                gift_store,
                event,
                self.catalog.price_for_provider(event.provider, snap.price),
                lambda: self._member_for(event),
                existing,
            )
            if as_gift is not None:
                if as_gift[1] is not None:
                    grants.save(as_gift[1][0])
                return as_gift
        if snap.state is not PurchaseState.PAID and existing is not None:
            # A refund or a lost dispute takes back what the payment granted, whatever it
            # names: a dispute carries neither the customer nor the price.
            if int(existing.note or 0) >= version:
                return ApplyResult(
                    Outcome.STALE, event, f"purchase snapshot {version} is stale"
                ), None
            grant = existing.replace(revoked_at=event.occurred_at, note=str(version))
            grants.save(grant)
            return ApplyResult(Outcome.APPLIED, event), (grant, "revoked")
        price = self.catalog.price_for_provider(event.provider, snap.price)
        if price is None:
            detail = (
                f"foreign price {snap.price!r}"
                if snap.price
                else f"no purchase of this site was paid with {snap.id!r}"
            )
            if snap.state is PurchaseState.CHARGED_BACK:
                logger.warning(
                    "%s event %s: a lost chargeback of payment %s, which paid nothing this "
                    "site knows; ignored",
                    event.provider,
                    event.id,
                    snap.id,
                )
            return ApplyResult(Outcome.IGNORED, event, detail), None
        member = self._member_for(event)
        if member is None:
            return ApplyResult(
                Outcome.IGNORED, event, f"unknown customer {snap.customer_id!r}"
            ), None
        if existing is not None and int(existing.note or 0) >= version:
            return ApplyResult(Outcome.STALE, event, f"purchase snapshot {version} is stale"), None
        when = snap.paid_at or event.occurred_at
        if snap.state is PurchaseState.PAID:
            grant = Grant(
                id=existing.id if existing else grants.new_id(),
                member_id=member,
                kind=GrantKind.PURCHASE,
                starts_at=when,
                tier=price.tier,
                item=price.item,
                source=source,
                note=str(version),
            )
            action = "created"
        else:
            grant = (
                existing
                or Grant(
                    id=grants.new_id(),
                    member_id=member,
                    kind=GrantKind.PURCHASE,
                    starts_at=when,
                    tier=price.tier,
                    item=price.item,
                    source=source,
                )
            ).replace(revoked_at=event.occurred_at, note=str(version))
            action = "revoked"
        grants.save(grant)
        return ApplyResult(Outcome.APPLIED, event), (grant, action)

    def end_vanished_subscription(self, provider: str, subscription_id: str) -> ApplyResult:
        """End the membership of a subscription that ``provider`` no longer has.

        For reconciling after a deletion the site never heard of (a lost webhook, a
        subscription deleted at the provider, a test-mode wipe). The provider is asked
        first (``fetch_subscription``); only when it answers that it has no such
        subscription is the membership canceled, with access ending now, as the
        provider's own deletion would have done. The change is stored as a
        ``subscription.deleted`` event with id ``vanished:<subscription id>`` (kept in the
        inbox; its ``data["vanished"]`` is true); lifecycle hooks fire once
        (``membership_canceled``, or ``membership_expired`` when a cancellation was
        scheduled) and ``membership_access_changed`` drops the member's cached access.

        :returns: ``APPLIED`` with the membership's id; ``IGNORED`` (nothing changed,
            nothing recorded) with ``detail`` saying why when the provider still has the
            subscription or the membership already ended; ``DUPLICATE`` when it was
            ended this way before.
        :raises MembershipError: no membership belongs to that subscription.
        :raises ProviderError: the provider could not be asked; nothing changed.
        """
        # Asked here, not taken from the caller: a listing may lag behind the provider,
        # and ending a paying member's access on someone else's word is not undoable.
        current = self.providers[provider].fetch_subscription(subscription_id)
        now = self.clock()
        with self.store.atomic(f"{provider}:{subscription_id}"):
            existing = self.store.memberships.by_provider_id(provider, subscription_id)
            if existing is None:
                raise MembershipError(
                    f"no membership belongs to {provider!r} subscription {subscription_id!r}"
                )
            end = existing.current_period_end
            event = BillingEvent(
                provider=provider,
                id=f"vanished:{subscription_id}",
                type=EventType.SUBSCRIPTION_DELETED,
                occurred_at=now,
                subscription=SubscriptionSnapshot(
                    id=subscription_id,
                    customer_id=existing.provider_customer_id or "",
                    price=self._provider_price(existing),
                    status=Status.CANCELED,
                    version=existing.version[0],
                    current_period_end=now if end is None else min(end, now),
                    started_at=existing.started_at,
                    trial_end=existing.trial_end,
                    cancel_at_period_end=existing.cancel_at_period_end,
                    canceled_at=existing.canceled_at or now,
                ),
                member_id=existing.member_id,
                data={"vanished": True},
            )
            if current is not None:
                return ApplyResult(
                    Outcome.IGNORED,
                    event,
                    f"{provider} still has subscription {subscription_id!r} ({current.status})",
                    existing.id,
                )
            if self.store.inbox.seen(provider, event.id):
                return ApplyResult(Outcome.DUPLICATE, event, membership_id=existing.id)
            if existing.status in TERMINAL:
                return ApplyResult(
                    Outcome.IGNORED,
                    event,
                    f"membership {existing.id} already ended ({existing.status})",
                    existing.id,
                )
            snap = event.subscription
            assert snap is not None
            after = existing.transition(
                Status.CANCELED,
                current_period_end=snap.current_period_end,
                canceled_at=snap.canceled_at,
                version=(snap.version, event.id),
            )
            self.store.memberships.save(after)
            result = ApplyResult(Outcome.APPLIED, event, membership_id=after.id)
            self.store.inbox.record(result)
        self._fire(Transition(existing, after), event)
        return result

    def _provider_price(self, membership: Membership) -> str:
        """The provider's id of the membership's price, or ``""`` if the catalog lost it."""
        try:
            price = self.catalog.price(membership.price_id or "", include_archived=True)
        except UnknownPrice:
            return ""
        return price.provider_ids.get(membership.provider, "")

    def _fire(self, transition: Transition, event: BillingEvent | None) -> None:
        # Access first: a failing lifecycle plugin must not leave a cached context stale.
        self.pm.hook.membership_access_changed(member_id=transition.after.member_id)
        hook = transition.hook
        if hook is not None:
            getattr(self.pm.hook, hook)(membership=transition.after, event=event)
        self.pm.hook.membership_changed(
            before=transition.before, after=transition.after, event=event
        )

    # -- local changes ----------------------------------------------------------------------
    def cancel(
        self, membership_id: str, *, reason: str = "", at_period_end: bool = True
    ) -> Membership:
        """Cancel through the provider and store the provider's answer.

        :raises InvalidTransition: the membership already ended.
        """
        membership = self._membership(membership_id)
        if membership.status in TERMINAL:
            raise InvalidTransition(membership.status, Status.CANCELED, frozenset())
        snap = self.providers[membership.provider].cancel_subscription(
            membership.provider_subscription_id or membership.id, at_period_end=at_period_end
        )
        return self._store_local(membership, snap, cancel_reason=reason)

    def resume(self, membership_id: str) -> Membership:
        """Undo a cancel-at-period-end through the provider."""
        membership = self._membership(membership_id)
        if not membership.cancel_at_period_end or membership.status in (
            Status.CANCELED,
            Status.EXPIRED,
        ):
            raise InvalidTransition(membership.status, Status.ACTIVE, frozenset())
        snap = self.providers[membership.provider].resume_subscription(
            membership.provider_subscription_id or membership.id
        )
        return self._store_local(membership, snap, cancel_reason="")

    # -- refunds ----------------------------------------------------------------------------
    def refund(self, membership_id: str) -> tuple[Refund, Membership]:
        """Refund the latest payment of a membership's subscription through its provider
        (the optional :class:`~membership_sdk.providers.SubscriptionRefunds` capability),
        then apply ``on_refund`` exactly as to a refund made at the provider: the member
        keeps access to the period's end (the subscription cancels then) or loses it now.
        The provider's own refund webhook, when it comes, finds this done.

        :returns: the refund and the membership as it is now.
        :raises ProviderError: code ``unsupported`` when the provider cannot refund;
            ``nothing_to_refund``, ``already_refunded``, or the provider failed. Nothing
            was refunded or changed.
        """
        membership = self._membership(membership_id)
        backend = self.providers[membership.provider]
        if not isinstance(backend, SubscriptionRefunds):
            raise ProviderError(
                f"provider {membership.provider!r} cannot refund a subscription's payment",
                code="unsupported",
            )
        refund = backend.refund_latest_payment(membership.provider_subscription_id or membership.id)
        membership, _ = self._take_back(
            membership, refund.period_end, charged_back=False, payment=refund.payment_id
        )
        return refund, membership

    def refund_purchase(self, grant_id: str) -> tuple[Refund, Grant]:
        """Refund the one-off payment behind a purchase grant through its provider (the
        optional :class:`~membership_sdk.providers.PurchaseRefunds` capability) and revoke
        the grant, as the provider's refund webhook would.

        :raises MembershipError: the grant is not a purchase paid through a provider.
        :raises ProviderError: code ``unsupported`` when the provider cannot refund;
            ``already_refunded``, or the provider failed. Nothing was changed.
        """
        grant = self._grant(grant_id)
        provider, _, payment = grant.source.partition(":")
        if grant.kind is not GrantKind.PURCHASE or not payment:
            raise MembershipError(
                f"grant {grant_id!r} is a {grant.kind} grant, not a purchase paid through a "
                "provider; revoke it instead"
            )
        backend = self.providers[provider]
        if not isinstance(backend, PurchaseRefunds):
            raise ProviderError(
                f"provider {provider!r} cannot refund a purchase", code="unsupported"
            )
        refund = backend.refund_purchase(payment)
        return refund, self.revoke_grant(grant.id)

    def apply_discount(
        self,
        membership_id: str,
        *,
        code: str,
        percent_off: int | None = None,
        amount_off: int | None = None,
        months: int | None = None,
    ) -> Membership:
        """Discount a running membership's coming periods through its provider (a
        retention offer, a staff gesture) and store the provider's answer.

        :param code: what the discount is called on invoices and the account page.
        :param percent_off: 1..100, or ``amount_off`` in minor units of the price's
            currency: exactly one of them.
        :param months: how many months it lasts; ``None``: for as long as the
            subscription runs.
        :raises MembershipError: the discount is not valid, or the membership's provider
            cannot discount a running subscription (it lacks
            :class:`~membership_sdk.providers.SubscriptionDiscounts`).
        :raises InvalidTransition: the membership already ended.
        :raises ProviderError: the provider failed; nothing changed.
        """
        check_discount_terms(code, percent_off=percent_off, amount_off=amount_off, months=months)
        membership = self._membership(membership_id)
        if membership.status in TERMINAL:
            raise InvalidTransition(membership.status, membership.status, frozenset())
        backend = self.providers[membership.provider]
        if not isinstance(backend, SubscriptionDiscounts):
            raise MembershipError(
                f"provider {membership.provider!r} cannot discount a running subscription"
            )
        snap = backend.apply_discount(
            membership.provider_subscription_id or membership.id,
            code=code,
            percent_off=percent_off,
            amount_off=amount_off,
            months=months,
        )
        return self._store_local(membership, snap)

    def _membership(self, membership_id: str) -> Membership:
        membership = self.store.memberships.get(membership_id)
        if membership is None:
            raise MembershipError(f"no membership with id {membership_id!r}")
        return membership

    def _store_local(
        self, before: Membership, snap: SubscriptionSnapshot, **extra: Any
    ) -> Membership:
        with self.store.atomic(f"{before.provider}:{snap.id}"):
            current = self._membership(before.id)
            after = current
            if (snap.version, "") > current.version:
                fields = self._snapshot_fields(snap)
                price = self.catalog.price_for_provider(current.provider, snap.price)
                if price is not None and price.tier is not None:
                    # A plan change answers with the new price.
                    fields.update(tier=price.tier, price_id=price.id)
                after = current.transition(
                    snap.status,
                    version=(snap.version, ""),
                    **(fields | extra),
                )
            else:
                after = current.replace(**extra)
            self.store.memberships.save(after)
        self._fire(Transition(current, after), None)
        return after

    # -- plan changes and pauses (the rules: membership_sdk.lifecycle) ------------------------
    def preview_plan_change(self, membership_id: str, price_id: str) -> PlanChangePreview:
        """What moving the membership to ``price_id`` would cost now, as its provider
        bills it: the proration lines, ``amount_due`` and when it applies. Pass its
        ``proration_date`` to :meth:`change_plan` to be billed as shown.

        :raises PlanChangeError: ``NotAPlan`` (unknown, archived, not a tier's recurring
            price, not sold by the provider), ``CurrencyMismatch``, ``SamePlan``, or a
            membership that is not active or trialing.
        :raises CapabilityDeclined: the provider has no plan changes.
        :raises ProviderError: the provider failed.
        """
        return lifecycle.preview_plan_change(self, membership_id, price_id)

    def change_plan(
        self, membership_id: str, price_id: str, *, proration_date: int | None = None
    ) -> Membership:
        """Move the membership to ``price_id`` through its provider and store the answer
        (the tier follows the price the provider reports; a change that waits for the
        period's end, or for an invoice, leaves it on its price until then).

        :param proration_date: a preview's, to bill exactly what it showed; refused with
            ``StalePreview`` once older than ``lifecycle.PREVIEW_VALID_FOR``.
        :raises PlanChangeError: as :meth:`preview_plan_change`, or ``StalePreview``;
            nothing changed.
        """
        return lifecycle.change_plan(self, membership_id, price_id, proration_date=proration_date)

    def pause(self, membership_id: str, *, months: int, reason: str = "") -> Membership:
        """Pause an active membership's billing for ``months`` (1 to 3) through its
        provider; it resumes by itself then. ``reason`` is kept as ``pause_reason``.
        Access while paused is ``pause_access``'s.

        :raises PauseError: ``months`` out of range, or the membership is not active (or
            is set to cancel).
        :raises CapabilityDeclined: the provider does not pause.
        """
        return lifecycle.pause(self, membership_id, months=months, reason=reason)

    def unpause(self, membership_id: str) -> Membership:
        """Resume a paused membership now.

        :raises PauseError: it is not paused.
        """
        return lifecycle.unpause(self, membership_id)

    # -- grants -----------------------------------------------------------------------------
    def grant(
        self,
        member_id: str,
        kind: GrantKind,
        *,
        tier: str | None = None,
        days: int | None = None,
        item: str | None = None,
        entitlements: Iterable[str] = (),
        note: str = "",
        source: str = "",
        ends_at: datetime | None = None,
    ) -> Grant:
        """Give a member access: a comp or gift of a tier for ``days`` (or until
        ``ends_at``, which must be in the future), a team seat, an item."""
        from .entitlements import Entitlement

        if tier is not None:
            self.catalog.tier(tier)  # raises UnknownTier naming it
        if days is not None and days <= 0:
            raise MembershipError(f"a grant lasts at least one day, got days={days}")
        now = self.clock()
        if ends_at is not None and (days is not None or ends_at <= now):
            raise MembershipError(f"ends_at must be in the future and without days, got {ends_at}")
        grant = Grant(
            id=self.store.grants.new_id(),
            member_id=member_id,
            kind=GrantKind(kind),
            starts_at=now,
            ends_at=now + timedelta(days=days) if days is not None else ends_at,
            tier=tier,
            item=item,
            entitlements=tuple(Entitlement.parse(e) for e in entitlements),
            note=note,
            source=source,
        )
        with self.store.atomic(f"member:{member_id}"):
            self.store.grants.save(grant)
        self._grant_changed(grant, "created")
        return grant

    def extend_grant(self, grant_id: str, days: int) -> Grant:
        """Push a grant's end ``days`` further (from now if it already ended)."""
        if days <= 0:
            raise MembershipError(f"extend by at least one day, got days={days}")
        grant = self._grant(grant_id)
        now = self.clock()
        base = max(grant.ends_at or now, now)
        grant = grant.replace(ends_at=base + timedelta(days=days), revoked_at=None)
        with self.store.atomic(f"member:{grant.member_id}"):
            self.store.grants.save(grant)
        self._grant_changed(grant, "extended")
        return grant

    def revoke_grant(self, grant_id: str) -> Grant:
        grant = self._grant(grant_id).replace(revoked_at=self.clock())
        with self.store.atomic(f"member:{grant.member_id}"):
            self.store.grants.save(grant)
        self._grant_changed(grant, "revoked")
        return grant

    def _grant(self, grant_id: str) -> Grant:
        grant = self.store.grants.get(grant_id)
        if grant is None:
            raise MembershipError(f"no grant with id {grant_id!r}")
        return grant

    def _grant_changed(self, grant: Grant, action: str) -> None:
        self.pm.hook.membership_access_changed(member_id=grant.member_id)
        self.pm.hook.membership_grant_changed(grant=grant, action=action)

    # -- gifts (see membership_sdk.gifts) ------------------------------------------------------
    def _gift_store(self) -> GiftStore | None:
        gifts: GiftStore | None = getattr(self.store, "gifts", None)
        return gifts

    @property
    def gifts(self) -> GiftStore:
        """The store's gifts.

        :raises GiftError: the store keeps no gifts (it has no ``gifts`` attribute).
        """
        gifts = self._gift_store()
        if gifts is None:
            raise GiftError(
                f"{type(self.store).__name__} keeps no gifts: give it a `gifts` attribute "
                "implementing membership_sdk.ports.GiftStore"
            )
        return gifts

    def start_gift_checkout(
        self,
        buyer_id: str,
        price_id: str,
        *,
        provider: str,
        success_url: str,
        cancel_url: str,
        recipient_email: str = "",
        send_on: date | None = None,
        message: str = "",
        email: str | None = None,
        attempt: str = "",
    ) -> CheckoutSession:
        """Sell the gift price ``price_id`` to ``buyer_id``: keep what they entered (to
        whom and when to send the code, a message) and start the checkout. The gift is
        made when the purchase's payment arrives; the provider is passed the recipient
        and day as checkout metadata (``gift_recipient``, ``gift_send_on``).

        :raises UnknownPrice: the price is unknown, archived, or not sold by ``provider``.
        :raises GiftError: the price is no gift price, ``send_on`` is past, or
            ``recipient_email`` is no address. Nothing is stored then.
        :raises ProviderError: the provider failed; nothing is kept.
        """
        price = self.catalog.price(price_id)
        order = GiftOrder(buyer_id, price_id, recipient_email.strip(), send_on, message)
        check_order(order, price, self.clock().date())
        if self.providers[provider].name not in price.provider_ids:
            raise UnknownPrice(
                f"price {price_id!r} is not sold through provider {provider!r}; "
                f"it has ids for: {sorted(price.provider_ids) or 'no provider'}"
            )
        metadata = {"gift_recipient": order.recipient_email}
        if send_on is not None:
            metadata["gift_send_on"] = send_on.isoformat()
        gifts = self.gifts
        session = self.start_checkout(
            buyer_id,
            price_id,
            provider=provider,
            success_url=success_url,
            cancel_url=cancel_url,
            email=email,
            attempt=attempt,
            metadata=metadata,
        )
        # Kept by the checkout's id, which the paid purchase names: two gift checkouts
        # of one price each get their own recipient, whichever is paid first.
        with self.store.atomic(f"member:{buyer_id}"):
            gifts.save_order(dataclasses.replace(order, checkout_id=session.id))
        return session

    def redeem_gift(self, code: str, member_id: str) -> Grant:
        """Redeem a gift's code for ``member_id``: a ``gift`` grant of its tier from now
        until its months have passed. A code redeems once, also when two members try it
        at the same moment; the buyer may redeem their own gift.

        :raises UnknownGift: no gift has the code (spaces, dashes and case do not matter).
        :raises GiftAlreadyRedeemed: it was redeemed before.
        :raises GiftRefunded: its purchase was refunded or charged back.
        """
        normalized = normalize_code(code)
        gifts, grants = self.gifts, self.store.grants
        now = self.clock()
        with self.store.atomic(f"gift:{normalized}"):
            gift = gifts.redeem(normalized, member_id, now)
            grant = Grant(
                id=grants.new_id(),
                member_id=member_id,
                kind=GrantKind.GIFT,
                starts_at=now,
                ends_at=gift.ends_at(now),
                tier=gift.tier,
                # The purchase's source: its refund finds and revokes this grant.
                source=gift.source,
                note=str(gift.version),
            )
            grants.save(grant)
        self._grant_changed(grant, "created")
        return grant

    # -- access -----------------------------------------------------------------------------
    def context(
        self,
        member_id: str | None,
        *,
        usage: Mapping[str, Mapping[str, datetime]] | None = None,
        registered_at: datetime | None = None,
    ) -> AccessContext:
        """Resolve what ``member_id`` (``None``: anonymous) holds now."""
        now = self.clock()
        if member_id is None:
            return resolve_context(self.catalog, now, usage=usage)
        return resolve_context(
            self.catalog,
            now,
            member_id=member_id,
            memberships=self.store.memberships.for_member(member_id),
            grants=self.store.grants.for_member(member_id),
            usage=usage
            if usage is not None
            else self.store.meters.usage(member_id, now - timedelta(days=366)),
            registered_at=registered_at,
            grace=self.grace,
            paused_access=self.paused_access,
        )

    @property
    def paused_access(self) -> bool:
        """Whether paused memberships give access until their paid period ends."""
        return self.pause_access is lifecycle.PauseAccess.PAID_PERIOD

    def access(self, resource: Resource, member_id: str | None) -> Decision:
        """Decide and, for a member, reserve the meter or quota use the decision asks for.

        The reservation is atomic (see :func:`~membership_sdk.access.settle`): parallel
        first reads of one member get exactly the free reads left, the others the
        meter- or quota-exhausted denial. Anonymous visitors' reads are the adapter's to
        keep (the Wagtail adapter keeps them in a signed cookie).
        """
        context = self.context(member_id)
        decision = decide(resource, context)
        if decision.spend is not None and member_id is not None:
            decision = settle(resource, decision, member_id, self.store.meters, context.now)
        return decision
