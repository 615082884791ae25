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
from datetime import UTC, datetime, timedelta
from typing import Any

import pluggy

from .access import AccessContext, Decision, Resource, decide, resolve_context, settle
from .catalog import Catalog
from .errors import InvalidTransition, MalformedEvent, MembershipError, UnknownPrice
from .events import (
    ApplyResult,
    BillingEvent,
    EventType,
    Outcome,
    PurchaseSnapshot,
    PurchaseState,
    SubscriptionSnapshot,
)
from .membership import GRANTING, PAYING, TERMINAL, Grant, GrantKind, Membership, Status
from .plugins import Providers, get_plugin_manager
from .ports import Store
from .providers.base import CheckoutRequest, CheckoutSession, PaymentLookup

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
        if new in (Status.TRIALING, Status.ACTIVE) and old not in GRANTING:
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
    ) -> CheckoutSession:
        """Ask ``provider`` to sell ``price_id`` to ``member_id``. Stores nothing: access
        is granted only when the provider's event arrives.

        :param attempt: an opaque token identifying this checkout attempt (a form's
            nonce); retries with the same token reuse one idempotency key.
        :raises UnknownPrice: the price is unknown, archived, or not sold by ``provider``.
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
        key = hashlib.sha256(f"{member_id}|{price_id}|{provider}|{attempt}".encode()).hexdigest()
        request = CheckoutRequest(
            member_id=member_id,
            price=price,
            provider_price=external,
            success_url=success_url,
            cancel_url=cancel_url,
            idempotency_key=f"checkout-{key[:32]}",
            email=email,
            customer_id=self.store.customers.customer_for(provider, member_id),
            coupon=coupon,
            trial_days=price.trial_days,
            metadata={"member_id": member_id, "price_id": price_id},
        )
        return backend.create_checkout(request)

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
        return result

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
        policy = self.on_dispute_lost if charged_back else self.on_refund
        why = "a lost chargeback" if charged_back else "a full refund"
        latest = membership.paid_through or membership.current_period_end
        assert paid is not None
        if (
            not charged_back
            and paid.period_end is not None
            and latest is not None
            and paid.period_end < latest
        ):
            logger.info(
                "%s of %s paid subscription %s up to %s, before its current period "
                "(paid through %s): the membership is unchanged",
                why,
                snap.id,
                subscription_id,
                paid.period_end.isoformat(),
                latest.isoformat(),
            )
            policy = "none: an earlier period's payment"
        elif membership.status not in TERMINAL:
            at_period_end = policy == "keep_to_period_end"
            if not at_period_end or not membership.cancel_at_period_end:
                membership = self.cancel(
                    membership.id,
                    reason=f"{why} of {snap.id}",
                    at_period_end=at_period_end,
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

    def _apply_purchase(self, event: BillingEvent) -> tuple[ApplyResult, tuple[Grant, str] | None]:
        snap = event.purchase
        assert snap is not None
        source = f"{event.provider}:{snap.id}"
        grants = self.store.grants
        existing = grants.by_source(source)
        version = snap.version
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
    ) -> Grant:
        """Give a member access: a comp or gift of a tier for ``days``, a team seat, an item."""
        from .entitlements import Entitlement

        if tier is not None:
            self.catalog.tier(tier)  # raises UnknownTier naming it
        if days is not None and days <= 0:
            raise MembershipError(f"a grant lasts at least one day, got days={days}")
        now = self.clock()
        grant = Grant(
            id=self.store.grants.new_id(),
            member_id=member_id,
            kind=GrantKind(kind),
            starts_at=now,
            ends_at=now + timedelta(days=days) if days is not None else None,
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
        )

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
