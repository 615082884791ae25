"""A site made by ``wagtail start``, with the paywall added by following
``docs/existing-site.md`` to the letter: its own tests pass, its checks say what the page
says, and a premium article's text reaches no visitor without access through the page,
Wagtail's stock API v2 or the stock search view.

The probes run inside the site (:mod:`tests.stock_site.probe`); each test here reads
what one channel answered one visitor.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from tests.stock_site import project
from tests.stock_site.docsteps import Block
from tests.stock_site.probe import CANARY, PREMIUM_WORD, TEASER_WORD

CHECK_ID = re.compile(r"\((wagtail_paywall\.[EW]\d{3})\)")
#: visitors without access to the premium article: nobody, and a member without a plan.
WITHOUT_ACCESS = ("anonymous", "member")
#: the stock API's views that carry the article's body, and what the subscriber must get.
API_WITH_BODY = (
    "api detail",
    "api detail, fields=*",
    "api listing, fields=body",
    "api listing, fields=*",
)


def paywall_checks(output: str) -> set[str]:
    return set(CHECK_ID.findall(output))


def visible_text(page: str) -> str:
    """What a reader sees of an HTML page: no styles, no tags, one space between words."""
    page = re.sub(r"<(style|script)\b.*?</\1>", " ", page, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def search_results(page: str) -> list[str]:
    """The URLs the stock search template lists, best first."""
    return re.findall(r'<h4><a href="([^"]+)"', page)


def answer(probed: Any, channel: str, persona: str) -> dict[str, Any]:
    found: dict[str, Any] = probed["responses"][channel][persona]
    assert found["status"] == 200, f"{channel} answered {persona} {found['status']}"
    return found


# -- the site's own test suite and checks ---------------------------------------------------
def test_the_sites_own_test_suite_passes_with_the_documented_test_settings(
    site: project.StockSite, steps: dict[str, Block], database: dict[str, str]
) -> None:
    (command,) = steps["test-command"].commands()
    result = site.manage(*command, "--verbosity=2", **database)
    assert result.returncode == 0, result.output
    # The stock tests and the page's own paywall test both ran, with DEBUG off.
    assert re.search(r"test_homepage_is_renderable .*\.\.\. ok", result.output), result.output
    assert re.search(
        r"test_a_visitor_reads_the_teaser_and_not_the_premium_part .*\.\.\. ok", result.output
    ), result.output
    if database:  # on PostgreSQL, in a test database of its own
        assert database["STOCK_SITE_TEST_DATABASE"] in result.output


def test_without_the_test_settings_the_suite_stops_at_the_fake_providers_check(
    site: project.StockSite, database: dict[str, str]
) -> None:
    """What step 10 says happens without its test settings."""
    result = site.manage("test", **database)
    assert result.returncode != 0
    assert "wagtail_paywall.E001" in paywall_checks(result.output), result.output


def test_check_in_development_reports_nothing_from_the_paywall(
    site: project.StockSite, steps: dict[str, Block]
) -> None:
    development, _production = steps["check"].commands()
    result = site.manage(*development)
    assert result.returncode == 0, result.output
    assert paywall_checks(result.output) == set(), result.output


def test_check_deploy_refuses_the_fake_provider_and_a_per_process_cache_in_production(
    site: project.StockSite, steps: dict[str, Block]
) -> None:
    _development, production = steps["check"].commands()
    result = site.manage(*production, STOCK_SITE_SECRET_KEY="x" * 60)
    assert result.returncode != 0, result.output
    assert paywall_checks(result.output) == {
        "wagtail_paywall.E001",
        "wagtail_paywall.E013",
        "wagtail_paywall.W001",
    }
    assert "Payment provider 'fake'" in result.output


def test_check_deploy_passes_with_the_documented_production_settings(
    site: project.StockSite, steps: dict[str, Block], production_settings: str
) -> None:
    pytest.importorskip("stripe", reason="the production example names Stripe")
    _development, production = steps["check"].commands()
    command = [
        a if not a.startswith("--settings=") else f"--settings={production_settings}"
        for a in production
    ]
    result = site.manage(
        *command,
        STOCK_SITE_SECRET_KEY="x" * 60,
        STRIPE_API_KEY="sk_test_stock_site",
        STRIPE_WEBHOOK_SECRET="whsec_stock_site",
        REDIS_URL="redis://127.0.0.1:6379/0",
    )
    assert result.returncode == 0, result.output
    assert paywall_checks(result.output) == set(), result.output


# -- the premium article through every channel ----------------------------------------------
def test_the_probes_ran_on_the_database_this_run_is_for(
    probed: Any, database: dict[str, str]
) -> None:
    assert probed["database"] == ("postgresql" if database else "sqlite")


@pytest.mark.parametrize("persona", WITHOUT_ACCESS)
def test_a_visitor_without_access_reads_the_teaser_of_the_article_and_not_its_premium_part(
    probed: Any, persona: str
) -> None:
    page = answer(probed, "page", persona)["text"]
    assert TEASER_WORD in page
    assert CANARY not in page


def test_a_subscriber_reads_the_whole_article(probed: Any) -> None:
    assert CANARY in answer(probed, "page", "subscriber")["text"]


@pytest.mark.parametrize("persona", WITHOUT_ACCESS)
@pytest.mark.parametrize("channel", [*API_WITH_BODY, "api listing"])
def test_the_stock_api_gives_a_visitor_without_access_no_premium_text(
    probed: Any, channel: str, persona: str
) -> None:
    assert CANARY not in answer(probed, channel, persona)["text"]


@pytest.mark.parametrize("channel", API_WITH_BODY)
def test_the_stock_api_gives_a_subscriber_the_whole_body(probed: Any, channel: str) -> None:
    assert CANARY in answer(probed, channel, "subscriber")["text"]


@pytest.mark.parametrize("persona", WITHOUT_ACCESS)
def test_the_stock_apis_search_finds_nothing_by_a_premium_word_for_a_visitor_without_access(
    probed: Any, persona: str
) -> None:
    found = answer(probed, "api search", persona)["text"]
    assert CANARY not in found
    assert probed["urls"]["article"] not in found


@pytest.mark.parametrize("persona", WITHOUT_ACCESS)
def test_the_stock_search_view_finds_nothing_by_a_premium_word_for_a_visitor_without_access(
    probed: Any, persona: str
) -> None:
    page = answer(probed, "search, premium word", persona)["text"]
    assert search_results(page) == []
    assert CANARY not in page
    assert PREMIUM_WORD in page  # the query itself is echoed: the page was the results page


@pytest.mark.parametrize("persona", WITHOUT_ACCESS)
def test_after_update_index_a_page_gated_in_code_is_not_found_by_its_premium_part(
    probed: Any, persona: str
) -> None:
    page = answer(probed, "search, word gated later", persona)["text"]
    assert search_results(page) == []
    assert probed["urls"]["gated later"] not in page


@pytest.mark.parametrize("persona", WITHOUT_ACCESS)
def test_the_stock_search_view_finds_the_article_by_its_teaser(probed: Any, persona: str) -> None:
    page = answer(probed, "search, teaser word", persona)["text"]
    assert search_results(page) == [probed["urls"]["article"]]


@pytest.mark.parametrize("persona", WITHOUT_ACCESS)
def test_premium_text_does_not_lift_the_article_in_the_stock_search_views_ranking(
    probed: Any, persona: str
) -> None:
    """The decoy says the word twice where anyone reads it, the article once in its
    teaser and twelve times behind the break: only the hidden words could rank it first."""
    results = search_results(answer(probed, "search, ranking word", persona)["text"])
    article, decoy = probed["urls"]["article"], probed["urls"]["decoy"]
    assert decoy in results
    if article in results:
        assert results.index(decoy) < results.index(article), results


@pytest.mark.parametrize(
    ("channel", "problem"),
    [
        ("search, unbalanced quote", "query has an unbalanced double quote"),
        ("search, null character", "query holds a null character"),
        ("search, 300 words", "query has more than 64 words"),
    ],
)
def test_the_search_view_answers_bad_input_400_naming_the_problem(
    probed: Any, channel: str, problem: str
) -> None:
    """Step 7's view, on SQLite and PostgreSQL: never a 500."""
    found = probed["responses"][channel]["anonymous"]
    assert found["status"] == 400, found
    assert f"Bad search: {problem}." in found["text"]


# -- providers --------------------------------------------------------------------------------
def test_a_price_without_a_provider_id_gives_the_error_the_page_quotes(
    probed: Any, steps: dict[str, Block]
) -> None:
    checkout = probed["checkout without a provider id"]
    pricing = checkout["pricing"]
    assert pricing["status"] == 200
    assert 'name="price" value="premium-monthly"' in pricing["text"]  # still offered
    assert checkout["status"] == 404
    shown = visible_text(checkout["text"])
    for line in steps["no-provider-id-error"].code.splitlines():
        assert line in shown, f"{line!r} is not on the page: {shown!r}"
