"""Previews and revisions of a gated page: Wagtail serves them to editors only.

Wagtail's preview (``serve_preview``) and revision views do not pass through
``before_serve_page``: they render the full page. They live under ``/admin/`` and ask
for the page's edit permission, so a member, however entitled, or a visitor gets the
login page or a refusal, never the page.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.wagtail.gating_helpers import PREMIUM

pytest_plugins = ["tests.wagtail.gating_fixtures"]
pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(make_article: Any, catalog: Any) -> Any:
    """A gated article with an unpublished revision holding new premium text."""
    page = make_article("tier", tiers=[catalog["premium"]])
    page.premium_note = "Draft premium note."
    page.save_revision()
    return page


def admin_urls(page: Any) -> list[str]:
    revision = page.latest_revision
    return [
        f"/admin/pages/{page.pk}/edit/preview/",
        f"/admin/pages/{page.pk}/view_draft/",
        f"/admin/pages/{page.pk}/revisions/{revision.pk}/view/",
        f"/admin/pages/{page.pk}/revisions/compare/live...{revision.pk}/",
    ]


@pytest.mark.parametrize("persona", ["anonymous", "premium"], indirect=True)
def test_previews_and_revisions_show_nothing_to_a_non_editor(
    client: Any, draft: Any, persona: Any
) -> None:
    if persona is not None:
        client.force_login(persona)
    for url in admin_urls(draft):
        response = client.get(url)
        assert response.status_code in (302, 403), url
        body = response.content.decode()
        assert PREMIUM not in body
        assert "Draft premium note." not in body


def test_an_editor_previews_the_draft_in_full(client: Any, draft: Any, editor: Any) -> None:
    client.force_login(editor)
    response = client.get(f"/admin/pages/{draft.pk}/view_draft/")
    assert response.status_code == 200
    assert "Draft premium note." in response.content.decode()
