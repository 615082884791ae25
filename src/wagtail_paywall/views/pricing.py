"""The pricing page: tiers side by side, in one currency and interval.

A price sold through several of the site's providers (card and bank transfer, say) lets
the reader choose how to pay; its checkout form then posts that ``provider``. See
``docs/journey.md`` (Pricing).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render, resolve_url
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from membership_sdk import Catalog, Price

from .. import conf
from ..access import member_context
from ..billing.attribution import remember_source
from ..currency import currency_links, preferred_currency, vary_on_currency
from ..program import get_program
from .base import amount, safe_next

#: How the pricing page names the built-in providers; any other is shown by its name.
PAYMENT_METHODS: dict[str, Promise] = {
    "fake": _("Card (test payment)"),
    "stripe": _("Card"),
    "manual": _("Bank transfer"),
}


@dataclass(frozen=True)
class PaymentChoice:
    provider: str
    label: str | Promise


@dataclass(frozen=True)
class PriceOption:
    price: Price
    amount: str
    selected: bool
    name: str = ""
    # Empty when the price is sold through the default provider alone (the form posts no
    # ``provider``); one choice when it is sold through another provider only; several
    # when the reader chooses, the default provider first.
    pay_by: tuple[PaymentChoice, ...] = ()


@dataclass(frozen=True)
class TierColumn:
    slug: str
    name: str
    description: str
    entitlements: tuple[str, ...]
    prices: tuple[PriceOption, ...]
    held: bool
    free: bool


def _choose(value: str, options: Sequence[str], default: str) -> str:
    return value if value in options else default


def _pay_by(price: Price, providers: Sequence[str], default: str) -> tuple[PaymentChoice, ...]:
    """The site's providers that sell ``price``, the default first; none when that is
    the default provider alone."""
    names = sorted((p for p in providers if p in price.provider_ids), key=lambda p: p != default)
    if names in ([], [default]):
        return ()
    return tuple(PaymentChoice(p, PAYMENT_METHODS.get(p, p)) for p in names)


def _pricing_context(request: HttpRequest) -> dict[str, Any]:
    program = get_program()
    catalog: Catalog = program.catalog
    ctx = member_context(request)
    for_sale = [p for p in catalog.prices if not p.archived]
    wanted = request.GET.get("price", "")
    highlighted = next((p for p in for_sale if p.id == wanted), None)
    # The site's providers in the order its settings list them (those it may use only).
    providers = [name for name in conf.providers() if name in program.providers]
    default = str(conf.get("DEFAULT_PROVIDER"))

    def option(p: Price, name: str = "") -> PriceOption:
        return PriceOption(p, amount(p), p is highlighted, name, _pay_by(p, providers, default))

    currencies = sorted({p.currency for p in for_sale})
    # ?currency=, else the one of a highlighted price, else the visitor's (docs/wagtail.md,
    # Local formats and currencies).
    if highlighted is not None and request.GET.get("currency", "").upper() not in currencies:
        currency = highlighted.currency
    else:
        currency = preferred_currency(request, currencies)
    recurring = [p for p in for_sale if p.recurring and p.tier and p.currency == currency]
    # A tier with no price in that currency shows its prices in every currency instead.
    in_currency = {p.tier for p in recurring}
    recurring += [p for p in for_sale if p.recurring and p.tier and p.tier not in in_currency]
    intervals = [i for i in ("month", "year") if any(p.interval == i for p in recurring)]
    default_interval = (
        highlighted.interval.value
        if highlighted is not None and highlighted.recurring
        else (intervals[0] if intervals else "month")
    )
    interval = _choose(request.GET.get("interval", ""), intervals, default_interval)

    priced = {p.tier for p in catalog.prices if p.tier}
    held_rank = ctx.rank if ctx.authenticated else None
    columns = []
    for tier in catalog.tiers:
        options = tuple(
            option(p) for p in recurring if p.tier == tier.slug and p.interval == interval
        )
        free = tier.slug not in priced
        if not options and not free:
            continue  # not sold in this currency and interval
        columns.append(
            TierColumn(
                slug=tier.slug,
                name=tier.name,
                description=tier.description,
                entitlements=tuple(str(e) for e in tier.entitlements),
                prices=options,
                held=held_rank is not None and tier.slug in ctx.tiers and tier.rank == held_rank,
                free=free,
            )
        )
    items = [
        option(p, catalog.items.get(p.item, "") or p.item)
        for p in for_sale
        if p.item and p.currency == currency
    ]
    # This page without its ``next``: where to come back to when ``next`` is not ours.
    params = request.GET.copy()
    params.pop("next", None)
    here = request.path + (f"?{params.urlencode()}" if params else "")
    return {
        "currencies": currencies,
        "currency": currency,
        "currency_links": currency_links(request, currencies, currency),
        "intervals": intervals,
        "interval": interval,
        "tiers": columns,
        "items": items,
        "purchased": ctx.purchases,
        "authenticated": ctx.authenticated,
        "next": safe_next(request, request.GET.get("next"), here),
        "attempt": uuid.uuid4().hex,
        "login_url": f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': here})}",
        "gifts_on_sale": bool(catalog.gift_prices()),
    }


#: The pricing page's context, for a view that shows the page again (a refused code).
pricing_context = _pricing_context


@require_GET
def pricing(request: HttpRequest) -> HttpResponse:
    """Tiers side by side with their entitlements and prices, for one currency and
    interval (``?currency=PLN&interval=year``); the tier the member holds is marked."""
    remember_source(request)  # from a paywall (``?from=``, signed): for attribution
    response = render(request, "wagtail_paywall/pricing.html", _pricing_context(request))
    if request.user.is_authenticated:
        response["Cache-Control"] = "private"
    vary_on_currency(response, request)  # the currency offered depends on the visitor
    return response
