"""Template tags of the side channels: SEO markup, the gated part's wrapper, member feeds.

``{% load paywall_channels %}``, then:

- ``{% paywall_meta page %}``: meta description, OpenGraph and JSON-LD, from the teaser only;
- ``{% paywall_body page.body %}``: ``include_block``, the gated blocks in ``.paywall-content``;
- ``{% paywall_parts page.body as body %}``: the same split, as ``body.teaser``/``.premium``;
- ``{% paywall_member_feed %}``: the account page's controls of the member's private feed.

See ``docs/channels.md`` (Meta description, OpenGraph and JSON-LD; Feeds).
"""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from wagtail.blocks.stream_block import StreamValue

from ..blocks import split_at_break
from ..channels.seo import PAYWALL_CONTENT_CLASS, paywall_meta_html
from ..channels.visibility import is_gated
from ..models import FeedToken

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
