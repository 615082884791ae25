"""Stripe's JSON, read into the SDK's snapshots. Pure functions: no I/O, no ``stripe`` import.

Both API shapes are read:

- the current one (``2025-03-31.basil`` and later): prices on subscription items, and the
  billing period on each item (``items.data[].current_period_end``);
- older payloads: plans instead of prices, and the period on the subscription itself.

Status mapping (Stripe's word on the left, kept in ``raw_status``):

====================== ============ =========================================================
``incomplete``          INCOMPLETE   first payment not made yet; no access
``incomplete_expired``  EXPIRED      first payment never made within 23 hours; ended for good
``trialing``            TRIALING
``active``              ACTIVE
``past_due``            PAST_DUE     a renewal failed; access until the paid period ends + grace
``unpaid``              PAUSED       dunning gave up; see below
``paused``              PAUSED       a trial ended without a payment method
``canceled``            CANCELED
anything else           UNKNOWN      never grants access
====================== ============ =========================================================

``unpaid`` is neither ``past_due`` nor ``expired`` on purpose. Stripe keeps advancing an
unpaid subscription's period while it stops charging, so ``past_due`` (access until the
period ends) would grant access for ever. ``expired`` is terminal in the SDK's state
machine, so a member who pays the open invoice later (which makes Stripe set the
subscription ``active`` again) could never get access back. ``paused`` denies access and
may still become ``active``: exactly what ``unpaid`` means.

An ``active`` subscription with ``pause_collection`` set (a pause the member asked for:
Stripe keeps it active and stops collecting) reads as PAUSED, with ``paused_until`` its
``pause_collection.resumes_at``; past that moment it reads as ACTIVE again, as Stripe
collects again by itself. ``price_since`` is the ``created`` of the subscription's item:
a plan change replaces the item, so it dates the change.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from ...errors import MalformedEvent, UnknownShape
from ...events import SubscriptionSnapshot
from ...membership import Status

#: Stripe subscription status -> the SDK's status. Unknown words map to ``Status.UNKNOWN``.
STATUS_MAP: Mapping[str, Status] = {
    "incomplete": Status.INCOMPLETE,
    "incomplete_expired": Status.EXPIRED,
    "trialing": Status.TRIALING,
    "active": Status.ACTIVE,
    "past_due": Status.PAST_DUE,
    "unpaid": Status.PAUSED,
    "paused": Status.PAUSED,
    "canceled": Status.CANCELED,
}

#: The metadata key carrying our member id on customers, subscriptions and sessions.
MEMBER_KEY = "member_id"
#: The metadata key carrying the Stripe price a checkout sold (sessions, payment intents).
PRICE_KEY = "stripe_price"


def map_status(raw: object) -> Status:
    """The SDK status for a Stripe subscription status; ``UNKNOWN`` for anything new."""
    return STATUS_MAP.get(str(raw), Status.UNKNOWN)


def malformed(field: str, expected: str, value: object, *, of: str = "Stripe") -> MalformedEvent:
    """The error for a field of ``of`` that is not ``expected``. It names the field and
    its value, as ``repr`` cut short, so it never quotes a whole body."""
    text = repr(value)
    got = text if len(text) <= 80 else f"{text[:77]}..."
    return MalformedEvent(f"{of} field {field!r} must be {expected}; got {got}")


def moment(value: object, field: str) -> datetime:
    """A Stripe timestamp (whole seconds since the epoch) as an aware UTC datetime.

    :param field: the field's name, for the error.
    :raises MalformedEvent: ``value`` is not an integer (``true`` is not one, though Python
        counts a bool as an int; Stripe never sends fractions), or is a time no
        :class:`~datetime.datetime` can hold.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise malformed(field, "a Unix timestamp in whole seconds", value)
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise malformed(field, "a Unix timestamp within years 1 to 9999", value) from exc


def timestamp(value: object, field: str) -> datetime | None:
    """Like :func:`moment`, but ``None`` for a field that is ``null`` or absent."""
    return None if value is None else moment(value, field)


def flag(obj: Mapping[str, Any], field: str) -> bool:
    """A Stripe boolean field; ``False`` when absent or ``null``.

    :raises MalformedEvent: the value is not ``true`` or ``false`` (``"false"`` would be
        true to :func:`bool`).
    """
    value = obj.get(field)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise malformed(field, "true or false", value)
    return value


def object_id(value: object) -> str | None:
    """The id of a field that is either an id or an expanded object (``{"id": ...}``)."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, Mapping):
        found = value.get("id")
        return found if isinstance(found, str) and found else None
    return None


def _items(subscription: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    items = subscription.get("items")
    data = items.get("data") if isinstance(items, Mapping) else None
    return [i for i in data if isinstance(i, Mapping)] if isinstance(data, list) else []


def is_metered(item: Mapping[str, Any]) -> bool:
    """Whether a subscription item bills a metered price (a usage-based add-on, see
    :mod:`membership_sdk.usage`): its price's ``recurring.usage_type`` (its plan's
    ``usage_type`` in older API versions) is ``metered``. An item whose price is not
    expanded counts as licensed."""
    for key in ("price", "plan"):
        price = item.get(key)
        if isinstance(price, Mapping):
            recurring = price.get("recurring")
            held = recurring if isinstance(recurring, Mapping) else price
            return held.get("usage_type") == "metered"
    return False


def plan_items(subscription: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The items that sell the subscription's plan: every licensed one, whatever order
    Stripe lists them in (a checkout with usage add-ons adds their metered prices)."""
    return [item for item in _items(subscription) if not is_metered(item)]


def metered_items(subscription: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The items of the subscription's usage add-ons (metered prices)."""
    return [item for item in _items(subscription) if is_metered(item)]


def item_price(item: Mapping[str, Any]) -> str | None:
    """The price id of a subscription item or line item (``price`` now, ``plan`` before)."""
    for key in ("price", "plan"):
        found = object_id(item.get(key))
        if found:
            return found
    pricing = item.get("pricing")  # invoice line items of the current API
    if isinstance(pricing, Mapping):
        details = pricing.get("price_details")
        if isinstance(details, Mapping):
            return object_id(details.get("price"))
    return None


def item_product(item: Mapping[str, Any]) -> str | None:
    for key in ("price", "plan"):
        value = item.get(key)
        if isinstance(value, Mapping):
            return object_id(value.get("product"))
    return None


def subscription_price(subscription: Mapping[str, Any]) -> str:
    """The price the subscription sells (its licensed item's, not a usage add-on's
    metered one); ``""`` when there is none."""
    for item in plan_items(subscription):
        found = item_price(item)
        if found:
            return found
    return object_id(subscription.get("plan")) or ""


def subscription_product(subscription: Mapping[str, Any]) -> str | None:
    for item in plan_items(subscription):
        found = item_product(item)
        if found:
            return found
    plan = subscription.get("plan")
    return object_id(plan.get("product")) if isinstance(plan, Mapping) else None


def item_created(subscription: Mapping[str, Any]) -> datetime | None:
    """When the subscription's (licensed) item was created: when it moved to its
    current price, as a plan change replaces the item; ``None`` when no item says."""
    for item in plan_items(subscription):
        return timestamp(item.get("created"), "items.data[].created")
    return None


def period_end(subscription: Mapping[str, Any]) -> datetime | None:
    """When the current period ends: the latest item period (``2025-03-31.basil`` and
    later), else the subscription's own ``current_period_end`` (older API versions)."""
    field = "items.data[].current_period_end"
    ends = [timestamp(i.get("current_period_end"), field) for i in _items(subscription)]
    found = [end for end in ends if end is not None]
    if found:
        return max(found)
    return timestamp(subscription.get("current_period_end"), "current_period_end")


def period_start(subscription: Mapping[str, Any]) -> datetime | None:
    """When the current period began: the earliest item period (basil and later), else
    the subscription's own ``current_period_start`` (older API versions)."""
    field = "items.data[].current_period_start"
    starts = [timestamp(i.get("current_period_start"), field) for i in _items(subscription)]
    found = [start for start in starts if start is not None]
    if found:
        return min(found)
    return timestamp(subscription.get("current_period_start"), "current_period_start")


#: Statuses whose access lasts as long as the period: a snapshot in one of them without
#: a period end is a shape the SDK does not know, never access for ever.
_PERIODIC = frozenset({Status.TRIALING, Status.ACTIVE, Status.PAST_DUE})


def metadata(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    found = obj.get("metadata")
    return found if isinstance(found, Mapping) else {}


def billing_country(session: Mapping[str, Any]) -> str | None:
    """The billing country a Checkout Session collected (``customer_details.address.country``,
    ISO 3166-1 alpha-2), upper-cased; ``None`` when it collected none or it is not a
    two-letter code (the field is optional: Checkout asks for an address only when set to)."""
    details = session.get("customer_details")
    address = details.get("address") if isinstance(details, Mapping) else None
    country = address.get("country") if isinstance(address, Mapping) else None
    code = country.strip().upper() if isinstance(country, str) else ""
    return code if len(code) == 2 and code.isascii() and code.isalpha() else None


def subscription_snapshot(subscription: Mapping[str, Any], version: int) -> SubscriptionSnapshot:
    """Read a Stripe subscription object (any API version) into a snapshot at ``version``.

    :raises MalformedEvent: it lacks an id, a customer or a status, or a time or flag it
        carries has the wrong type.
    """
    sub_id = object_id(subscription.get("id"))
    customer = object_id(subscription.get("customer"))
    raw_status = subscription.get("status")
    if not sub_id or not customer or not isinstance(raw_status, str):
        raise MalformedEvent(
            "a Stripe subscription needs an id, a customer and a status; got "
            f"id={sub_id!r}, customer={customer!r}, status={raw_status!r}"
        )
    status = map_status(raw_status)
    # The Billing Portal and the Dashboard may schedule the end with ``cancel_at`` instead
    # of ``cancel_at_period_end``; for the member both mean "ends, unless resumed".
    cancel_at = timestamp(subscription.get("cancel_at"), "cancel_at")
    scheduled_end = flag(subscription, "cancel_at_period_end") or (
        cancel_at is not None and status is not Status.CANCELED
    )
    started_at = timestamp(subscription.get("start_date"), "start_date") or timestamp(
        subscription.get("created"), "created"
    )
    paid_until = period_end(subscription)
    if paid_until is None and status in _PERIODIC:
        raise UnknownShape(
            f"a {raw_status} Stripe subscription needs a period end: neither "
            "'items.data[].current_period_end' (API 2025-03-31.basil and later) nor "
            f"'current_period_end' (older versions) is set on {sub_id!r}; an API version "
            "this SDK does not know yet? Upgrade membership-sdk, then retry the event"
        )
    unpaid_since = None
    if status is Status.PAST_DUE:
        # Stripe starts the new period before it charges for it: whatever was paid (or
        # the trial) ended where the unpaid period began, at the latest. An upper bound,
        # not a payment: a subscription left past due rolls its period on unpaid, and
        # the program lets this only lower what it knows was paid.
        unpaid_since = period_start(subscription)
        if unpaid_since is None:
            raise UnknownShape(
                f"a past_due Stripe subscription needs its period start: neither "
                "'items.data[].current_period_start' nor 'current_period_start' is set "
                f"on {sub_id!r}"
            )
    ended_at = timestamp(subscription.get("ended_at"), "ended_at")
    if status is Status.CANCELED and ended_at is not None:
        # Canceled at once (the Dashboard's "cancel immediately", a deleted subscription):
        # Stripe keeps the period it was in, but the subscription ended, and access with it.
        paid_until = ended_at if paid_until is None else min(paid_until, ended_at)
    if cancel_at is not None and paid_until is not None and scheduled_end:
        # An end scheduled inside the period (``cancel_at``) is where access ends.
        paid_until = min(paid_until, cancel_at)
    paused_until = None
    pause = subscription.get("pause_collection")
    if isinstance(pause, Mapping) and status is Status.ACTIVE:
        paused_until = timestamp(pause.get("resumes_at"), "pause_collection.resumes_at")
        if paused_until is None or paused_until > datetime.fromtimestamp(version / 1000, UTC):
            status = Status.PAUSED
        else:
            paused_until = None  # resumed by itself: Stripe collects again
    return SubscriptionSnapshot(
        id=sub_id,
        customer_id=customer,
        price=subscription_price(subscription),
        status=status,
        version=version,
        current_period_end=paid_until,
        started_at=started_at,
        trial_end=timestamp(subscription.get("trial_end"), "trial_end"),
        cancel_at_period_end=scheduled_end,
        canceled_at=timestamp(subscription.get("canceled_at"), "canceled_at"),
        raw_status=raw_status,
        unpaid_since=unpaid_since,
        price_since=item_created(subscription),
        paused_until=paused_until,
        **subscription_discount(subscription, paid_until),
    )


#: The metadata key a checkout stores the member's coupon code under.
COUPON_KEY = "coupon"


def _discount_of(subscription: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The subscription's discount object: ``discount`` (API versions before
    2024-06-20, still sent), else the first expanded one of ``discounts``."""
    legacy = subscription.get("discount")
    if isinstance(legacy, Mapping):
        return legacy
    for found in subscription.get("discounts") or ():
        if isinstance(found, Mapping):
            return found
    return None


def _coupon_of(discount: Mapping[str, Any]) -> Mapping[str, Any] | str | None:
    """The discount's coupon: ``coupon`` (older versions) or ``source.coupon`` (current),
    an object when expanded, else its id."""
    coupon = discount.get("coupon")
    if coupon is None:
        source = discount.get("source")
        if isinstance(source, Mapping):
            coupon = source.get("coupon")
    if isinstance(coupon, Mapping | str):
        return coupon
    return None


def list_amount(subscription: Mapping[str, Any]) -> int | None:
    """What one period of the subscription costs before discounts: the sum of its
    licensed items' ``price.unit_amount`` times ``quantity`` (a usage add-on's metered
    price is billed per use, not per period); ``None`` when an item does not say."""
    total = 0
    items = plan_items(subscription)
    for item in items:
        price = item.get("price") or item.get("plan")
        unit = price.get("unit_amount", price.get("amount")) if isinstance(price, Mapping) else None
        quantity = item.get("quantity", 1)
        if not isinstance(unit, int) or not isinstance(quantity, int):
            return None
        total += unit * quantity
    return total if items else None


def subscription_discount(
    subscription: Mapping[str, Any], period_end: datetime | None
) -> dict[str, Any]:
    """The snapshot's ``amount``, ``coupon`` and ``discount_ends_at`` from the
    subscription's discount (none: the list price, no coupon).

    ``coupon`` is the code the member entered at our checkout (kept in the metadata),
    else the coupon's name or id. ``amount`` is the list amount less the coupon's
    ``percent_off`` or ``amount_off`` when the coupon is expanded (``None`` when its terms
    are not in the payload). The discount ends at its ``end``; a ``once`` coupon's at the
    end of the period it discounts; a ``forever`` one never.
    """
    from ...discounts import discounted

    discount = _discount_of(subscription)
    if discount is None:
        return {}
    coupon = _coupon_of(discount)
    terms = coupon if isinstance(coupon, Mapping) else {}
    code = str(metadata(subscription).get(COUPON_KEY) or "")
    if not code:
        code = str(terms.get("name") or terms.get("id") or coupon or discount.get("id") or "")
    amount = None
    full = list_amount(subscription)
    percent, off = terms.get("percent_off"), terms.get("amount_off")
    if full is not None:
        if isinstance(percent, int) and not isinstance(percent, bool):
            amount = discounted(full, percent_off=percent, amount_off=None)
        elif isinstance(percent, float):  # Stripe allows fractions: 12.5
            amount = full - int(full * percent / 100 + 0.5)
        elif isinstance(off, int) and not isinstance(off, bool):
            amount = discounted(full, percent_off=None, amount_off=off)
    ends = timestamp(discount.get("end"), "discount.end")
    if ends is None and terms.get("duration") == "once":
        ends = period_end
    return {"amount": amount, "coupon": code, "discount_ends_at": ends}


def placeholder_subscription(
    subscription_id: str, customer_id: str, price: str, version: int
) -> SubscriptionSnapshot:
    """A snapshot for events that name a subscription without carrying it (invoices,
    checkout sessions). It grants nothing; the provider's ``refetch_subscriptions``
    makes the program replace it with the subscription as Stripe holds it now."""
    return SubscriptionSnapshot(
        id=subscription_id,
        customer_id=customer_id,
        price=price,
        status=Status.INCOMPLETE,
        version=version,
        raw_status="",
    )


def invoice_subscription(invoice: Mapping[str, Any]) -> str | None:
    """The subscription an invoice bills: ``parent.subscription_details.subscription`` in
    the current API, ``subscription`` in older versions."""
    parent = invoice.get("parent")
    if isinstance(parent, Mapping):
        details = parent.get("subscription_details")
        if isinstance(details, Mapping):
            found = object_id(details.get("subscription"))
            if found:
                return found
    return object_id(invoice.get("subscription"))


def invoice_price(invoice: Mapping[str, Any], ours: Collection[str] | None = None) -> str:
    """The price an invoice bills: its first line's, skipping lines of a usage add-on's
    metered price where the line says so (older API versions expand the line's price;
    current ones name it by id only). With ``ours``, the first line price among them:
    an invoice whose first line is an add-on's is still the plan's. ``""`` when no line
    names a price."""
    lines = invoice.get("lines")
    data = lines.get("data") if isinstance(lines, Mapping) else None
    found = [
        price
        for line in (data if isinstance(data, list) else [])
        if isinstance(line, Mapping) and not is_metered(line)
        for price in (item_price(line),)
        if price
    ]
    if ours is not None:
        return next((price for price in found if price in ours), found[0] if found else "")
    return found[0] if found else ""


def invoice_paid_through(invoice: Mapping[str, Any]) -> datetime:
    """The end of the period a paid subscription invoice covers: the latest
    ``lines.data[].period.end`` (every API version has it).

    :raises MalformedEvent: no line carries a period end.
    """
    lines = invoice.get("lines")
    data = lines.get("data") if isinstance(lines, Mapping) else None
    ends = []
    for line in data if isinstance(data, list) else []:
        period = line.get("period") if isinstance(line, Mapping) else None
        if isinstance(period, Mapping):
            end = timestamp(period.get("end"), "lines.data[].period.end")
            if end is not None:
                ends.append(end)
    if not ends:
        raise UnknownShape(
            f"a paid Stripe invoice {invoice.get('id')!r} needs the period it paid for: no "
            "'lines.data[].period.end' is set; an API version this SDK does not know yet? "
            "Upgrade membership-sdk, then retry the event"
        )
    return max(ends)
