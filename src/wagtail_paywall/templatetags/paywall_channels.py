"""Template tags of the side channels: SEO markup, the gated part's wrapper, member feeds.

``{% load paywall_channels %}``, then

``{% paywall_meta page %}``
    In ``<head>``: the meta description, OpenGraph tags and JSON-LD of ``page``, built
    from its teaser only (see :mod:`wagtail_paywall.seo`). A gated page says
    ``"isAccessibleForFree": false`` with a ``hasPart`` naming the CSS class
    ``paywall-content``; a free page carries no paywall markup.

``{% paywall_body page.body %}``
    A paywall-aware ``{% include_block %}``: the blocks above the break as they are,
    and the gated blocks inside ``<div class="paywall-content">`` for a visitor with
    access. A visitor without access gets the teaser blocks only (the rest was
    withheld on the server); a free page renders as ``include_block`` would.

``{% paywall_parts page.body as body %}``
    The same split for templates that render blocks one by one: ``body.teaser`` and,
    for a visitor with access to a gated page, ``body.premium`` to render inside
    ``<div class="paywall-content">``.

``{% paywall_member_feed %}``
    On the account page: the signed-in member's private feed, with buttons to get,
    renew or stop it. Its address is shown only once, on the page that answers getting
    or renewing it (only the token's digest is stored); this tag says whether the feed
    is on and that renewing it shows a new address.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from wagtail.blocks.stream_block import StreamValue

from ..blocks import split_at_break
from ..channels import is_gated
from ..feed_models import FeedToken
from ..seo import PAYWALL_CONTENT_CLASS, paywall_meta_html

register = template.Library()


@register.simple_tag(takes_context=True)
def paywall_meta(context: template.Context, page: Any = None) -> SafeString:
    page = page if page is not None else context.get("page")
    if page is None:
        return mark_safe("")
    return paywall_meta_html(page, context.get("request"))


@register.simple_tag(takes_context=True)
def paywall_parts(context: template.Context, value: Any) -> dict[str, Any]:
    """``{% paywall_parts page.body as body %}``: ``body.teaser`` and ``body.premium``.

    For templates that render a stream block by block: render ``body.teaser`` as usual,
    then, if there is one, ``body.premium`` inside ``<div class="paywall-content">``.
    ``premium`` is ``None`` unless the page is gated and the visitor may read it (the
    teaser is then the whole stream that was sent).
    """
    page = context.get("page")
    decision = getattr(page, "paywall_decision", None) or context.get("paywall_decision")
    if not isinstance(value, StreamValue) or decision is None or not decision.allowed:
        return {"teaser": value, "premium": None}
    if not is_gated(page):
        return {"teaser": value, "premium": None}
    teaser, premium = split_at_break(value)
    return {"teaser": teaser, "premium": premium}


@register.simple_tag(takes_context=True)
def paywall_body(context: template.Context, value: Any) -> SafeString:
    if not isinstance(value, StreamValue):
        return format_html("{}", value)
    parts = paywall_parts(context, value)
    flat = context.flatten()
    teaser = mark_safe(parts["teaser"].render_as_block(context=flat))
    if parts["premium"] is None:
        return teaser  # a free page, or the teaser left after withholding
    return format_html(
        '{}<div class="{}">{}</div>',
        teaser,
        PAYWALL_CONTENT_CLASS,
        mark_safe(parts["premium"].render_as_block(context=flat)),
    )


@register.inclusion_tag("wagtail_paywall/member_feed.html", takes_context=True)
def paywall_member_feed(context: template.Context) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"member": False}
    return {
        "member": True,
        # Whether a feed is on, never its address: only the token's digest is stored.
        "feed_live": FeedToken.live_for(str(user.pk)) is not None,
        "csrf_token": context.get("csrf_token"),
    }
