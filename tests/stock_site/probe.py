"""The leak probes, run inside the stock site: ``python -m tests.stock_site.probe OUT``.

In the site's own test settings (``DJANGO_SETTINGS_MODULE``), on a fresh test database
made the way Django's test runner makes one (its own SQLite, or PostgreSQL when the
site's settings say so) with ``DEBUG`` off, it publishes a premium article and a free
decoy made from the model of ``docs/existing-site.md``, creates the catalog with the
page's own code, asks every channel as an anonymous visitor, a member without a plan and
a subscriber, and writes each response to ``OUT`` as JSON. The tests in
:mod:`.test_stock_site` judge them; this script asserts nothing, so one run serves every
test.
"""

from __future__ import annotations

import json
import sys
from typing import Any

#: In the premium part only: nobody without access may receive it, or find the page by it.
CANARY = "CANARY-STOCKSITE-marzipanvault"
PREMIUM_WORD = "marzipanvault"
#: Behind the break of an article published free, then gated in code without publishing it
#: again: once step 7's ``update_index`` has run, nobody without access finds it by this.
GATED_LATER_WORD = "quincelantern"
#: In the teaser only: search must find the article by it (so "not found" means something).
TEASER_WORD = "kelpwise"
#: In both articles: the decoy says it twice where anyone can read it, the premium article
#: once in its teaser and many times behind the break.
RANKING_WORD = "harbour"

ARTICLE_SLUG = "members-report"
DECOY_SLUG = "harbour-guide"
GATED_LATER_SLUG = "archive-report"


def _content() -> dict[str, Any]:
    from home.models import ArticlePage  # the model of docs/existing-site.md, step 4
    from wagtail.models import Site
    from wagtail.rich_text import RichText

    home = Site.objects.get(is_default_site=True).root_page
    premium_part = " ".join([CANARY, *[RANKING_WORD] * 12, PREMIUM_WORD])
    article = home.add_child(
        instance=ArticlePage(
            title="Members report",
            slug=ARTICLE_SLUG,
            paywall_rule="tier",
            paywall_min_tier_id="premium",
            body=[
                ("heading", "Tides"),
                ("paragraph", RichText(f"<p>The {RANKING_WORD} opens at dawn, {TEASER_WORD}.</p>")),
                ("paywall", None),
                ("paragraph", RichText(f"<p>{premium_part}</p>")),
            ],
        )
    )
    decoy = home.add_child(
        instance=ArticlePage(
            title="Visitors guide",
            slug=DECOY_SLUG,
            paywall_rule="public",
            body=[("paragraph", RichText(f"<p>The {RANKING_WORD}, the {RANKING_WORD}.</p>"))],
        )
    )
    return {"article": article, "decoy": decoy, "gated later": _gated_later(home)}


def _gated_later(home: Any) -> Any:
    """An article published free (indexed whole), then gated by a bulk change in code,
    which publishes nothing; then step 7's commands, as the page gives them."""
    from django.core.management import call_command
    from home.models import ArticlePage
    from wagtail.rich_text import RichText

    from tests.stock_site.docsteps import blocks

    page = home.add_child(
        instance=ArticlePage(
            title="Archive report",
            slug=GATED_LATER_SLUG,
            paywall_rule="public",
            body=[
                ("paragraph", RichText("<p>From the archive.</p>")),
                ("paywall", None),
                ("paragraph", RichText(f"<p>{CANARY} {GATED_LATER_WORD}</p>")),
            ],
        )
    )
    ArticlePage.objects.filter(pk=page.pk).update(
        paywall_rule="tier", paywall_min_tier_id="premium"
    )
    for command in blocks()["update-index"].commands():
        call_command(*command, verbosity=0)
    return ArticlePage.objects.get(pk=page.pk)


def _catalog() -> None:
    """Step 8's code, as the page gives it."""
    from tests.stock_site.docsteps import blocks

    exec(compile(blocks()["catalog"].code, "docs/existing-site.md#catalog", "exec"), {})


def _users() -> dict[str, Any]:
    from django.contrib.auth import get_user_model

    from membership_sdk import GrantKind
    from wagtail_paywall.program import get_program

    user_model = get_user_model()
    member = user_model.objects.create_user("reader", "reader@example.com", "x")
    subscriber = user_model.objects.create_user("subscriber", "subscriber@example.com", "x")
    get_program().grant(str(subscriber.pk), GrantKind.COMP, tier="premium", days=30)
    return {"anonymous": None, "member": member, "subscriber": subscriber}


def _channels(article: Any) -> dict[str, tuple[str, dict[str, Any]]]:
    typed = {"type": "home.ArticlePage"}
    return {
        "page": (article.url, {}),
        "api detail": (f"/api/v2/pages/{article.pk}/", {}),
        "api detail, fields=*": (f"/api/v2/pages/{article.pk}/", {"fields": "*"}),
        "api listing": ("/api/v2/pages/", {}),
        "api listing, fields=body": ("/api/v2/pages/", {**typed, "fields": "body"}),
        "api listing, fields=*": ("/api/v2/pages/", {**typed, "fields": "*"}),
        "api search": ("/api/v2/pages/", {**typed, "fields": "*", "search": PREMIUM_WORD}),
        "search, premium word": ("/search/", {"query": PREMIUM_WORD}),
        "search, teaser word": ("/search/", {"query": TEASER_WORD}),
        "search, ranking word": ("/search/", {"query": RANKING_WORD}),
        "search, word gated later": ("/search/", {"query": GATED_LATER_WORD}),
        # Bad input: what SQLite's full-text syntax and PostgreSQL cannot take.
        "search, unbalanced quote": ("/search/", {"query": 'churn "'}),
        "search, null character": ("/search/", {"query": "churn\x00"}),
        "search, 300 words": ("/search/", {"query": " ".join(["churn"] * 300)}),
    }


def _checkout_without_provider_id(member: Any) -> dict[str, Any]:
    """Step 8: a member chooses a price that has no id for the provider."""
    from tests.wagtail.leak_matrix import client_for, read
    from wagtail_paywall.models import Price

    price = Price.objects.get(key="premium-monthly")
    price.provider_ids = {}
    price.save()  # as the admin's price form does
    client = client_for(member)
    client.raise_request_exception = False
    pricing = client.get("/paywall/pricing/")
    response = client.post("/paywall/checkout/", {"price": "premium-monthly"})
    return {
        "pricing": {"status": pricing.status_code, "text": read(pricing)},
        "status": response.status_code,
        "text": read(response),
    }


def probe() -> dict[str, Any]:
    from tests.wagtail.leak_matrix import client_for, read

    _catalog()
    pages = _content()
    users = _users()
    article = pages["article"]
    responses: dict[str, dict[str, Any]] = {}
    for channel, (url, query) in _channels(article).items():
        responses[channel] = {}
        for persona, user in users.items():
            client = client_for(user)
            client.raise_request_exception = False
            response = client.get(url, query)
            responses[channel][persona] = {"status": response.status_code, "text": read(response)}
    from django.db import connection

    return {
        "database": connection.vendor,
        "urls": {name: page.url for name, page in pages.items()},
        "titles": {name: page.title for name, page in pages.items()},
        "responses": responses,
        "checkout without a provider id": _checkout_without_provider_id(users["member"]),
    }


def main(out: str) -> None:
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    setup_test_environment(debug=False)  # DEBUG off, as manage.py test turns it off
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        found = probe()
    finally:
        connection.creation.destroy_test_db(name, verbosity=0)
        teardown_test_environment()
    with open(out, "w", encoding="utf-8") as file:
        json.dump(found, file)


if __name__ == "__main__":
    main(sys.argv[1])
