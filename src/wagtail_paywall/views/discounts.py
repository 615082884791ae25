"""What the member pages say about coupons and intro offers: the discount a membership
runs on (account page) and a price's intro offer (pricing page, paywall). See
``docs/offers.md``."""

from __future__ import annotations

from typing import Any

from membership_sdk import Membership, MembershipProgram, UnknownPrice

from ..formats import money


def discount_row(program: MembershipProgram, membership: Membership) -> dict[str, Any]:
    """``{"discount": ...}`` for the account page's row of ``membership``: the discounted
    amount and the list one (formatted, with the currency), the code (``""`` for an intro
    offer) and when the list price applies again (``None``: never); ``None`` without a
    discount running now."""
    if membership.amount is None or not membership.price_id:
        return {"discount": None}
    try:
        price = program.catalog.price(membership.price_id, include_archived=True)
    except UnknownPrice:
        return {"discount": None}
    now = program.clock()
    charged = membership.charged(price.amount, now)
    if charged == price.amount:
        return {"discount": None}  # it ended: the list price applies
    return {
        "discount": {
            "amount": money(charged, price.currency),
            "list_amount": money(price.amount, price.currency),
            "currency": price.currency,
            "code": membership.coupon,
            "ends_at": membership.discount_ends_at,
            "interval": price.interval.value,
        }
    }
