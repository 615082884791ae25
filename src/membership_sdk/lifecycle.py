"""Plan changes and pauses: the rules the program checks, and the billing the built-in
simulated providers (``fake``, ``manual``) apply.

Errors, under :class:`~membership_sdk.errors.MembershipError`::

    PlanChangeError         a plan change the program refuses; nothing changed
    ├── NotAPlan            the price is unknown, archived, not a tier's recurring price,
    │                       or not sold through the membership's provider
    ├── CurrencyMismatch    the price is in another currency than the membership's
    ├── SamePlan            the membership is on that price already
    └── StalePreview        the preview confirmed is too old (or from the future)
    PauseError              a pause the program refuses: months out of range, a
                            membership that is not active or not paused
    CapabilityDeclined      the membership's provider has no plan changes / no pausing

The billing rule of the simulated providers (Stripe applies its own, alike):

- **Upgrade** (at list prices, the change costs more for the rest of the period): now.
  The unused part of what the period was charged (after its discount) is credited, the
  new price (after the discount, which carries over) charged for the same time; a change
  of interval (monthly to yearly) starts a new period now and charges the new price in
  full, less the credit. The ``fake`` card is charged at once; the ``manual`` provider
  issues an invoice for the difference and the new plan applies when it is paid.
- **Downgrade** (it would cost nothing or less): at the end of the period already paid,
  with nothing refunded; ``amount_due`` is ``0`` and ``effective_at`` the period's end.
- A **trial** changes plan at once and free of charge: nothing was paid yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from .catalog import Catalog, Interval, Price
from .errors import MembershipError, UnknownPrice
from .events import SubscriptionSnapshot
from .membership import Grant, GrantKind, Membership, Status
from .providers.base import Pausing, PlanChangePreview, PlanChanges, ProrationLine, Provider
from .usage import usage_prices

if TYPE_CHECKING:
    from .program import MembershipProgram

#: How long a preview may be confirmed: the proration it shows is billed as shown.
PREVIEW_VALID_FOR = timedelta(minutes=30)
#: A pause lasts whole months, at least one and at most this many.
MAX_PAUSE_MONTHS = 3


class PlanChangeError(MembershipError):
    """A plan change the program refuses; nothing was changed."""


class NotAPlan(PlanChangeError, LookupError):
    """The price is unknown, archived, not a tier's recurring price, or not sold through
    the membership's provider."""


class CurrencyMismatch(PlanChangeError):
    """The price is in another currency than the membership's price."""


class SamePlan(PlanChangeError):
    """The membership is on that price already."""


class StalePreview(PlanChangeError):
    """The ``proration_date`` confirmed is older than :data:`PREVIEW_VALID_FOR` (or in
    the future): the member must look at a fresh preview."""


class PauseError(MembershipError):
    """A pause (or unpause) the program refuses; nothing was changed."""


class CapabilityDeclined(MembershipError):
    """The membership's provider declines the capability (it lacks the methods)."""


class PauseAccess(StrEnum):
    """What a paused membership gives: access until the end of the period paid before
    the pause (the default: a pause never takes away time already paid for), or nothing
    from the moment it starts (``"none"``, for a site that pays the unused time back)."""

    NONE = "none"
    PAID_PERIOD = "paid_period"


def pause_months(months: object) -> int:
    """``months`` if it is a whole number from 1 to :data:`MAX_PAUSE_MONTHS`.

    :raises PauseError: naming the value.
    """
    if isinstance(months, bool) or not isinstance(months, int):
        raise PauseError(f"a pause lasts a whole number of months; got {months!r}")
    if not 1 <= months <= MAX_PAUSE_MONTHS:
        raise PauseError(f"a pause lasts 1 to {MAX_PAUSE_MONTHS} months; got {months!r}")
    return months


def check_proration_date(proration_date: int, now: datetime) -> None:
    """Raise :class:`StalePreview` unless ``proration_date`` (Unix seconds) is within
    :data:`PREVIEW_VALID_FOR` before ``now`` (a minute ahead is tolerated: clocks)."""
    at = now.timestamp()
    window = PREVIEW_VALID_FOR.total_seconds()
    if isinstance(proration_date, bool) or not isinstance(proration_date, int):
        raise StalePreview(f"proration_date must be Unix seconds; got {proration_date!r}")
    if proration_date < at - window or proration_date > at + 60:
        raise StalePreview(
            f"the preview of proration_date {proration_date!r} is stale: a preview is "
            f"confirmed within {int(window // 60)} minutes; look at a fresh one"
        )


@dataclass(frozen=True, slots=True)
class PlanChangeTerms:
    """How the simulated providers bill a plan change, from :func:`prorate`.

    ``immediate``: the new price applies at ``preview.effective_at`` now (an upgrade or a
    trial); otherwise at the period's end. ``period_end`` is the current period's end
    once the change is made (a new one when the interval changes now). ``rate`` is what
    a period of the new price is charged at while the current period lasts (after a
    discount carried over).
    """

    preview: PlanChangePreview
    immediate: bool
    period_end: datetime | None
    rate: int | None = None


def _describe(price: Price) -> str:
    """The price as a member reads it: its nickname, else its tier and interval."""
    if price.nickname:
        return price.nickname
    label = (price.tier or price.id).replace("-", " ").title()
    per = {Interval.MONTH: "monthly", Interval.YEAR: "yearly"}.get(price.interval, "")
    return f"{label} ({per})" if per else label


def prorate(
    *,
    subscription_id: str,
    provider_price: str,
    old: Price,
    new: Price,
    at: datetime,
    period_start: datetime | None,
    period_end: datetime | None,
    trialing: bool = False,
    old_paid: int | None = None,
    new_charged: int | None = None,
) -> PlanChangeTerms:
    """What moving from ``old`` to ``new`` at ``at`` costs under the rule in the module
    docstring. ``period_start``/``period_end`` bound the period being paid for.
    ``old_paid`` is what that period was charged (after a discount; ``None``: the old
    list price): its unused part is credited, never more than was paid.
    ``new_charged`` is what a period of ``new`` costs with the discount carried over
    (``None``: its list price)."""
    from .providers.simulated import add_interval as step

    stamp = int(at.timestamp())
    currency = new.currency.lower()
    if trialing or period_end is None or period_start is None or period_end <= at:
        preview = PlanChangePreview(
            subscription_id, provider_price, 0, currency, stamp, (), effective_at=at
        )
        return PlanChangeTerms(preview, True, period_end)
    span = (period_end - period_start).total_seconds()
    left = max(0.0, min(1.0, (period_end - at).total_seconds() / span)) if span > 0 else 0.0
    since = f"{at:%Y-%m-%d}"
    paid = old.amount if old_paid is None else old_paid
    costs = new.amount if new_charged is None else new_charged
    credit = ProrationLine(
        f"Unused time on {_describe(old)} after {since}", -round(paid * left), True
    )
    if new.interval is old.interval:
        charge = ProrationLine(
            f"Remaining time on {_describe(new)} after {since}", round(costs * left), True
        )
        new_end = period_end
    else:
        new_end = step(at, new.interval)
        charge = ProrationLine(f"{_describe(new)}, {since} to {new_end:%Y-%m-%d}", costs, False)
    due = credit.amount + charge.amount
    # Whether it is an upgrade is the list prices' say: a discount (a free period, say)
    # changes what is due, not whether the new plan applies now.
    full = new.amount if new.interval is not old.interval else round(new.amount * left)
    listed = full - round(old.amount * left)
    if listed > 0:
        preview = PlanChangePreview(
            subscription_id,
            provider_price,
            max(due, 0),
            currency,
            stamp,
            (credit, charge),
            effective_at=at,
        )
        return PlanChangeTerms(preview, True, new_end, costs)
    later = ProrationLine(f"{_describe(new)} from {period_end:%Y-%m-%d}", new.amount, False)
    preview = PlanChangePreview(
        subscription_id, provider_price, 0, currency, stamp, (later,), effective_at=period_end
    )
    return PlanChangeTerms(preview, False, period_end)


# -- the program's side (MembershipProgram.preview_plan_change, change_plan, pause, unpause)
def _plan_target(
    program: MembershipProgram, membership_id: str, price_id: str
) -> tuple[Membership, Price, PlanChanges, dict[str, Price]]:
    """The membership, the new price and the provider of a plan change, checked."""
    membership = program._membership(membership_id)
    if membership.status not in (Status.ACTIVE, Status.TRIALING):
        why = {
            Status.PAST_DUE: "settle the failed payment first",
            Status.PAUSED: "resume it first",
        }.get(membership.status, "it is not running")
        raise PlanChangeError(
            f"membership {membership.id!r} is {membership.status}: its plan cannot change; {why}"
        )
    backend = program.providers[membership.provider]
    if not isinstance(backend, PlanChanges) or not membership.provider_subscription_id:
        raise CapabilityDeclined(
            f"provider {membership.provider!r} does not change plans of running "
            f"subscriptions (membership {membership.id!r})"
        )
    catalog = program.catalog
    try:
        price = catalog.price(price_id)
    except UnknownPrice:
        raise NotAPlan(f"price {price_id!r} is unknown or archived") from None
    if price.tier is None or not price.recurring or price.gift_months is not None:
        raise NotAPlan(f"price {price_id!r} is not a tier's recurring price")
    if price.id == membership.price_id:
        raise SamePlan(f"membership {membership.id!r} is on price {price_id!r} already")
    external = price.provider_ids.get(membership.provider)
    if external is None:
        raise NotAPlan(f"price {price_id!r} is not sold through provider {membership.provider!r}")
    prices = {external: price}
    try:
        current = catalog.price(membership.price_id or "", include_archived=True)
    except UnknownPrice:
        current = None
    if current is not None:
        if current.currency != price.currency:
            raise CurrencyMismatch(
                f"price {price_id!r} is in {price.currency}, membership {membership.id!r} "
                f"is billed in {current.currency}"
            )
        own = current.provider_ids.get(membership.provider)
        if own is not None:
            prices[own] = current
    return membership, price, backend, prices


def usage_price_args(catalog: Catalog, price: Price, provider: str) -> dict[str, tuple[str, ...]]:
    """``usage_prices=`` for a plan change of ``provider`` onto ``price``: the metered
    prices of the new tier's add-ons (see :func:`~membership_sdk.usage.usage_prices`), or
    nothing at all when no usage rate of the catalog is sold through ``provider``, so a
    provider written before usage billing is called as it always was."""
    sold = any(
        key.split(":", 1)[0] == provider
        for rate in catalog.usage_rates
        for key in rate.provider_ids
    )
    return {"usage_prices": usage_prices(catalog, price, provider)} if sold else {}


def preview_plan_change(
    program: MembershipProgram, membership_id: str, price_id: str
) -> PlanChangePreview:
    """See :meth:`MembershipProgram.preview_plan_change`."""
    membership, price, backend, prices = _plan_target(program, membership_id, price_id)
    return backend.preview_plan_change(
        membership.provider_subscription_id or "",
        price.provider_ids[membership.provider],
        proration_date=int(program.clock().timestamp()),
        prices=prices,
        **usage_price_args(program.catalog, price, membership.provider),
    )


def change_plan(
    program: MembershipProgram,
    membership_id: str,
    price_id: str,
    *,
    proration_date: int | None = None,
) -> Membership:
    """See :meth:`MembershipProgram.change_plan`."""
    membership, price, backend, prices = _plan_target(program, membership_id, price_id)
    if proration_date is not None:
        check_proration_date(proration_date, program.clock())
    subscription = membership.provider_subscription_id or ""
    # What the provider says the subscription was on, right before the change: the
    # tier held until the change, for a drip (see record_plan_history).
    before = backend.fetch_subscription(subscription) if isinstance(backend, Provider) else None
    snap = backend.change_plan(
        subscription,
        price.provider_ids[membership.provider],
        proration_date=proration_date,
        idempotency_key=f"plan-{membership.id}-{price.id}-{membership.version[0]}",
        prices=prices,
        **usage_price_args(program.catalog, price, membership.provider),
    )
    after = program._store_local(membership, snap)
    if before is not None:
        record_plan_history(program, membership, before, snap)
    return after


def record_plan_history(
    program: MembershipProgram,
    membership: Membership,
    before: SubscriptionSnapshot,
    after: SubscriptionSnapshot,
) -> None:
    """Keep the tier ``before`` held as an ended grant, once a change moved it on.

    A membership counts its tier for a drip from ``price_since``; what the old tier gave
    (a lower tier's course, say) would start again at the change. The provider's own
    snapshots from right before and after the change say which price was held since
    when, whatever order webhooks arrive in, so the old tier is kept as a
    ``membership`` grant ending where the new price begins. Nothing is kept when the
    price did not move: a change waiting for the period's end leaves the old tier on the
    membership itself (it is what was paid for), and :func:`record_price_move` keeps it
    once the renewal moves the price."""
    if after.price == before.price or after.price_since is None:
        return
    old = program.catalog.price_for_provider(membership.provider, before.price)
    since = before.price_since or before.started_at
    _keep_old_tier(program, membership, old, since, after.price_since, after.id)


def record_price_move(
    program: MembershipProgram, before: Membership | None, after: Membership
) -> None:
    """Keep the tier ``before`` held as an ended grant when a provider's snapshot moved
    the membership to another price (a downgrade applied at a renewal, a change made in
    the provider's dashboard): the grant ends where the new price begins, so it never
    gives more than the membership did."""
    if before is None or before.price_id is None or before.price_id == after.price_id:
        return
    if after.price_since is None:
        return
    try:
        old = program.catalog.price(before.price_id, include_archived=True)
    except UnknownPrice:
        return
    since = before.price_since or before.started_at
    subscription = after.provider_subscription_id or after.id
    _keep_old_tier(program, after, old, since, after.price_since, subscription)


def _keep_old_tier(
    program: MembershipProgram,
    membership: Membership,
    old: Price | None,
    since: datetime | None,
    until: datetime,
    subscription: str,
) -> None:
    if old is None or old.tier is None or since is None or until <= since:
        return
    # The history never reaches past the moment it is written: what is held from now on
    # is the membership's to give (and a refund or a cancellation to end).
    until = min(until, max(program.clock(), since))
    if until <= since:
        return
    source = f"plan:{membership.provider}:{subscription}:{int(since.timestamp())}"
    grants = program.store.grants
    with program.store.atomic(f"member:{membership.member_id}"):
        existing = grants.by_source(source)
        grant = Grant(
            id=existing.id if existing is not None else grants.new_id(),
            member_id=membership.member_id,
            kind=GrantKind.MEMBERSHIP,
            starts_at=since,
            ends_at=until,
            tier=old.tier,
            source=source,
            note=f"{old.id} before a plan change",
        )
        grants.save(grant)


def pause(
    program: MembershipProgram, membership_id: str, *, months: int, reason: str = ""
) -> Membership:
    """See :meth:`MembershipProgram.pause`."""
    months = pause_months(months)
    membership = program._membership(membership_id)
    if membership.status is not Status.ACTIVE or membership.cancel_at_period_end:
        state = "set to cancel" if membership.cancel_at_period_end else membership.status
        raise PauseError(
            f"membership {membership.id!r} is {state}; only an active membership that "
            "renews can be paused"
        )
    backend = program.providers[membership.provider]
    if not isinstance(backend, Pausing) or not membership.provider_subscription_id:
        raise CapabilityDeclined(
            f"provider {membership.provider!r} does not pause subscriptions "
            f"(membership {membership.id!r})"
        )
    from .providers.simulated import add_interval

    resumes_at = add_interval(program.clock(), Interval.MONTH, months).replace(microsecond=0)
    snap = backend.pause_subscription(membership.provider_subscription_id, resumes_at=resumes_at)
    return program._store_local(membership, snap, pause_reason=reason.strip()[:500])


def unpause(program: MembershipProgram, membership_id: str) -> Membership:
    """See :meth:`MembershipProgram.unpause`."""
    membership = program._membership(membership_id)
    if membership.status is not Status.PAUSED:
        raise PauseError(f"membership {membership.id!r} is {membership.status}, not paused")
    backend = program.providers[membership.provider]
    if not isinstance(backend, Pausing) or not membership.provider_subscription_id:
        raise CapabilityDeclined(
            f"provider {membership.provider!r} does not pause subscriptions "
            f"(membership {membership.id!r})"
        )
    snap = backend.unpause_subscription(membership.provider_subscription_id)
    return program._store_local(membership, snap)
