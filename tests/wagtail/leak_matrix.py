"""The leak matrix: canaries, personas and channels, as data.

Unique canary strings are planted in every kind of gated content the paywall guards.
Each persona asks each channel for each piece of content, and the response is searched
for every canary the persona may not read. A channel meant to carry the full content
must also show it to the entitled control, so a channel that hides everything (a
broken page) cannot pass as safe.

Adding a channel, a persona or a canary is one line in :data:`CHANNELS`,
:data:`PERSONAS` or :data:`CANARIES`. The size and the result of the matrix are printed
at the end of the run (``pytest_terminal_summary``).

The matrix runs against two sites, each described by a :class:`SiteProfile`: the test
site (:data:`TEST_SITE`, ``tests/wagtail``) and a project made by ``wagtail start`` with
the paywall added as ``docs/existing-site.md`` says (``tests/stock_site``). A profile
says which canaries the site can hold and how they are planted, which channels it has,
and where they are routed; the channels and the judge are the same for both.

Its fixtures and the summary live in :mod:`tests.wagtail.leak_fixtures`, which test
modules load with ``pytest_plugins``. This module imports no model at import time, so a
process without Django settings (the stock site's outer test run) can read the profiles.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from django.conf import settings
from django.core.files.base import ContentFile
from django.test import Client, override_settings

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
    site: SiteProfile  # where the site routes its channels

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
    with override_settings(ROOT_URLCONF=target.site.cache_page_urlconf):
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
    return read(client.get(target.site.paywall_api, query))


def api_detail(client: Client, target: Target) -> str:
    return read(client.get(f"{target.site.paywall_api}{target.obj.pk}/"))


def search_term(target: Target) -> str:
    """A word found only in the canary (never the whole canary: pages echo the query)."""
    return target.canary.token.rsplit("-", 1)[1]


def api_search(client: Client, target: Target) -> str:
    query = {"type": page_type(target), "search": search_term(target), "fields": "*"}
    return read(client.get(target.site.paywall_api, query))


def stock_api_listing(client: Client, target: Target, fields: str = "*") -> str:
    """Wagtail's own ``PagesAPIViewSet``, routed as the site routes it."""
    query = {"type": page_type(target), "fields": fields, "limit": 20}
    return read(client.get(target.site.stock_api, query))


def stock_api_listing_body(client: Client, target: Target) -> str:
    return stock_api_listing(client, target, "body")


def stock_api_detail(client: Client, target: Target) -> str:
    return read(client.get(f"{target.site.stock_api}{target.obj.pk}/"))


def stock_api_search(client: Client, target: Target) -> str:
    query = {"type": page_type(target), "search": search_term(target), "fields": "*"}
    return read(client.get(target.site.stock_api, query))


#: A word no page holds: the control query of :func:`ranking_oracle`.
ABSENT_WORD = "qzxwvj"
#: A word every canary page's teaser holds.
PUBLIC_WORD = "teaser"


def ranked_ids(client: Client, url: str, query: str) -> tuple[list[int], str]:
    """The ids of the pages an API search ``or`` finds for ``query``, best first, and
    the response's text."""
    text = read(client.get(url, {"search": query, "search_operator": "or", "limit": 20}))
    return [item["id"] for item in json.loads(text)["items"]], text


def ranking_oracle(endpoint: Callable[[SiteProfile], str]) -> Fetch:
    """The API search at the site's ``endpoint`` for a public word or a word of the
    canary, compared with the same search for a word no page holds: if the canary's word
    changes which pages are found or their order, the returned text names the canary (a
    leak)."""

    def fetch(client: Client, target: Target) -> str:
        url = endpoint(target.site)
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
    view = target.site.own_search
    found = read(client.get(view.url, {view.param: f"{PUBLIC_WORD} {search_term(target)}"}))
    control = read(client.get(view.url, {view.param: f"{PUBLIC_WORD} {ABSENT_WORD}"}))
    pages = re.findall(view.results, found)
    if pages != re.findall(view.results, control):
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
    #: a part of the site the channel needs (see :attr:`SiteProfile.features`); ``None``:
    #: every site with the paywall installed as the docs say has it.
    needs: str | None = None


EVERYTHING = frozenset({PAGE, BLOCK, DOCUMENT})
RENDERED = frozenset({PAGE, BLOCK})  # the page's template is rendered
PAGE_DATA = frozenset({PAGE})  # the page's fields, without its template
DOCUMENTS = frozenset({DOCUMENT})

#: the paywall's own ``PaywalledPagesAPIViewSet``, routed by the site itself.
PAYWALL_API = "paywall API"
#: Wagtail's sitemap (``wagtail.contrib.sitemaps``).
SITEMAP = "sitemap"


def _paywall_api(site: SiteProfile) -> str:
    return site.paywall_api


def _stock_api(site: SiteProfile) -> str:
    return site.stock_api


CHANNELS: tuple[Channel, ...] = (
    Channel("page HTML, scripts off", page_html, FULL, RENDERED),
    Channel("meta description, OpenGraph, JSON-LD", head_markup, NOTHING, RENDERED),
    Channel("404 below it", below_the_page_404, NOTHING, EVERYTHING),
    Channel("500 while serving it", error_while_serving, NOTHING, RENDERED),
    Channel("admin previews and revisions (no editor)", admin_previews, NOTHING, EVERYTHING),
    Channel("document's Wagtail URL", document_url, FULL, DOCUMENTS),
    Channel("raw media URL", raw_media_url, NOTHING, DOCUMENTS),
    Channel("API v2 listing, fields=*", api_listing, FULL, PAGE_DATA, PAYWALL_API),
    Channel("API v2 detail", api_detail, FULL, PAGE_DATA, PAYWALL_API),
    # The index holds only what anyone may read of a gated page: nobody finds it by a
    # premium word, the entitled control neither (docs/channels.md, Site search).
    Channel("API v2 search", api_search, TEASER_ONLY, PAGE_DATA, PAYWALL_API),
    Channel("site search results and snippets", site_search, TEASER_ONLY, PAGE_DATA),
    Channel("stock API v2 listing, fields=*", stock_api_listing, FULL, PAGE_DATA),
    Channel("stock API v2 listing, fields=body", stock_api_listing_body, FULL, PAGE_DATA),
    Channel("stock API v2 detail", stock_api_detail, FULL, PAGE_DATA),
    Channel("stock API v2 search", stock_api_search, TEASER_ONLY, PAGE_DATA),
    Channel(
        "search ranking, API search_operator=or",
        ranking_oracle(_paywall_api),
        TEASER_ONLY,
        PAGE_DATA,
        PAYWALL_API,
    ),
    Channel(
        "search ranking, stock API search_operator=or",
        ranking_oracle(_stock_api),
        TEASER_ONLY,
        PAGE_DATA,
    ),
    Channel("search results, site's own view", own_search_membership, TEASER_ONLY, PAGE_DATA),
    Channel("sitemap", sitemap, NOTHING, PAGE_DATA, SITEMAP),
    Channel("public RSS and Atom feeds", public_feeds, NOTHING, PAGE_DATA),
    Channel("member's signed feeds", member_feeds, FULL, PAGE_DATA),
    Channel("member's feeds after revoking them", revoked_member_feeds, NOTHING, PAGE_DATA),
    Channel("cache middleware warmed by the control", cache_middleware, FULL, EVERYTHING),
    Channel("cache_page warmed by the control", cache_page_view, FULL, EVERYTHING),
    Channel(
        "API v2 detail, cache warmed", warmed_by_control(api_detail), FULL, PAGE_DATA, PAYWALL_API
    ),
    Channel(
        "API v2 listing, cache warmed",
        warmed_by_control(api_listing),
        FULL,
        PAGE_DATA,
        PAYWALL_API,
    ),
    Channel(
        "stock API v2 detail, cache warmed", warmed_by_control(stock_api_detail), FULL, PAGE_DATA
    ),
    Channel(
        "stock API v2 listing, cache warmed",
        warmed_by_control(stock_api_listing),
        FULL,
        PAGE_DATA,
    ),
    Channel("site search, cache warmed", warmed_by_control(site_search), TEASER_ONLY, PAGE_DATA),
    Channel("public feeds, cache warmed", warmed_by_control(public_feeds), NOTHING, PAGE_DATA),
)


# -- planting the canaries --------------------------------------------------------------------
def premium_article(note_field: str | None = "premium_note") -> Callable[[World], Target]:
    """The premium article: its canary below the paywall break, and in ``note_field`` (a
    premium field of the page model) when the site's model has one."""

    def plant(world: World) -> Target:
        from tests.wagtail.gating_helpers import TEASER, body

        canary = CANARIES[0]
        fields = {note_field: f"A premium note: {canary.token}."} if note_field else {}
        page = world.make_article(
            "tier",
            title="Premium article",
            slug="premium-article",
            paywall_min_tier=world.catalog["premium"],
            body=body(TEASER, f"The premium part: {canary.token}."),
            **fields,
        )
        return Target(canary, page, page.url, world.entitled, world.site)

    return plant


def _free_article(world: World) -> Target:
    # Its gated block is the template's members' corner, for holders of its entitlement.
    page = world.make_article(
        "public", title="Free article", slug="free-article", paywall_entitlement="content.premium"
    )
    return Target(CANARIES[1], page, page.url, world.entitled, world.site)


def _lesson(world: World) -> Target:
    from tests.wagtail.gating_helpers import TEASER, body

    if world.make_course is None or world.make_lesson is None:
        raise LookupError(f"the {world.site.name} has no courses to plant a lesson in")
    course = world.make_course("tier", paywall_min_tier=world.catalog["premium"])
    lesson = world.make_lesson(
        course, title="Lesson one", slug="lesson-one", body=body(TEASER, CANARIES[2].token)
    )
    return Target(CANARIES[2], lesson, lesson.url, world.entitled, world.site)


def document(world: World) -> Target:
    """The premium document, in the site's document model (``WAGTAILDOCS_DOCUMENT_MODEL``,
    a model with ``PaywallDocumentMixin``)."""
    from django.urls import reverse
    from wagtail.documents import get_document_model

    document = get_document_model()(
        title="Premium report", paywall_rule="tier", paywall_min_tier=world.catalog["premium"]
    )
    content = f"%PDF-1.7 {CANARIES[3].token}".encode()
    document.file.save("premium-report.pdf", ContentFile(content), save=False)
    document.save()
    url = reverse("wagtaildocs_serve", args=(document.pk, document.filename))
    return Target(CANARIES[3], document, url, world.entitled, world.site)


def purchase_article(world: World) -> Target:
    from tests.wagtail.gating_helpers import TEASER, body

    page = world.make_article(
        "purchase",
        title="Purchase-only article",
        slug="purchase-article",
        paywall_purchase_item=PURCHASE_ITEM,
        body=body(TEASER, CANARIES[4].token),
    )
    return Target(CANARIES[4], page, page.url, world.entitled, world.site)


def metered_article(world: World) -> Target:
    from tests.wagtail.gating_helpers import TEASER, body

    page = world.make_article(
        "metered",
        title="Metered article",
        slug="metered-article",
        paywall_min_tier=world.catalog["premium"],
        paywall_meter_free=3,
        body=body(TEASER, CANARIES[5].token),
    )
    return Target(CANARIES[5], page, page.url, world.entitled, world.site)


def draft(note_field: str | None = "premium_note") -> Callable[[World], Target]:
    """A premium article whose editor saved, and did not publish, a change holding the
    canary (in its body, and in ``note_field`` when the site's model has it)."""

    def plant(world: World) -> Target:
        from tests.wagtail.gating_helpers import TEASER, body

        page = world.make_article(
            "tier",
            title="Drafted article",
            slug="drafted-article",
            paywall_min_tier=world.catalog["premium"],
        )
        # An editor's unpublished change: only editors may see it, in the admin.
        page.body = body(TEASER, CANARIES[6].token)
        if note_field:
            setattr(page, note_field, CANARIES[6].token)
        page.save_revision()
        return Target(CANARIES[6], page, page.url, world.entitled, world.site)

    return plant


PLANT: Mapping[str, Callable[[World], Target]] = {
    CANARIES[0].name: premium_article(),
    CANARIES[1].name: _free_article,
    CANARIES[2].name: _lesson,
    CANARIES[3].name: document,
    CANARIES[4].name: purchase_article,
    CANARIES[5].name: metered_article,
    CANARIES[6].name: draft(),
}


@dataclass
class World:
    catalog: Mapping[str, Any]
    entitled: Any
    make_article: Callable[..., Any]
    site: SiteProfile
    make_course: Callable[..., Any] | None = None
    make_lesson: Callable[..., Any] | None = None
    targets: list[Target] = field(default_factory=list)

    def plant(self) -> list[Target]:
        """Plant every canary the site can hold."""
        self.targets = [self.site.plant[canary.name](self) for canary in self.site.canaries]
        return self.targets


# -- sites ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SearchView:
    """A site's own search view: where it is, its query parameter, and how its results
    page names each result (a pattern with one group, matched in order, best first)."""

    url: str
    param: str
    results: str


@dataclass(frozen=True)
class SiteProfile:
    """What of the matrix a site has, and where: the only site-specific part of it."""

    name: str
    #: canary name -> how the site plants it; a canary the site cannot hold (a course
    #: lesson on a site without courses) is left out.
    plant: Mapping[str, Callable[[World], Target]]
    #: the optional parts the site has (:data:`PAYWALL_API`, :data:`SITEMAP`).
    features: frozenset[str]
    #: Wagtail's own ``PagesAPIViewSet``'s pages URL, as the site routes it.
    stock_api: str
    own_search: SearchView
    #: the site's URLconf with Wagtail's page and document views wrapped in ``cache_page``.
    cache_page_urlconf: str
    #: the paywall's ``PaywalledPagesAPIViewSet``'s pages URL, with :data:`PAYWALL_API`.
    paywall_api: str = ""

    @property
    def canaries(self) -> tuple[Canary, ...]:
        return tuple(canary for canary in CANARIES if canary.name in self.plant)

    def has(self, channel: Channel) -> bool:
        """Whether the site has ``channel`` and holds content of a kind it carries."""
        kinds = {canary.kind for canary in self.canaries}
        needs = channel.needs
        return (needs is None or needs in self.features) and bool(channel.kinds & kinds)

    def channels(self, channels: Iterable[Channel] = CHANNELS) -> tuple[Channel, ...]:
        return tuple(channel for channel in channels if self.has(channel))


#: The adapter's test site (``tests/wagtail/settings.py``, ``testapp``): every canary, and
#: the paywall's own API beside Wagtail's.
TEST_SITE = SiteProfile(
    name="test site",
    plant=PLANT,
    features=frozenset({PAYWALL_API, SITEMAP}),
    stock_api="/stock-api/v2/pages/",
    paywall_api="/api/v2/pages/",
    own_search=SearchView("/search/", "query", r'data-page="(\d+)"'),
    cache_page_urlconf="tests.wagtail.leak_urls",
)


# -- judging one response, and the tally printed at the end -----------------------------------
@dataclass(frozen=True)
class Outcome:
    site: str
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
        outcome = Outcome(target.site.name, channel.name, persona, target.canary.name, "n/a")
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
            target.site.name,
            channel.name,
            persona,
            target.canary.name,
            "leak",
            f"found {', '.join(found)}",
        )
    elif (
        channel.shows == FULL
        and may_read(target.canary, persona) is True
        and target.canary.token not in text
    ):
        outcome = Outcome(
            target.site.name,
            channel.name,
            persona,
            target.canary.name,
            "false positive",
            "content missing",
        )
    else:
        outcome = Outcome(target.site.name, channel.name, persona, target.canary.name, "ok")
    OUTCOMES.append(outcome)
    return outcome


def check_channel(
    channel: Channel, users: Mapping[str, Any], targets: Iterable[Target]
) -> list[Outcome]:
    """Every persona of ``users`` (persona -> user, ``None``: anonymous) asks ``channel``
    for every target; the failed outcomes (all are recorded for the summary)."""
    failed = []
    targets = list(targets)
    for persona, user in users.items():
        client = client_for(user)
        for target in targets:
            text = channel.fetch(client, target) if target.kind in channel.kinds else None
            outcome = judge(channel, persona, target, text)
            if outcome.failed:
                failed.append(outcome)
    return failed


def failure_report(channel: Channel, failed: Iterable[Outcome]) -> str:
    lines = [f"{o.persona} / {o.canary}: {o.result}, {o.detail}" for o in failed]
    return f"{channel.name}:\n" + "\n".join(lines)


def summary(outcomes: Iterable[Outcome]) -> list[str]:
    """The size and result of the matrix, one line per site, then each failure."""
    by_site: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        by_site.setdefault(outcome.site, []).append(outcome)
    lines = []
    for site, found in by_site.items():
        channels = {o.channel for o in found}
        personas = {o.persona for o in found}
        canaries = {o.canary for o in found}
        size = len(channels) * len(personas) * len(canaries)
        checked = [o for o in found if o.result != "n/a"]
        failed = [o for o in checked if o.failed]
        leaks = sum(o.result == "leak" for o in failed)
        not_applicable = size - len(checked)
        lines.append(
            f"leak matrix, {site}: {len(channels)} channels × {len(personas)} personas"  # noqa: RUF001
            f" × {len(canaries)} canaries = {size} combinations, {len(checked)} checks"  # noqa: RUF001
            + (f" ({not_applicable} not applicable)" if not_applicable else "")
            + f", {leaks} leaks, {len(failed) - leaks} false positives"
        )
        lines += [
            f"  {o.result}: {o.channel} / {o.persona} / {o.canary}: {o.detail}" for o in failed
        ]
    return lines
