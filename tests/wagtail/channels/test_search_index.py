"""The search index holds only what anyone may read of a gated page.

A site's own search view (``Page.objects.live().search(q)``, as ``wagtail start`` writes
it), autocomplete, the API's ``?search=`` with either operator: none of them can find a
gated page by a word of its premium part, or move it up or down the results with one.
Public fields (the title, the blocks above the break) still find it.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.core.management import call_command
from wagtail.models import Page
from wagtail.search import index

from tests.wagtail.gating_helpers import body
from tests.wagtail.testapp.models import ArticlePage

pytest_plugins = ["tests.wagtail.gating_fixtures"]
pytestmark = pytest.mark.django_db

SECRET = "zeppelin"  # a word of premium text only


def found(query: str) -> list[int]:
    """What a site's own search view finds: ``Page.objects.live().search(query)``."""
    return [page.pk for page in Page.objects.live().search(query)]


def premium_article(make_article: Any, catalog: Any, **fields: Any) -> ArticlePage:
    fields.setdefault("body", body("Churn report teaser.", f"The {SECRET} figures."))
    return make_article("tier", tiers=[catalog["premium"]], **fields)


def republish(page: Any, **fields: Any) -> None:
    """Change ``page`` in the editor and publish it."""
    page = page.specific_class.objects.get(pk=page.pk)
    for name, value in fields.items():
        setattr(page, name, value)
    page.save_revision().publish()


def test_a_word_of_the_premium_part_finds_no_gated_page(make_article: Any, catalog: Any) -> None:
    premium_article(make_article, catalog)
    assert found(SECRET) == []


def test_a_premium_field_finds_no_gated_page(make_article: Any, catalog: Any) -> None:
    premium_article(make_article, catalog, premium_note="Quarterly xylophone forecast.")
    assert found("xylophone") == []


def test_the_title_and_the_blocks_above_the_break_still_find_a_gated_page(
    make_article: Any, catalog: Any
) -> None:
    page = premium_article(make_article, catalog, title="Harbour logistics")
    for query in ("harbour", "churn report"):
        assert found(query) == [page.pk], query


def test_a_public_page_is_found_by_any_of_its_text(make_article: Any) -> None:
    page = make_article("public", body=body("Churn report teaser.", f"The {SECRET} figures."))
    assert found(SECRET) == [page.pk]


def test_autocomplete_never_completes_a_premium_word(
    make_article: Any, catalog: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    fields = [*ArticlePage.search_fields, index.AutocompleteField("body")]
    monkeypatch.setattr(ArticlePage, "search_fields", fields)
    gated = premium_article(make_article, catalog)
    public = make_article("public", body=body("Other teaser.", f"Public {SECRET} text."))
    completed = [page.pk for page in Page.objects.live().autocomplete(SECRET[:5])]
    assert completed == [public.pk]
    assert gated.pk not in completed


def test_a_search_field_computed_from_the_body_indexes_the_teaser_only(
    make_article: Any, catalog: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def body_text(self: ArticlePage) -> str:
        return " ".join(str(block.value) for block in self.body)

    monkeypatch.setattr(ArticlePage, "body_text", body_text, raising=False)
    monkeypatch.setattr(ArticlePage, "search_fields", [index.SearchField("body_text")])
    page = premium_article(make_article, catalog)
    assert found(SECRET) == []
    assert found("churn") == [page.pk]


def test_making_a_public_page_gated_takes_its_premium_words_out_of_the_index(
    make_article: Any, catalog: Any
) -> None:
    page = make_article("public", body=body("Churn report teaser.", f"The {SECRET} figures."))
    assert found(SECRET) == [page.pk]
    republish(page, paywall_rule="tier", paywall_min_tier=catalog["premium"])
    assert found(SECRET) == []


def test_making_a_gated_page_public_puts_its_whole_text_in_the_index(
    make_article: Any, catalog: Any
) -> None:
    page = premium_article(make_article, catalog)
    republish(page, paywall_rule="public")
    assert found(SECRET) == [page.pk]


def test_gating_a_course_takes_its_lessons_premium_words_out_of_the_index(
    make_course: Any, make_lesson: Any, catalog: Any
) -> None:
    course = make_course("public")
    lesson = make_lesson(course, body=body("Lesson teaser.", f"Lesson {SECRET} notes."))
    assert found(SECRET) == [lesson.pk]
    republish(course, paywall_rule="tier", paywall_min_tier=catalog["premium"])
    assert found(SECRET) == []


def test_rebuilding_the_index_keeps_premium_words_out(make_article: Any, catalog: Any) -> None:
    page = premium_article(make_article, catalog)
    call_command("update_index", verbosity=0)
    assert found(SECRET) == []
    assert found("churn") == [page.pk]


def test_an_editors_draft_never_reaches_the_index(make_article: Any, catalog: Any) -> None:
    page = make_article("public")
    page.body = body("Draft teaser.", f"Draft {SECRET} text.")
    page.save_revision()
    assert found(SECRET) == []


# -- ranking: premium words never move a locked page ------------------------------------------
OTHER_WORD = "harmonic"  # as long as SECRET, found nowhere else


def two_locked_pages(make_article: Any, catalog: Any) -> None:
    """Two locked pages: the first one's public text matches "churn" better, the second
    one's premium part holds SECRET many times. Were premium text indexed, SECRET would
    lift the second page above the first."""
    for title, teaser, premium in (
        ("Churn one", "Churn and churn again.", "figures"),
        ("Churn two", "Churn report teaser.", SECRET),
    ):
        premium_article(
            make_article,
            catalog,
            title=title,
            body=body(teaser, " ".join([premium] * 20)),
        )


def api_ranking(client: Any, url: str, query: str) -> list[str]:
    response = client.get(url, {"search": query, "search_operator": "or"})
    assert response.status_code == 200, response.content
    return [item["title"] for item in json.loads(response.content)["items"]]


def own_view_ranking(client: Any, url: str, query: str) -> list[str]:
    response = client.get(url, {"query": query})
    assert response.status_code == 200
    return re.findall(r'<h4><a href="[^"]*">([^<]*)</a></h4>', response.content.decode())


#: channel -> how to read its ranking, its URL, and which pages "churn SECRET" finds.
RANKINGS: dict[str, tuple[Any, str, list[str]]] = {
    # "or": the public word finds both pages, whatever the premium word.
    "our API, search_operator=or": (api_ranking, "/api/v2/pages/", ["Churn one", "Churn two"]),
    "stock API, search_operator=or": (
        api_ranking,
        "/stock-api/v2/pages/",
        ["Churn one", "Churn two"],
    ),
    # "and" (the default): no page holds both words where anyone may read them.
    "a site's own search view": (own_view_ranking, "/search/", []),
}


@pytest.mark.parametrize("channel", RANKINGS)
def test_a_premium_word_never_changes_which_locked_pages_are_found_or_their_order(
    client: Any, make_article: Any, catalog: Any, channel: str
) -> None:
    ranking, url, expected = RANKINGS[channel]
    two_locked_pages(make_article, catalog)
    query = f"churn {SECRET}"
    with_word = ranking(client, url, query)
    # The same site where that premium word is absent: another word in its place.
    page = ArticlePage.objects.get(title="Churn two")
    republish(page, body=body("Churn report teaser.", " ".join([OTHER_WORD] * 20)))
    without_word = ranking(client, url, query)
    assert with_word == without_word
    assert with_word == expected
