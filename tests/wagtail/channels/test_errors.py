"""404 pages on a paywalled site: an unpublished gated page is simply not found.

A draft is served to nobody outside the admin, on the site or through the API, and
the 404 page says nothing of it.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.wagtail.gating_helpers import PREMIUM, TEASER

pytest_plugins = ["tests.wagtail.gating_fixtures"]
pytestmark = pytest.mark.django_db


@pytest.fixture
def unpublished(make_article: Any, catalog: Any) -> Any:
    page = make_article("tier", tiers=[catalog["premium"]])
    page.unpublish()
    return page


@pytest.mark.parametrize("persona", ["anonymous", "premium"], indirect=True)
def test_an_unpublished_gated_page_is_a_404_without_its_content(
    client: Any, unpublished: Any, persona: Any
) -> None:
    if persona is not None:
        client.force_login(persona)
    for url in (f"/{unpublished.slug}/", f"/api/v2/pages/{unpublished.pk}/"):
        response = client.get(url)
        assert response.status_code == 404, url
        body = response.content.decode()
        assert PREMIUM not in body
        assert TEASER not in body
        assert unpublished.title not in body
