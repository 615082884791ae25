"""Wagtail's sitemap (``wagtail.contrib.sitemaps``) on a paywalled site.

It lists page URLs and dates only: a gated page is listed (so search engines find it
and read its paywalled-content markup), but nothing of its content is.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.wagtail.gating_helpers import PREMIUM, TEASER

pytest_plugins = ["tests.wagtail.gating_fixtures"]
pytestmark = pytest.mark.django_db


def test_the_sitemap_lists_a_gated_page_by_its_url_only(
    client: Any, make_article: Any, catalog: Any, premium: Any
) -> None:
    page = make_article("tier", tiers=[catalog["premium"]], premium_note="Premium note.")
    client.force_login(premium)  # even an entitled member's sitemap holds no content
    response = client.get("/sitemap.xml")
    assert response.status_code == 200
    xml = response.content.decode()
    assert page.full_url in xml
    for text in (PREMIUM, TEASER, "Premium note.", page.title):
        assert text not in xml
