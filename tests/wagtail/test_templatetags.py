"""Template tags: ``{% entitled %}``, ``{% paywall_upsell %}`` and ``{% paywall_teaser %}``."""

from __future__ import annotations

from typing import Any

import pytest
from django.template import Context, Template, TemplateSyntaxError
from django.utils import translation

from membership_sdk import Decision, Reason
from wagtail_paywall.access import member_context

pytest_plugins = ["tests.wagtail.gating_fixtures"]
pytestmark = pytest.mark.django_db

ENTITLED = (
    "{% load paywall_tags %}"
    '{% entitled "content.premium" %}premium block{% else %}upsell block{% endentitled %}'
)


def render(source: str, request: Any, **context: Any) -> str:
    return Template(source).render(Context({"request": request, **context}))


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("anonymous", "upsell block"),
        ("reader", "upsell block"),
        ("lapsed", "upsell block"),
        ("supporter", "upsell block"),
        ("premium", "premium block"),
    ],
    indirect=["persona"],
)
def test_entitled_shows_its_first_part_only_to_holders_of_the_entitlement(
    request_for: Any, persona: Any, expected: str
) -> None:
    assert render(ENTITLED, request_for(persona)) == expected


def test_entitled_without_else_renders_nothing_for_others(request_for: Any, reader: Any) -> None:
    source = '{% load paywall_tags %}{% entitled "content.premium" %}premium{% endentitled %}'
    assert render(source, request_for(reader)) == ""


def test_entitled_reads_the_key_from_a_variable(request_for: Any, premium: Any) -> None:
    source = "{% load paywall_tags %}{% entitled key %}yes{% else %}no{% endentitled %}"
    assert render(source, request_for(premium), key="content.premium") == "yes"
    assert render(source, request_for(premium), key="course.other") == "no"


def test_entitled_never_uses_up_a_download_quota(
    request_for: Any, premium: Any, program: Any
) -> None:
    source = '{% load paywall_tags %}{% entitled "downloads" %}yes{% endentitled %}'
    request = request_for(premium)
    for _ in range(20):
        assert render(source, request) == "yes"
    assert not member_context(request).usage


def test_entitled_costs_one_query_per_request_at_most(
    request_for: Any, premium: Any, django_assert_max_num_queries: Any, program: Any
) -> None:
    request = request_for(premium)
    with django_assert_max_num_queries(1):
        render(ENTITLED * 5, request)


def test_entitled_needs_exactly_one_key() -> None:
    with pytest.raises(TemplateSyntaxError, match="takes one argument"):
        Template("{% load paywall_tags %}{% entitled %}x{% endentitled %}")


def test_the_upsell_renders_nothing_when_access_is_granted(request_for: Any) -> None:
    decision = Decision(True, Reason.TIER)
    source = "{% load paywall_tags %}{% paywall_upsell %}"
    assert render(source, request_for(), paywall_decision=decision).strip() == ""


def test_the_upsell_lists_the_offers_of_a_denial(request_for: Any, program: Any) -> None:
    offers = program.catalog.offers_from_rank(1)
    decision = Decision(False, Reason.TIER_REQUIRED, True, offers)
    html = render("{% load paywall_tags %}{% paywall_upsell d %}", request_for(), d=decision)
    assert "Keep reading with a membership" in html
    assert "€5.00 a month" in html
    assert "€12.00 a month" in html


def test_the_upsell_is_a_labelled_region_with_a_heading(request_for: Any, program: Any) -> None:
    decision = Decision(False, Reason.TIER_REQUIRED, True, program.catalog.offers_from_rank(1))
    html = render("{% load paywall_tags %}{% paywall_upsell d %}", request_for(), d=decision)
    assert '<section class="paywall" aria-labelledby="paywall-heading"' in html
    assert '<h2 id="paywall-heading"' in html


def test_the_upsell_offers_a_sign_in_link_to_anonymous_visitors(request_for: Any) -> None:
    decision = Decision(False, Reason.LOGIN_REQUIRED, True)
    request = request_for(path="/long-read/")
    html = render("{% load paywall_tags %}{% paywall_upsell d %}", request, d=decision)
    assert "Sign in to keep reading" in html
    assert 'href="/accounts/login/?next=/long-read/"' in html


def test_the_upsell_is_translated(request_for: Any) -> None:
    decision = Decision(False, Reason.LOGIN_REQUIRED, True)
    with translation.override("de"):
        html = render("{% load paywall_tags %}{% paywall_upsell d %}", request_for(), d=decision)
    # The German catalogue ships with the app (docs/i18n.md).
    assert "Melden Sie sich an, um weiterzulesen" in html


def test_the_teaser_tag_shows_the_teaser_text_only_without_access(
    request_for: Any, make_article: Any, catalog: Any
) -> None:
    page = make_article(
        "tier", paywall_min_tier=catalog["premium"], paywall_teaser="Editor's teaser."
    )
    source = "{% load paywall_tags %}{% paywall_teaser page %}"
    page.paywall_decision = Decision(True, Reason.TIER)
    assert "Editor's teaser." not in render(source, request_for(), page=page)
    page.paywall_decision = Decision(False, Reason.TIER_REQUIRED, True)
    assert "Editor&#x27;s teaser." in render(source, request_for(), page=page)
