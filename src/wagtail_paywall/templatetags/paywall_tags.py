"""Template tags: the paywall partial, a teaser, and an ``entitled`` condition.

``{% load paywall_tags %}``, then:

- ``{% paywall_upsell %}``: the paywall partial for the page's decision (or one passed in);
- ``{% paywall_teaser page %}``: the teaser text and the partial, for a visitor without access;
- ``{% entitled "key" %}...{% else %}...{% endentitled %}``: never uses up a quota.

See ``docs/gating.md`` (Template tags).
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

from django import template
from django.conf import settings
from django.shortcuts import resolve_url

from membership_sdk import Decision, HasEntitlement, OfferKind, Reason, Resource, decide

from ..access import member_context
from ..billing.attribution import paywall_extras
from ..currency import currency_links, preferred_currency
from ..formats import local_date, money

register = template.Library()

PARTIAL = "wagtail_paywall/paywall.html"


def _login_url(request: Any) -> str:
    url = resolve_url(settings.LOGIN_URL)
    if request is None:
        return url
    return f"{url}?next={quote(request.get_full_path())}"


def paywall_context(decision: Decision | None, request: Any) -> dict[str, Any]:
    """The context of the paywall partial for ``decision`` (empty when access is granted)."""
    if decision is None or decision.allowed:
        return {"paywall_show": False}
    # The visitor's currency (docs/wagtail.md, Local formats and currencies); an offer
    # with no price in it shows all of its prices.
    sold = {price.currency for offer in decision.offers for price in offer.prices}
    chosen = preferred_currency(request, sold)
    offers = [
        {
            "name": offer.name,
            "slug": offer.slug,
            "is_purchase": offer.kind is OfferKind.PURCHASE,
            "prices": [
                {
                    "id": price.id,
                    "amount": money(price.amount, price.currency),
                    "currency": price.currency,
                    "interval": price.interval.value,
                    "trial_days": price.trial_days,
                    # An intro offer ("the first 3 months at €1.00"), see docs/offers.md.
                    "intro_amount": money(price.intro_amount, price.currency)
                    if price.intro_amount is not None
                    else "",
                    "intro_periods": price.intro_periods,
                }
                for price in offer.prices
                if price.currency == chosen or all(p.currency != chosen for p in offer.prices)
            ],
        }
        for offer in decision.offers
    ]
    authenticated = bool(getattr(getattr(request, "user", None), "is_authenticated", False))
    # An A/B test's variant: heading, text, offers; and the signed source for attribution.
    extras = paywall_extras(request, offers)
    offers = extras.pop("offers", offers)
    return {
        **extras,
        "paywall_show": True,
        "authenticated": authenticated,
        # Checkout returns here; the nonce makes a double click one checkout, not two.
        "next": request.get_full_path() if request is not None else "",
        "attempt": uuid.uuid4().hex,
        "decision": decision,
        "reason": decision.reason.value,
        "offers": offers,
        "currency": chosen,
        "currency_links": currency_links(request, sold, chosen),
        "unlock_at": decision.unlock_at,
        "login_url": None if authenticated else _login_url(request),
        "login_required": decision.reason is Reason.LOGIN_REQUIRED,
    }


@register.inclusion_tag(PARTIAL, takes_context=True)
def paywall_upsell(context: template.Context, decision: Decision | None = None) -> dict[str, Any]:
    """The paywall partial for ``decision`` (by default the page's ``paywall_decision``)."""
    if decision is None:
        decision = context.get("paywall_decision")
    return paywall_context(decision, context.get("request"))


@register.inclusion_tag("wagtail_paywall/teaser.html", takes_context=True)
def paywall_teaser(context: template.Context, page: Any = None) -> dict[str, Any]:
    """The teaser text of ``page`` (default: ``page`` in the context) and the partial."""
    page = page if page is not None else context.get("page")
    decision = getattr(page, "paywall_decision", None) or context.get("paywall_decision")
    result = paywall_context(decision, context.get("request"))
    result["teaser"] = getattr(page, "paywall_teaser", "") if result["paywall_show"] else ""
    return result


class EntitledNode(template.Node):
    def __init__(
        self, key: template.base.FilterExpression, yes: template.NodeList, no: template.NodeList
    ) -> None:
        self.key = key
        self.yes = yes
        self.no = no

    def render(self, context: template.Context) -> str:
        request = context.get("request")
        key = str(self.key.resolve(context))
        if request is None or not key:
            return self.no.render(context)
        resource = Resource(f"entitlement:{key}", HasEntitlement(key))
        # What is shown depends on the visitor: keep the response out of shared caches.
        request.paywall_gated = True
        # decide() alone records nothing: showing a block never spends a quota.
        allowed = decide(resource, member_context(request)).allowed
        return (self.yes if allowed else self.no).render(context)


@register.tag("entitled")
def do_entitled(parser: template.base.Parser, token: template.base.Token) -> EntitledNode:
    """``{% entitled "key" %}...{% else %}...{% endentitled %}``."""
    bits = token.split_contents()
    if len(bits) != 2:
        raise template.TemplateSyntaxError(
            f"{bits[0]!r} takes one argument, the entitlement key, e.g. "
            f'{{% entitled "content.premium" %}}; got {len(bits) - 1}'
        )
    key = parser.compile_filter(bits[1])
    yes = parser.parse(("else", "endentitled"))
    token = parser.next_token()
    if token.contents == "else":
        no = parser.parse(("endentitled",))
        parser.delete_first_token()
    else:
        no = template.NodeList()
    return EntitledNode(key, yes, no)


@register.filter(name="paywall_money")
def paywall_money(minor: int | None, currency: str) -> str:
    """``minor`` units of ``currency`` as the active language writes them, sign included
    (``{{ 100|paywall_money:"EUR" }}`` is ``€1.00`` in English, ``1,00 €`` in German);
    empty for ``None``."""
    return "" if minor is None else money(minor, currency)


@register.filter(name="money")
def money_filter(value: Any) -> str:
    """A price (or anything with ``amount`` in minor units and ``currency``) as the active
    language writes it: ``{{ price|money }}`` is ``50,00 zł`` in Polish; empty for none."""
    amount = getattr(value, "amount", None)
    currency = getattr(value, "currency", None)
    if isinstance(value, dict):
        amount, currency = value.get("amount"), value.get("currency")
    if not isinstance(amount, int) or not currency:
        return ""
    return money(amount, str(currency))


@register.filter(name="local_date")
def local_date_filter(value: Any, fmt: str = "DATE_FORMAT") -> str:
    """A date or datetime in the active language's ``DATE_FORMAT`` (or the format named);
    empty for none."""
    return "" if not value else local_date(value, fmt)
