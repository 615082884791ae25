"""RSS and Atom feeds of the site's paywalled pages.

The public feeds (``paywall:feed_rss``, ``paywall:feed_atom``) show each page as an anonymous
visitor who spent nothing may read it, the same for everyone, so they stay cacheable. A
member's private feeds (``paywall:member_feed_rss``, ``paywall:member_feed_atom``) are opened
by a :class:`~wagtail_paywall.models.FeedToken` and decide each item for that member *now*:
a revoked or unknown token is a 404, responses are ``private, no-store``, and a feed never
spends a metered read. Members manage the address in :mod:`wagtail_paywall.views.account`.

See ``docs/channels.md`` (Feeds).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.syndication.views import Feed
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control
from django.utils.feedgenerator import Atom1Feed, Rss201rev2Feed
from django.utils.html import escape, linebreaks
from django.utils.translation import gettext as _
from wagtail.blocks.stream_block import StreamValue
from wagtail.models import Page, Site

from membership_sdk import AccessContext

from ..access import context_for_member
from ..models import FeedToken
from ..pages import PaywallPageMixin
from .visibility import anonymous_context, visible_page

FEED_LENGTH = 20


@dataclass(frozen=True)
class FeedEntry:
    title: str
    link: str
    description: str
    pubdate: datetime | None
    locked: bool


@dataclass(frozen=True)
class Audience:
    """Who a feed is for: the site it lists, and the access context items are decided in."""

    request: HttpRequest
    site: Site | None
    ctx: AccessContext
    token: FeedToken | None = None


def member_feed_context(member_id: str) -> AccessContext:
    """What ``member_id`` holds now, resolved as on their own requests (cached rows)."""
    user = get_user_model().objects.filter(pk=member_id).only("date_joined").first()
    return context_for_member(member_id, getattr(user, "date_joined", None))


def _render_value(value: Any) -> str:
    if isinstance(value, StreamValue):
        return str(value.render_as_block())
    return linebreaks(escape(str(value))) if value else ""


def entry(page: Any, audience: Audience) -> FeedEntry:
    """``page`` as a feed item for ``audience``: its full body, or its teaser and a link."""
    page, decision = visible_page(page, audience.request, ctx=audience.ctx)
    link = page.get_full_url(audience.request) or ""
    locked = decision is not None and not decision.allowed
    parts: list[str] = []
    if locked and decision is not None and decision.teaser and page.paywall_teaser:
        parts.append(linebreaks(escape(page.paywall_teaser)))
    for name in page.paywall_body_fields:
        parts.append(_render_value(getattr(page, name, None)))
    for name in page.paywall_premium_fields:
        parts.append(_render_value(getattr(page, name, None)))
    if locked:
        parts.append(
            f'<p><a href="{escape(link)}">{escape(_("Members can read the rest here."))}</a></p>'
        )
    return FeedEntry(
        title=str(page.title),
        link=link,
        description="".join(p for p in parts if p),
        pubdate=page.first_published_at,
        locked=locked,
    )


class PageFeed(Feed):  # type: ignore[type-arg]
    """The public RSS feed: the latest live, public paywalled pages, as teasers."""

    feed_type = Rss201rev2Feed
    description_template = None

    def get_object(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Audience:
        return Audience(request, Site.find_for_request(request), anonymous_context())

    def title(self, obj: Audience) -> str:
        return obj.site.site_name if obj.site and obj.site.site_name else _("Latest")

    def link(self, obj: Audience) -> str:
        return obj.site.root_url if obj.site else "/"

    def description(self, obj: Audience) -> str:
        return _("The latest articles")

    def items(self, obj: Audience) -> list[FeedEntry]:
        pages = Page.objects.live().public().type(PaywallPageMixin)
        if obj.site is not None:
            pages = pages.descendant_of(obj.site.root_page, inclusive=True)
        latest = pages.order_by("-first_published_at").specific()[:FEED_LENGTH]
        return [entry(page, obj) for page in latest]

    def item_title(self, item: FeedEntry) -> str:
        return item.title

    def item_description(self, item: FeedEntry) -> str:
        return item.description

    def item_link(self, item: FeedEntry) -> str:
        return item.link

    def item_guid(self, item: FeedEntry) -> str:
        return item.link

    def item_pubdate(self, item: FeedEntry) -> datetime | None:
        return item.pubdate


class AtomPageFeed(PageFeed):
    feed_type = Atom1Feed

    def subtitle(self, obj: Audience) -> str:
        return self.description(obj)


class MemberFeedMixin:
    """A member's private feed: full text of what the token's member may read now."""

    def get_object(self, request: HttpRequest, token: str = "", **kwargs: Any) -> Audience:
        found = FeedToken.find(token)
        if found is None:
            raise Http404("no such feed")
        ctx = member_feed_context(found.member_id)
        return Audience(request, Site.find_for_request(request), ctx, found)

    def __call__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response: HttpResponse = super().__call__(request, *args, **kwargs)  # type: ignore[misc]
        # One member's full text: never kept by any cache, nor by the feed reader's proxy.
        patch_cache_control(response, private=True, no_store=True)
        return response


class MemberPageFeed(MemberFeedMixin, PageFeed):
    pass


class MemberAtomPageFeed(MemberFeedMixin, AtomPageFeed):
    pass


public_rss = PageFeed()
public_atom = AtomPageFeed()
member_rss = MemberPageFeed()
member_atom = MemberAtomPageFeed()
