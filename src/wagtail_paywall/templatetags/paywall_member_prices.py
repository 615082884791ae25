"""Member prices on the paywall and the pricing page ("€9 · members €5").

``{% load paywall_member_prices %}``, then:

- ``{% paywall_member_price price.id as mp %}``: what the visitor pays for the price and
  what members pay (``mp.member``: they get a member price; ``mp.amount``, ``mp.saving``;
  ``mp.offered``: a member price exists), money written in the reader's language;
- ``{% paywall_member_price_note price.id %}``: the line after an item's price: "· members
  €5.00" and what membership saves, with a link to the pricing page; for a member, their
  own price and saving (``link=False``: without the link);
- ``{% paywall_members_pay_less %}``: the pricing page's "Members pay less" section, every
  item with member prices in the page's ``currency`` and what each tier pays.

What a visitor pays is :func:`membership_sdk.member_prices.price_for` of their access
context (resolved once per request, see :func:`wagtail_paywall.access.member_context`);
the checkout decides it again on the server. See ``docs/member-prices.md``.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import NoReverseMatch, reverse

from membership_sdk import Price
from membership_sdk.errors import UnknownPrice
from membership_sdk.member_prices import amounts_of, member_priced, price_for, tier_prices

from ..access import member_context
from ..formats import money
from ..program import get_program

register = template.Library()

NOTE = "wagtail_paywall/includes/member_price.html"
SECTION = "wagtail_paywall/includes/member_prices_pricing.html"


def _pricing_url() -> str:
    try:
        return reverse("paywall:pricing")
    except NoReverseMatch:  # the paywall's URLs are not included: nothing to link to
        return ""


def _request(context: template.Context) -> Any:
    """The request being rendered: a variable of the page's context, or, inside another
    inclusion tag's template (the paywall partial), the request of its RequestContext."""
    return context.get("request") or getattr(context, "request", None)


def _price(price: Any) -> Price | None:
    """The catalog's price for ``price`` (an id, or a core price), if it is on sale."""
    if isinstance(price, Price):
        return price
    try:
        found: Price = get_program().catalog.price(str(price))
    except UnknownPrice:
        return None
    return found


def member_price_info(price: Price, request: Any) -> dict[str, Any]:
    """What the visitor of ``request`` (``None``: anonymous) pays for ``price`` and what
    members pay, as the templates show it."""
    catalog = get_program().catalog
    rows = tier_prices(price, catalog)
    if not rows:
        return {"offered": False, "member": False}
    currency = price.currency
    paid = price_for(price, member_context(request)) if request is not None else None
    lowest = min(rows, key=lambda r: r.amount)
    mine = paid is not None and paid.member
    return {
        "offered": True,
        "member": mine,
        "list": money(price.amount, currency),
        "amount": money(paid.amount if paid is not None else price.amount, currency),
        "saving": money(paid.saving, currency) if mine and paid is not None else "",
        "tier": catalog.tier(paid.tier).name if mine and paid and paid.tier else "",
        "lowest": money(lowest.amount, currency),
        "lowest_saving": money(lowest.saving, currency),
        "several": len({r.amount for r in rows}) > 1,
        "tiers": [
            {
                "slug": r.tier,
                "name": r.name,
                "amount": money(r.amount, currency),
                "saving": money(r.saving, currency),
            }
            for r in rows
        ],
    }


@register.simple_tag(takes_context=True)
def paywall_member_price(context: template.Context, price: Any) -> dict[str, Any]:
    """What the visitor pays for ``price`` (an id or a core price) and what members pay;
    ``{"offered": False}`` for a price without member prices."""
    found = _price(price)
    if found is None or not amounts_of(found):
        return {"offered": False, "member": False}
    return member_price_info(found, _request(context))


@register.inclusion_tag(NOTE, takes_context=True)
def paywall_member_price_note(
    context: template.Context, price: Any, link: bool = True
) -> dict[str, Any]:
    """The member-price line after an item's price (nothing for a price without any);
    ``link=False`` leaves out the link to the pricing page (on the pricing page)."""
    return {
        "mp": paywall_member_price(context, price),
        "pricing_url": _pricing_url() if link else "",
    }


@register.inclusion_tag(SECTION, takes_context=True)
def paywall_members_pay_less(context: template.Context) -> dict[str, Any]:
    """The pricing page's "Members pay less" section: the items on sale with member prices
    in the page's ``currency`` (every currency when it has none)."""
    request = _request(context)
    currency = context.get("currency") or None
    catalog = get_program().catalog
    rows = []
    for price in member_priced(catalog, currency):
        info = member_price_info(price, request)
        info["name"] = catalog.items.get(price.item or "", "") or price.item
        info["price_id"] = price.id
        rows.append(info)
    return {"member_priced": rows}
