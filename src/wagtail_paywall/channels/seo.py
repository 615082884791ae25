"""Meta description, OpenGraph and JSON-LD built from a page's teaser only.

:func:`paywall_meta_html` (the ``{% paywall_meta page %}`` tag) renders the same ``<head>``
for every visitor, never premium text. On a gated page
(:func:`~wagtail_paywall.channels.visibility.is_gated`) the JSON-LD says
``"isAccessibleForFree": false`` with a ``hasPart`` selecting ``.paywall-content``, the class
the gated part renders in for a visitor with access; a free page carries neither.

See ``docs/channels.md`` (Meta description, OpenGraph and JSON-LD).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator

from .visibility import is_gated, specific_page, teaser_text

#: The class of the element(s) holding what the paywall withholds.
PAYWALL_CONTENT_CLASS = "paywall-content"
DESCRIPTION_WORDS = 40

_JSON_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


def description(page: Any) -> str:
    """The page's meta description: its teaser, about forty words."""
    return Truncator(teaser_text(page)).words(DESCRIPTION_WORDS, truncate="…")


def structured_data(page: Any, request: HttpRequest | None = None) -> dict[str, Any]:
    """The JSON-LD ``Article`` of ``page``, with the paywall markup when it is gated."""
    page = specific_page(page)
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Article",
        "headline": str(getattr(page, "seo_title", "") or page.title),
        "description": description(page),
        "url": page.get_full_url(request),
    }
    if getattr(page, "first_published_at", None):
        data["datePublished"] = page.first_published_at.isoformat()
    if getattr(page, "last_published_at", None):
        data["dateModified"] = page.last_published_at.isoformat()
    if is_gated(page):
        data["isAccessibleForFree"] = False
        data["hasPart"] = {
            "@type": "WebPageElement",
            "isAccessibleForFree": False,
            "cssSelector": f".{PAYWALL_CONTENT_CLASS}",
        }
    return data


def paywall_meta_html(page: Any, request: HttpRequest | None = None) -> SafeString:
    """``<meta name="description">``, OpenGraph ``<meta property="og:...">`` and the
    JSON-LD ``<script>`` of ``page``, from its teaser only."""
    data = structured_data(page, request)
    tags = [
        ("name", "description", data["description"]),
        ("property", "og:type", "article"),
        ("property", "og:title", data["headline"]),
        ("property", "og:description", data["description"]),
        ("property", "og:url", data["url"] or ""),
    ]
    meta = format_html_join(
        "\n", '<meta {}="{}" content="{}">', ((a, n, v) for a, n, v in tags if v)
    )
    payload = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False).translate(_JSON_ESCAPES)
    script = format_html('<script type="application/ld+json">{}</script>', mark_safe(payload))
    return format_html("{}\n{}", meta, script)
