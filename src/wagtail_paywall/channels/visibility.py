"""What every side channel (the API, site search, feeds, SEO markup) shows of a page.

Page serving (:mod:`wagtail_paywall.gating`) is one channel; every other one goes through
here, so each asks the same :func:`~membership_sdk.decide` and shows the same teaser:
:func:`page_decision` (``None`` for a page the paywall leaves open), :func:`visible_page`,
:func:`visible_text` and :func:`mark_if_gated` (the cache headers). A channel showing many
pages at once never spends a metered read: such a page counts as locked (reason ``metered``).

See ``docs/channels.md`` (the introduction, and Caches).
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

from django.http import HttpRequest, HttpResponseBase
from django.utils.html import strip_tags
from wagtail.blocks.stream_block import StreamValue

from membership_sdk import (
    AccessContext,
    Decision,
    Public,
    Reason,
    Resource,
    decide,
    resolve_context,
)

from ..access import check_access, member_context
from ..blocks import teaser_part
from ..middleware import mark_private
from ..pages import PaywallPageMixin
from ..program import get_program


def specific_page(page: Any) -> Any:
    """``page`` as its own model (one query for a generic ``Page``)."""
    if isinstance(page, PaywallPageMixin):
        return page
    specific_class = getattr(page, "specific_class", None)
    if specific_class is not None and issubclass(specific_class, PaywallPageMixin):
        return page.specific
    return page


def peek(resource: Resource, ctx: AccessContext) -> Decision:
    """Decide ``resource`` without spending anything.

    A read allowed only by charging a meter or quota is reported as locked (with the
    teaser), so listing many pages never gives away more than opening them would.
    """
    decision = decide(resource, ctx)
    if decision.allowed and decision.charge is not None:
        return replace(decision, allowed=False, teaser=True, charge=None, remaining=None)
    return decision


def page_decision(
    page: Any,
    request: HttpRequest,
    *,
    spend: bool = False,
    ctx: AccessContext | None = None,
) -> Decision | None:
    """The decision for ``page`` (a specific page), or ``None`` if the paywall leaves it open.

    :param spend: record a metered read as opening the page would (one page, detail
        views only); otherwise see :func:`peek`.
    :param ctx: decide for this context instead of the visitor of ``request`` (a
        member's feed).
    """
    if not isinstance(page, PaywallPageMixin):
        return None
    resource = page.paywall_resource()
    if isinstance(resource.rule, Public):
        return None
    if ctx is not None:
        return peek(resource, ctx)  # not the visitor's own: their request stays as it is
    if spend:
        return check_access(request, resource)  # marks the request as below
    request.paywall_gated = True  # type: ignore[attr-defined]
    decision = peek(resource, member_context(request))
    if decision.allowed:
        request.paywall_allowed = True  # type: ignore[attr-defined]
    return decision


def visible_page(
    page: Any,
    request: HttpRequest,
    *,
    spend: bool = False,
    ctx: AccessContext | None = None,
) -> tuple[Any, Decision | None]:
    """``(page, decision)``: the specific page, its premium part withheld if denied.

    The page is changed in memory (and refuses to be saved afterwards).
    """
    page = specific_page(page)
    decision = page_decision(page, request, spend=spend, ctx=ctx)
    if decision is not None:
        if decision.allowed:
            page.paywall_decision = decision
        elif not getattr(page, "_paywall_withheld", False):
            page.paywall_withhold(decision)
    return page, decision


def anonymous_context() -> AccessContext:
    """What an anonymous visitor who has spent nothing holds now."""
    program = get_program()
    return resolve_context(program.catalog, program.clock())


def is_gated(page: Any) -> bool:
    """Whether ``page`` withholds anything from an anonymous visitor who spent nothing.

    This describes the page, not the visitor: it decides the paywalled-content markup
    every visitor (and every crawler) gets.
    """
    page = specific_page(page)
    if not isinstance(page, PaywallPageMixin):
        return False
    resource = page.paywall_resource()
    if isinstance(resource.rule, Public):
        return False
    return not peek(resource, anonymous_context()).allowed


def _stream_text(value: StreamValue) -> str:
    parts = value.stream_block.get_searchable_content(value)
    return " ".join(strip_tags(str(p)) for p in parts if p)


def visible_text(page: Any, decision: Decision | None = None, *, title: bool = True) -> str:
    """The text of ``page`` a visitor with ``decision`` may read (all of it when allowed),
    its title first unless ``title`` is false."""
    page = specific_page(page)
    parts = [str(page.title) if title else "", str(getattr(page, "search_description", "") or "")]
    if not isinstance(page, PaywallPageMixin):
        return " ".join(p for p in parts if p)
    allowed = decision is None or decision.allowed
    if not allowed and decision is not None and decision.teaser:
        parts.append(page.paywall_teaser)
    for name in page.paywall_body_fields:
        value = getattr(page, name, None)
        if isinstance(value, StreamValue):
            withheld = getattr(page, "_paywall_withheld", False)  # already the teaser
            keep = bool(decision and decision.teaser)
            shown = value if allowed or withheld else teaser_part(value, keep=keep)
            parts.append(_stream_text(shown))
        elif allowed and value:
            parts.append(strip_tags(str(value)))
    if allowed:
        parts.extend(str(getattr(page, name, "") or "") for name in page.paywall_premium_fields)
    return " ".join(" ".join(p.split()) for p in parts if p and p.strip())


def withheld_copy(page: Any, decision: Decision) -> Any:
    """A copy of ``page`` as a visitor with ``decision`` receives it, through the page's
    own :meth:`~wagtail_paywall.pages.PaywallPageMixin.paywall_withhold` (so an override
    withholds here too); ``page`` itself is left as it was."""
    if getattr(page, "_paywall_withheld", False):
        return page
    withheld = copy.copy(page)
    withheld.paywall_withhold(decision)
    return withheld


def teaser_text(page: Any) -> str:
    """What anyone may read of ``page``: its search description, else its teaser text,
    else the blocks above the paywall break (for a page the paywall leaves open: its text).

    A gated page is read as a visitor without access receives it, whoever asks.
    """
    page = specific_page(page)
    gated = isinstance(page, PaywallPageMixin) and is_gated(page)
    locked = Decision(False, Reason.TIER_REQUIRED, teaser=True)
    if gated:
        page = withheld_copy(page, locked)
    description = str(getattr(page, "search_description", "") or "").strip()
    if description:
        return description
    if not gated:
        return visible_text(page, title=False)
    if page.paywall_teaser.strip():
        return " ".join(page.paywall_teaser.split())
    return visible_text(page, locked, title=False)


def decision_json(decision: Decision | None) -> dict[str, Any]:
    """A decision as JSON: allowed, reason, teaser, unlock time and the offers."""
    if decision is None:
        return {"allowed": True, "reason": "public", "teaser": False, "offers": []}
    return {
        "allowed": decision.allowed,
        "reason": decision.reason.value,
        "teaser": decision.teaser,
        "unlock_at": decision.unlock_at.isoformat() if decision.unlock_at else None,
        "offers": [
            {
                "kind": offer.kind.value,
                "slug": offer.slug,
                "name": offer.name,
                "prices": [
                    {
                        "id": price.id,
                        "amount": price.amount,
                        "currency": price.currency,
                        "interval": price.interval.value,
                        "trial_days": price.trial_days,
                    }
                    for price in offer.prices
                ],
            }
            for offer in decision.offers
        ],
    }


def mark_if_gated(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
    """Keep ``response`` out of shared caches when it went through a gate.

    ``private`` and ``Vary: Cookie``; ``no-store`` as well for a member or an allowed
    read (see :func:`wagtail_paywall.middleware.mark_private`).
    """
    if getattr(request, "paywall_gated", False):
        mark_private(response, request)
    return response
