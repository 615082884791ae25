"""Gift memberships: months of a tier bought once, for someone else to redeem.

A gift price is a one-off tier price with ``gift_months``
(:attr:`~membership_sdk.catalog.Price.gift_months`). Buying one gives the buyer no
access. When the purchase is paid (its ``purchase.completed`` event), the program makes a
:class:`Gift` with an unguessable redeem code; whoever redeems the code
(:meth:`~membership_sdk.program.MembershipProgram.redeem_gift`) gets a
:class:`~membership_sdk.membership.Grant` of kind ``gift`` to the tier that ends by itself
``months`` later.

What the buyer entered at checkout (the recipient's address, the day to tell them, a
message) is kept as a :class:`GiftOrder` until the payment arrives: providers carry no
such details back in their events, so the order is kept under the checkout session's id,
which the paid purchase names (``PurchaseSnapshot.checkout_id``; see
:meth:`GiftStore.take_order`).

A refund or a lost chargeback of the purchase marks the gift refunded: its code no
longer redeems, and a grant already made from it is revoked (one-off purchases are
always taken back). The grant shares the purchase's ``source``, so the program's usual
take-back finds it.

Buyers may redeem their own gift: nothing is lost by it (it is their money), and a buyer
who meant to print the code and hand it over may change their mind.

Errors::

    MembershipError
    └── GiftError                  a code cannot be redeemed or a gift not sold
        ├── UnknownGift            no gift has that code
        ├── GiftAlreadyRedeemed    someone redeemed it before
        └── GiftRefunded           its purchase was refunded or charged back
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import TYPE_CHECKING

from .catalog import Interval
from .errors import MembershipError
from .events import ApplyResult, BillingEvent, Outcome, PurchaseState
from .membership import Grant

if TYPE_CHECKING:
    from .catalog import Price
    from .ports import GiftStore

#: Letters and digits a reader cannot confuse (no 0/O, 1/I/L).
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
#: Characters of randomness in a code: 16 of 31 symbols is about 79 bits.
CODE_LENGTH = 16


class GiftError(MembershipError):
    """A gift code cannot be redeemed, or a gift cannot be sold."""


class UnknownGift(GiftError, LookupError):
    """No gift has the code given (mistyped, or never sold)."""


class GiftAlreadyRedeemed(GiftError):
    """The gift was redeemed before; a code redeems once."""


class GiftRefunded(GiftError):
    """The gift's purchase was refunded or charged back; its code no longer redeems."""


def new_code() -> str:
    """A fresh redeem code, ``XXXX-XXXX-XXXX-XXXX``, from a cryptographic random source."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def normalize_code(text: str) -> str:
    """``text`` as a stored code: upper case, grouped by four, whatever spaces or dashes
    the reader typed (``" abcd efgh-jkmn pqrs "`` -> ``"ABCD-EFGH-JKMN-PQRS"``)."""
    raw = "".join(ch for ch in str(text).upper() if ch.isalnum())
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


@dataclass(frozen=True, slots=True)
class GiftOrder:
    """What a buyer asked for when starting the checkout of a gift price; the paid
    purchase turns it into a :class:`Gift`."""

    buyer_id: str
    price_id: str
    recipient_email: str = ""
    send_on: date | None = None
    message: str = ""
    #: The provider's checkout session id, which the paid purchase names.
    checkout_id: str = ""


@dataclass(frozen=True, slots=True)
class Gift:
    """A paid gift of ``months`` of ``tier``, redeemable once with ``code``.

    ``source`` is the purchase that paid it (``"fake:pur_..."``), and the grant made
    when it is redeemed carries the same source. ``version`` is the purchase snapshot's
    version last applied to it. ``recipient_email`` and ``send_on`` say whom to email
    the code to and on which day (``None``: as soon as it is paid); with no recipient
    the buyer passes the code on.
    """

    id: str
    code: str
    tier: str
    months: int
    buyer_id: str
    price_id: str
    source: str
    version: int
    bought_at: datetime
    recipient_email: str = ""
    send_on: date | None = None
    message: str = ""
    redeemed_by: str | None = None
    redeemed_at: datetime | None = None
    refunded_at: datetime | None = None

    @property
    def redeemed(self) -> bool:
        return self.redeemed_by is not None

    @property
    def refunded(self) -> bool:
        return self.refunded_at is not None

    @property
    def redeemable(self) -> bool:
        return not self.redeemed and not self.refunded

    def ends_at(self, start: datetime) -> datetime:
        """When a grant made from this gift at ``start`` ends (calendar months on)."""
        from .providers.simulated import add_interval

        return add_interval(start, Interval.MONTH, self.months)

    def replace(self, **changes: object) -> Gift:
        return replace(self, **changes)  # type: ignore[arg-type]


def refusal(gift: Gift | None, code: str) -> GiftError:
    """Why ``gift`` (found by ``code``, or ``None``) cannot be redeemed: the error to raise.
    Stores share it so every adapter words the refusals alike."""
    if gift is None:
        return UnknownGift(f"no gift has the code {code!r}; check it for typos")
    if gift.refunded:
        return GiftRefunded(f"gift {code!r} was refunded, so it can no longer be redeemed")
    return GiftAlreadyRedeemed(f"gift {code!r} was already redeemed")


def check_order(order: GiftOrder, price: Price, today: date) -> None:
    """Refuse an order that names no gift price or a past day to send it on."""
    if not price.gift:
        raise GiftError(f"price {price.id!r} is not a gift price; it has no gift_months")
    if order.send_on is not None and order.send_on < today:
        raise GiftError(
            f"send_on {order.send_on.isoformat()!r} is in the past; choose today or later"
        )
    email = order.recipient_email
    if email and ("@" not in email or any(ch.isspace() for ch in email)):
        raise GiftError(f"recipient_email {email!r} is not an email address")


def apply_gift_purchase(
    gifts: GiftStore,
    event: BillingEvent,
    price: Price | None,
    buyer: Callable[[], str | None],
    grant: Grant | None,
) -> tuple[ApplyResult, tuple[Grant, str] | None] | None:
    """Apply a purchase event to gifts, for the program's ``_apply_purchase``; ``None``
    when the purchase is not a gift's (no gift was made from it, and ``price`` is no
    gift price), so it is applied as any other purchase.

    ``price`` is the catalog's price of the purchase (``None``: unknown, as for a
    dispute, which names only the payment), ``buyer`` finds the member who paid (``None``:
    an unknown customer) and ``grant`` is the grant already made from the purchase, if
    any (a redeemed gift's). The caller holds the purchase's lock and saves the grant
    this returns (revoked).

    A paid purchase of a gift price makes one gift, whatever events repeat it; a refund
    or a lost chargeback marks it refunded (before the payment event, when events come
    out of order, too: the gift is made refunded) and revokes the grant made from it.
    """
    snap = event.purchase
    assert snap is not None
    source = f"{event.provider}:{snap.id}"
    gift = gifts.by_source(source)
    if gift is None and (price is None or not price.gift):
        return None
    paid = snap.state is PurchaseState.PAID
    if gift is not None:
        if snap.version <= gift.version or (paid and not gift.refunded):
            return ApplyResult(
                Outcome.STALE if snap.version <= gift.version else Outcome.APPLIED,
                event,
                f"gift {gift.id} was made from {source} already; nothing changed",
            ), None
        if paid:
            # A refunded gift stays refunded: a later "paid" snapshot of one payment
            # cannot undo its refund.
            return ApplyResult(Outcome.STALE, event, f"gift {gift.id} was refunded"), None
        gifts.mark_refunded(gift.id, event.occurred_at, snap.version)
        if grant is not None and grant.revoked_at is None:
            revoked = grant.replace(revoked_at=event.occurred_at, note=str(snap.version))
            return ApplyResult(Outcome.APPLIED, event), (revoked, "revoked")
        return ApplyResult(Outcome.APPLIED, event), None
    assert price is not None
    assert price.tier is not None
    assert price.gift_months is not None
    member = buyer()
    if member is None:
        return ApplyResult(Outcome.IGNORED, event, f"unknown customer {snap.customer_id!r}"), None
    order = gifts.take_order(member, price.id, snap.checkout_id) if paid else None
    when = snap.paid_at or event.occurred_at
    gifts.create(
        Gift(
            id=gifts.new_id(),
            code=new_code(),
            tier=price.tier,
            months=price.gift_months,
            buyer_id=member,
            price_id=price.id,
            source=source,
            version=snap.version,
            bought_at=when,
            recipient_email=order.recipient_email if order else "",
            send_on=order.send_on if order else None,
            message=order.message if order else "",
            refunded_at=None if paid else event.occurred_at,
        )
    )
    return ApplyResult(Outcome.APPLIED, event), None
