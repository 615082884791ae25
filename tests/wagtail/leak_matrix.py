"""The leak matrix: canaries, personas and channels, as data.

Unique canary strings are planted in every kind of gated content the paywall guards.
Each persona asks each channel for each piece of content, and the response is searched
for every canary the persona may not read. A channel meant to carry the full content
must also show it to the entitled control, so a channel that hides everything (a
broken page) cannot pass as safe.

Adding a channel, a persona or a canary is one line in :data:`CHANNELS`,
:data:`PERSONAS` or :data:`CANARIES`. The size and the result of the matrix are printed
at the end of the run (``pytest_terminal_summary``).

Its fixtures and the summary live in :mod:`tests.wagtail.leak_fixtures`, which test
modules load with ``pytest_plugins``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from django.conf import settings
from django.core.files.base import ContentFile
from django.test import Client, override_settings

from tests.wagtail.gating_helpers import TEASER, body

# -- what a channel is meant to show the entitled control ------------------------------------
#: the whole content: the entitled control must find the canary, nobody else may.
FULL = "full"
#: at most a teaser: nobody without access may find the canary; the control is not asked.
TEASER_ONLY = "teaser"
#: never the content, to anyone (not even the entitled control).
NOTHING = "nothing"

PAGE = "page"
#: a block of a page's template (``{% entitled %}``), not of its data: only channels
#: that render the page's template carry it.
BLOCK = "block"
DOCUMENT = "document"


# -- canaries ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Canary:
    name: str
    token: str
    kind: str
    #: persona -> may read it: True (must see it on FULL channels), False (must never see
    #: it), None (depends on the channel, e.g. a free metered read; not asserted).
    access: Mapping[str, bool | None]


ENTITLED_ONLY: Mapping[str, bool | None] = {"entitled": True}
METERED: Mapping[str, bool | None] = {
    "entitled": True,
    "metered_out": False,
    # Free reads are left: whether a channel spends one is the channel's business.
    "anonymous": None,
    "free_member": None,
    "lapsed": None,
    "wrong_tier": None,
}

#: nobody may read it: not even the entitled control (e.g. an unpublished draft).
NOBODY: Mapping[str, bool | None] = {}

CANARIES: tuple[Canary, ...] = (
    Canary("premium article", "CANARY-PREMIUM-7f3a", PAGE, ENTITLED_ONLY),
    Canary("gated block in a free article", "CANARY-BLOCK-2c9e", BLOCK, ENTITLED_ONLY),
    Canary("premium course lesson", "CANARY-LESSON-5b1d", PAGE, ENTITLED_ONLY),
    Canary("premium document", "CANARY-DOC-9e44", DOCUMENT, ENTITLED_ONLY),
    Canary("purchase-only article", "CANARY-PURCHASE-3a8c", PAGE, ENTITLED_ONLY),
    Canary("metered article", "CANARY-METERED-6d02", PAGE, METERED),
    Canary("unpublished draft of a premium article", "CANARY-DRAFT-8b17", PAGE, NOBODY),
)


def may_read(canary: Canary, persona: str) -> bool | None:
    return canary.access.get(persona, False)


# -- personas ---------------------------------------------------------------------------------
#: persona -> the fixture of its user (``None``: an anonymous visitor).
PERSONAS: Mapping[str, str | None] = {
    "anonymous": None,
    "free_member": "reader",
    "lapsed": "lapsed",  # canceled, paid period ended ten days ago (past grace)
    "wrong_tier": "supporter",
    "metered_out": "metered_out",
    "entitled": "entitled",  # the control: Premium, and bought the purchase-only article
}

PURCHASE_ITEM = "article:leak-matrix"


# -- targets: where each canary was planted ---------------------------------------------------
@dataclass
class Target:
    canary: Canary
    obj: Any  # the page or document
    url: str  # where a reader opens it
    entitled: Any  # the entitled control's user, for channels that warm a cache as them

    @property
    def kind(self) -> str:
        return self.canary.kind

    @property
    def is_page(self) -> bool:
        return self.kind in (PAGE, BLOCK)


def read(response: Any) -> str:
    """The body of ``response`` as text, streamed or not."""
    if getattr(response, "streaming", False):
        data = b"".join(response.streaming_content)
    else:
        data = bytes(response.content)
    return data.decode("utf-8", errors="replace")


def client_for(user: Any) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


# -- channels ---------------------------------------------------------------------------------
def page_html(client: Client, target: Target) -> str:
    """The served page as a browser with scripts off gets it: every byte of the HTML."""
    return read(client.get(target.url))


def below_the_page_404(client: Client, target: Target) -> str:
    if not target.is_page:
        return read(client.get(f"/documents/{target.obj.pk}/not-{target.obj.filename}"))
    return read(client.get(f"{target.url}no-such-page/"))


def error_while_serving(client: Client, target: Target) -> str:
    """A 500: the page's context fails after the gate has run."""
    page_class = type(target.obj)
    client.raise_request_exception = False
    try:
        with mock.patch.object(page_class, "get_context", side_effect=RuntimeError("boom")):
            return read(client.get(target.url))
    finally:
        client.raise_request_exception = True


def admin_previews(client: Client, target: Target) -> str:
    """Previews, drafts and revisions in the admin, asked by someone who is no editor."""
    obj = target.obj
    if not target.is_page:
        urls = [f"/admin/documents/edit/{obj.pk}/", "/admin/documents/"]
    else:
        revision = obj.latest_revision_id
        urls = [
            f"/admin/pages/{obj.pk}/view_draft/",
            f"/admin/pages/{obj.pk}/edit/preview/",
            f"/admin/pages/{obj.pk}/revisions/{revision}/view/",
            f"/admin/pages/{obj.pk}/history/",
        ]
    return "\n".join(read(client.get(url)) for url in urls)


def document_url(client: Client, target: Target) -> str:
    """The document's Wagtail URL (its serve view)."""
    return read(client.get(target.url))


def raw_media_url(client: Client, target: Target) -> str:
    """The file under ``MEDIA_URL``, bypassing the serve view."""
    return read(client.get(f"{settings.MEDIA_URL}{target.obj.file.name}"))


Fetch = Callable[[Client, "Target"], str]

UPDATE_CACHE = "django.middleware.cache.UpdateCacheMiddleware"
FETCH_FROM_CACHE = "django.middleware.cache.FetchFromCacheMiddleware"


def cache_middleware(client: Client, target: Target) -> str:
    """Django's site-wide cache middleware: the entitled control reads it first."""
    return warmed_by_control(page_html)(client, target)


def warmed_by_control(fetch: Fetch) -> Fetch:
    """``fetch`` through Django's site-wide cache middleware, after the entitled control
    asked the same channel for the same content."""

    def warmed(client: Client, target: Target) -> str:
        middleware = [UPDATE_CACHE, *settings.MIDDLEWARE, FETCH_FROM_CACHE]
        with override_settings(
            MIDDLEWARE=middleware,
            CACHE_MIDDLEWARE_SECONDS=600,
            CACHE_MIDDLEWARE_KEY_PREFIX=f"leak-{uuid.uuid4().hex}",
        ):
            fetch(client_for(target.entitled), target)
            return fetch(client, target)

    return warmed


def cache_page_view(client: Client, target: Target) -> str:
    """Wagtail's page and document views wrapped in ``cache_page``; the control reads first."""
    with override_settings(ROOT_URLCONF="tests.wagtail.leak_urls"):
        client_for(target.entitled).get(target.url)
        return read(client.get(target.url))


def head_markup(client: Client, target: Target) -> str:
    """What crawlers and link previews read: the meta tags, OpenGraph and JSON-LD."""
    html = page_html(client, target)
    head = html.split("</head>", 1)[0]
    json_ld = re.findall(r'<script type="application/ld\+json">.*?</script>', html, re.S)
    return "\n".join([head, *json_ld])


def page_type(target: Target) -> str:
    """The API's ``type`` filter for the target's page model (``fields=*`` lists its
    own fields only with it)."""
    return target.obj._meta.label


def api_listing(client: Client, target: Target) -> str:
    query = {"type": page_type(target), "fields": "*", "limit": 20}
    return read(client.get("/api/v2/pages/", query))


def api_detail(client: Client, target: Target) -> str:
    return read(client.get(f"/api/v2/pages/{target.obj.pk}/"))


def search_term(target: Target) -> str:
    """A word found only in the canary (never the whole canary: pages echo the query)."""
    return target.canary.token.rsplit("-", 1)[1]


def api_search(client: Client, target: Target) -> str:
    query = {"type": page_type(target), "search": search_term(target), "fields": "*"}
    return read(client.get("/api/v2/pages/", query))


def stock_api_listing(client: Client, target: Target, fields: str = "*") -> str:
    """Wagtail's own ``PagesAPIViewSet``, routed as ``wagtail start`` routes it."""
    query = {"type": page_type(target), "fields": fields, "limit": 20}
    return read(client.get("/stock-api/v2/pages/", query))


def stock_api_listing_body(client: Client, target: Target) -> str:
    return stock_api_listing(client, target, "body")


def stock_api_detail(client: Client, target: Target) -> str:
    return read(client.get(f"/stock-api/v2/pages/{target.obj.pk}/"))


def stock_api_search(client: Client, target: Target) -> str:
    query = {"type": page_type(target), "search": search_term(target), "fields": "*"}
    return read(client.get("/stock-api/v2/pages/", query))


#: A word no page holds: the control query of :func:`ranking_oracle`.
ABSENT_WORD = "qzxwvj"
#: A word every canary page's teaser holds.
PUBLIC_WORD = "teaser"


def ranked_ids(client: Client, url: str, query: str) -> tuple[list[int], str]:
    """The ids of the pages an API search ``or`` finds for ``query``, best first, and
    the response's text."""
    text = read(client.get(url, {"search": query, "search_operator": "or", "limit": 20}))
    return [item["id"] for item in json.loads(text)["items"]], text


def ranking_oracle(url: str) -> Fetch:
    """The API search at ``url`` for a public word or a word of the canary, compared with
    the same search for a word no page holds: if the canary's word changes which pages
    are found or their order, the returned text names the canary (a leak)."""

    def fetch(client: Client, target: Target) -> str:
        found, text = ranked_ids(client, url, f"{PUBLIC_WORD} {search_term(target)}")
        control, _ = ranked_ids(client, url, f"{PUBLIC_WORD} {ABSENT_WORD}")
        if found != control:
            text += (
                f"\nthe results moved with a word of {target.canary.token}: {found} != {control}"
            )
        return text

    return fetch


def own_search_membership(client: Client, target: Target) -> str:
    """A site's own search view, ``Page.objects.live().search(q)`` as ``wagtail start``
    writes it, where nothing but the index keeps premium words out: a public word and a
    word of the canary find exactly what the public word and a word no page holds find."""
    found = read(client.get("/search/", {"query": f"{PUBLIC_WORD} {search_term(target)}"}))
    control = read(client.get("/search/", {"query": f"{PUBLIC_WORD} {ABSENT_WORD}"}))
    pages = re.findall(r'data-page="(\d+)"', found)
    if pages != re.findall(r'data-page="(\d+)"', control):
        found += f"\nthe results moved with a word of {target.canary.token}: {pages}"
    return found


def site_search(client: Client, target: Target) -> str:
    """The search results page and its snippets, searched for a word of the canary."""
    return read(client.get("/paywall/search/", {"q": search_term(target)}))


def sitemap(client: Client, target: Target) -> str:
    return read(client.get("/sitemap.xml"))


def public_feeds(client: Client, target: Target) -> str:
    return read(client.get("/paywall/feeds/rss/")) + read(client.get("/paywall/feeds/atom/"))


def _member(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


def member_feeds(client: Client, target: Target) -> str:
    """The persona's own signed feed URLs (a guessed token for a visitor who has none)."""
    from wagtail_paywall.models import FeedToken

    member = _member(client)
    # Only a token's digest is stored: a fresh one is the way to hold its raw token.
    key = FeedToken.issue(member)[1] if member else "guessed-" + uuid.uuid4().hex
    rss = read(client.get(f"/paywall/feeds/member/{key}/rss/"))
    return rss + read(client.get(f"/paywall/feeds/member/{key}/atom/"))


def revoked_member_feeds(client: Client, target: Target) -> str:
    """The persona's signed feed URLs after the member revoked them."""
    from wagtail_paywall.models import FeedToken

    member = _member(client)
    if member is None:
        return ""
    row, token = FeedToken.issue(member)
    row.revoke()
    rss = read(client.get(f"/paywall/feeds/member/{token}/rss/"))
    return rss + read(client.get(f"/paywall/feeds/member/{token}/atom/"))


@dataclass(frozen=True)
class Channel:
    name: str
    fetch: Callable[[Client, Target], str]
    shows: str
    #: the kinds of content it is asked for; any other is "not applicable".
    kinds: frozenset[str]


EVERYTHING = frozenset({PAGE, BLOCK, DOCUMENT})
RENDERED = frozenset({PAGE, BLOCK})  # the page's template is rendered
PAGE_DATA = frozenset({PAGE})  # the page's fields, without its template
DOCUMENTS = frozenset({DOCUMENT})

CHANNELS: tuple[Channel, ...] = (
    Channel("page HTML, scripts off", page_html, FULL, RENDERED),
    Channel("meta description, OpenGraph, JSON-LD", head_markup, NOTHING, RENDERED),
    Channel("404 below it", below_the_page_404, NOTHING, EVERYTHING),
    Channel("500 while serving it", error_while_serving, NOTHING, RENDERED),
    Channel("admin previews and revisions (no editor)", admin_previews, NOTHING, EVERYTHING),
    Channel("document's Wagtail URL", document_url, FULL, DOCUMENTS),
    Channel("raw media URL", raw_media_url, NOTHING, DOCUMENTS),
    Channel("API v2 listing, fields=*", api_listing, FULL, PAGE_DATA),
    Channel("API v2 detail", api_detail, FULL, PAGE_DATA),
    # The index holds only what anyone may read of a gated page: nobody finds it by a
    # premium word, the entitled control neither (docs/channels.md, Site search).
    Channel("API v2 search", api_search, TEASER_ONLY, PAGE_DATA),
    Channel("site search results and snippets", site_search, TEASER_ONLY, PAGE_DATA),
    Channel("stock API v2 listing, fields=*", stock_api_listing, FULL, PAGE_DATA),
    Channel("stock API v2 listing, fields=body", stock_api_listing_body, FULL, PAGE_DATA),
    Channel("stock API v2 detail", stock_api_detail, FULL, PAGE_DATA),
    Channel("stock API v2 search", stock_api_search, TEASER_ONLY, PAGE_DATA),
    Channel(
        "search ranking, API search_operator=or",
        ranking_oracle("/api/v2/pages/"),
        TEASER_ONLY,
        PAGE_DATA,
    ),
    Channel(
        "search ranking, stock API search_operator=or",
        ranking_oracle("/stock-api/v2/pages/"),
        TEASER_ONLY,
        PAGE_DATA,
    ),
    Channel("search results, site's own view", own_search_membership, TEASER_ONLY, PAGE_DATA),
    Channel("sitemap", sitemap, NOTHING, PAGE_DATA),
    Channel("public RSS and Atom feeds", public_feeds, NOTHING, PAGE_DATA),
    Channel("member's signed feeds", member_feeds, FULL, PAGE_DATA),
    Channel("member's feeds after revoking them", revoked_member_feeds, NOTHING, PAGE_DATA),
    Channel("cache middleware warmed by the control", cache_middleware, FULL, EVERYTHING),
    Channel("cache_page warmed by the control", cache_page_view, FULL, EVERYTHING),
    Channel("API v2 detail, cache warmed", warmed_by_control(api_detail), FULL, PAGE_DATA),
    Channel("API v2 listing, cache warmed", warmed_by_control(api_listing), FULL, PAGE_DATA),
    Channel("site search, cache warmed", warmed_by_control(site_search), TEASER_ONLY, PAGE_DATA),
    Channel("public feeds, cache warmed", warmed_by_control(public_feeds), NOTHING, PAGE_DATA),
)


# -- planting the canaries --------------------------------------------------------------------
def _premium_article(world: World) -> Target:
    page = world.make_article(
        "tier",
        title="Premium article",
        slug="premium-article",
        paywall_min_tier=world.catalog["premium"],
        body=body(TEASER, f"The premium part: {CANARIES[0].token}."),
        premium_note=f"A premium note: {CANARIES[0].token}.",
    )
    return Target(CANARIES[0], page, page.url, world.entitled)


def _free_article(world: World) -> Target:
    # Its gated block is the template's members' corner, for holders of its entitlement.
    page = world.make_article(
        "public", title="Free article", slug="free-article", paywall_entitlement="content.premium"
    )
    return Target(CANARIES[1], page, page.url, world.entitled)


def _lesson(world: World) -> Target:
    course = world.make_course("tier", paywall_min_tier=world.catalog["premium"])
    lesson = world.make_lesson(
        course, title="Lesson one", slug="lesson-one", body=body(TEASER, CANARIES[2].token)
    )
    return Target(CANARIES[2], lesson, lesson.url, world.entitled)


def _document(world: World) -> Target:
    from django.urls import reverse

    from tests.wagtail.testapp.models import PaywalledDocument

    document = PaywalledDocument(
        title="Premium report", paywall_rule="tier", paywall_min_tier=world.catalog["premium"]
    )
    content = f"%PDF-1.7 {CANARIES[3].token}".encode()
    document.file.save("premium-report.pdf", ContentFile(content), save=False)
    document.save()
    url = reverse("wagtaildocs_serve", args=(document.pk, document.filename))
    return Target(CANARIES[3], document, url, world.entitled)


def _purchase_article(world: World) -> Target:
    page = world.make_article(
        "purchase",
        title="Purchase-only article",
        slug="purchase-article",
        paywall_purchase_item=PURCHASE_ITEM,
        body=body(TEASER, CANARIES[4].token),
    )
    return Target(CANARIES[4], page, page.url, world.entitled)


def _metered_article(world: World) -> Target:
    page = world.make_article(
        "metered",
        title="Metered article",
        slug="metered-article",
        paywall_min_tier=world.catalog["premium"],
        paywall_meter_free=3,
        body=body(TEASER, CANARIES[5].token),
    )
    return Target(CANARIES[5], page, page.url, world.entitled)


def _draft(world: World) -> Target:
    page = world.make_article(
        "tier",
        title="Drafted article",
        slug="drafted-article",
        paywall_min_tier=world.catalog["premium"],
    )
    # An editor's unpublished change: only editors may see it, in the admin.
    page.body = body(TEASER, CANARIES[6].token)
    page.premium_note = CANARIES[6].token
    page.save_revision()
    return Target(CANARIES[6], page, page.url, world.entitled)


PLANT: Mapping[str, Callable[[World], Target]] = {
    CANARIES[0].name: _premium_article,
    CANARIES[1].name: _free_article,
    CANARIES[2].name: _lesson,
    CANARIES[3].name: _document,
    CANARIES[4].name: _purchase_article,
    CANARIES[5].name: _metered_article,
    CANARIES[6].name: _draft,
}


@dataclass
class World:
    catalog: Mapping[str, Any]
    entitled: Any
    make_article: Callable[..., Any]
    make_course: Callable[..., Any]
    make_lesson: Callable[..., Any]
    targets: list[Target] = field(default_factory=list)


# -- judging one response, and the tally printed at the end -----------------------------------
@dataclass(frozen=True)
class Outcome:
    channel: str
    persona: str
    canary: str
    result: str  # "ok", "leak", "false positive" or "n/a" (the channel has no such content)
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.result in ("leak", "false positive")


OUTCOMES: list[Outcome] = []


def judge(channel: Channel, persona: str, target: Target, text: str | None) -> Outcome:
    """The outcome of one (channel, persona, canary) check; records it for the summary.

    A leak is any canary in ``text`` the persona may not read (not only the target's:
    a page that shows another page's premium part leaks too); on a :data:`NOTHING`
    channel every canary is a leak, even for the control.
    """
    if text is None:
        outcome = Outcome(channel.name, persona, target.canary.name, "n/a")
        OUTCOMES.append(outcome)
        return outcome
    found = []
    for canary in CANARIES:
        if canary.token not in text:
            continue
        allowed = may_read(canary, persona)
        if channel.shows == NOTHING or allowed is False:
            found.append(canary.name)
    if found:
        outcome = Outcome(
            channel.name, persona, target.canary.name, "leak", f"found {', '.join(found)}"
        )
    elif (
        channel.shows == FULL
        and may_read(target.canary, persona) is True
        and target.canary.token not in text
    ):
        outcome = Outcome(
            channel.name, persona, target.canary.name, "false positive", "content missing"
        )
    else:
        outcome = Outcome(channel.name, persona, target.canary.name, "ok")
    OUTCOMES.append(outcome)
    return outcome
