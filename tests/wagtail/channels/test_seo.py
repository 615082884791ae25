"""Meta description, OpenGraph and JSON-LD (``{% paywall_meta page %}``) and the
``paywall-content`` wrapper (``{% paywall_body page.body %}``).

The head of a page is built from its teaser for everyone; Google's paywalled-content
markup appears on gated pages only, and its CSS selector names exactly the element an
entitled visitor gets and a visitor without access does not.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.template import RequestContext, Template

from tests.wagtail.gating_helpers import PREMIUM, TEASER
from wagtail_paywall.gating import gate_page

pytest_plugins = ["tests.wagtail.gating_fixtures"]
pytestmark = pytest.mark.django_db

PAYWALLED_PART = {
    "@type": "WebPageElement",
    "isAccessibleForFree": False,
    "cssSelector": ".paywall-content",
}


def html_of(client: Any, page: Any, user: Any = None) -> str:
    if user is not None:
        client.force_login(user)
    response = client.get(page.url)
    assert response.status_code == 200
    return response.content.decode()


def head(html: str) -> str:
    return html.split("</head>", 1)[0]


def json_ld(html: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert found is not None, "the page has JSON-LD"
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def premium_article(make_article: Any, catalog: Any, **fields: Any) -> Any:
    return make_article("tier", tiers=[catalog["premium"]], **fields)


def test_a_gated_pages_head_describes_it_by_its_teaser_for_an_entitled_member(
    client: Any, make_article: Any, catalog: Any, premium: Any
) -> None:
    page = premium_article(make_article, catalog)
    html = head(html_of(client, page, premium))
    assert f'<meta name="description" content="Introduction {TEASER}">' in html
    assert f'<meta property="og:description" content="Introduction {TEASER}">' in html
    assert PREMIUM not in html


def test_a_gated_pages_head_prefers_the_search_description(
    client: Any, make_article: Any, catalog: Any
) -> None:
    page = premium_article(make_article, catalog, search_description="What the outlook holds.")
    html = head(html_of(client, page))
    assert '<meta name="description" content="What the outlook holds.">' in html


def test_a_gated_page_is_marked_not_accessible_for_free_with_its_paywalled_part(
    client: Any, make_article: Any, catalog: Any
) -> None:
    data = json_ld(html_of(client, premium_article(make_article, catalog)))
    assert data["isAccessibleForFree"] is False
    assert data["hasPart"] == PAYWALLED_PART
    assert PREMIUM not in json.dumps(data)


def test_a_free_page_carries_no_paywall_markup(client: Any, make_article: Any) -> None:
    html = html_of(client, make_article("public", premium_note="A note."))
    assert "isAccessibleForFree" not in json.dumps(json_ld(html))
    assert "paywall-content" not in html


def test_an_entitled_member_gets_the_withheld_part_inside_the_paywalled_element(
    client: Any, make_article: Any, catalog: Any, premium: Any
) -> None:
    page = premium_article(make_article, catalog, premium_note="Premium note.")
    html = html_of(client, page, premium)
    wrapped = re.findall(r'class="paywall-content">(.*?)</(?:div|aside)>', html, re.S)
    assert any(PREMIUM in part for part in wrapped)
    assert any("Premium note." in part for part in wrapped)
    assert all(TEASER not in part for part in wrapped), "the teaser stays outside"


def test_a_visitor_without_access_gets_no_paywalled_element(
    client: Any, make_article: Any, catalog: Any, supporter: Any
) -> None:
    page = premium_article(make_article, catalog, premium_note="Premium note.")
    html = html_of(client, page, supporter)
    assert 'class="paywall-content"' not in html
    assert TEASER in html


def test_a_metered_page_is_marked_not_accessible_for_free_even_while_free_reads_last(
    client: Any, make_article: Any, catalog: Any
) -> None:
    page = make_article("metered", tiers=[catalog["premium"]])
    html = html_of(client, page)
    assert PREMIUM in html, "the anonymous visitor spends a free read"
    assert json_ld(html)["isAccessibleForFree"] is False
    assert 'class="paywall-content"' in html


PARTS = Template(
    "{% load paywall_channels %}{% paywall_parts page.body as body %}"
    "<p>{% for block in body.teaser %}{{ block.value }}{% endfor %}</p>"
    '{% if body.premium %}<div class="paywall-content">'
    "{% for block in body.premium %}{{ block.value }}{% endfor %}</div>{% endif %}"
)


def render_parts(page: Any, request: Any) -> str:
    gate_page(page, request)
    return PARTS.render(RequestContext(request, {"page": page}))


def test_paywall_parts_gives_an_entitled_member_the_gated_blocks_to_wrap(
    make_article: Any, catalog: Any, premium: Any, request_for: Any
) -> None:
    html = render_parts(premium_article(make_article, catalog), request_for(premium))
    assert re.search(rf'<div class="paywall-content">.*{PREMIUM}.*</div>', html, re.S)


def test_paywall_parts_gives_a_visitor_without_access_only_the_teaser(
    make_article: Any, catalog: Any, request_for: Any
) -> None:
    html = render_parts(premium_article(make_article, catalog), request_for())
    assert TEASER in html
    assert "paywall-content" not in html
