"""The demo's concrete pages and document model, built from the paywall's mixins.

* :class:`HomePage` - the front page: latest articles, the course, downloads.
* :class:`ArticleIndexPage` / :class:`ArticlePage` - articles whose body is a StreamField
  with a :class:`~wagtail_paywall.blocks.PaywallBreakBlock` marking where the teaser ends.
* :class:`CoursePage` / :class:`LessonPage` - a course of drip lessons.
* :class:`DownloadsPage` - lists the :class:`DemoDocument` downloads, each with its rule.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone
from wagtail import blocks
from wagtail.admin.panels import FieldPanel
from wagtail.api import APIField
from wagtail.documents.models import AbstractDocument, Document
from wagtail.fields import RichTextField, StreamField
from wagtail.models import Page
from wagtail.search import index

from wagtail_paywall.blocks import PaywallBreakBlock
from wagtail_paywall.documents import PAYWALL_DOCUMENT_FIELDS, PaywallDocumentMixin
from wagtail_paywall.pages import CoursePageMixin, LessonPageMixin, PaywallPageMixin


def body_blocks() -> list[tuple[str, blocks.Block]]:
    return [
        ("heading", blocks.CharBlock(form_classname="title", icon="title")),
        ("paragraph", blocks.RichTextBlock()),
        ("quote", blocks.BlockQuoteBlock()),
        ("paywall", PaywallBreakBlock()),
    ]


class HomePage(Page):
    intro = RichTextField(blank=True)

    content_panels = [*Page.content_panels, FieldPanel("intro")]
    subpage_types = ["demo.ArticleIndexPage", "demo.CoursePage", "demo.DownloadsPage"]
    max_count = 1

    def get_context(self, request: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context(request, *args, **kwargs)
        articles = ArticlePage.objects.live().descendant_of(self)
        context["latest"] = articles.select_related("paywall_min_tier").order_by("-date", "-pk")[:6]
        context["courses"] = CoursePage.objects.live().descendant_of(self)
        context["downloads"] = DownloadsPage.objects.live().descendant_of(self).first()
        return context


class ArticleIndexPage(Page):
    intro = RichTextField(blank=True)

    content_panels = [*Page.content_panels, FieldPanel("intro")]
    subpage_types = ["demo.ArticlePage"]

    def get_context(self, request: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context(request, *args, **kwargs)
        articles = ArticlePage.objects.live().child_of(self)
        context["articles"] = articles.select_related("paywall_min_tier").order_by("-date", "-pk")
        return context


class ArticlePage(PaywallPageMixin, Page):
    """An article: public, for members, for a tier, metered or sold on its own."""

    date = models.DateField("published", default=timezone.localdate)
    summary = models.CharField(max_length=255, blank=True)
    body = StreamField(body_blocks(), blank=True)

    # The whole body is indexed and served by the API; the paywall's channels withhold it.
    search_fields = [*Page.search_fields, index.SearchField("summary"), index.SearchField("body")]
    api_fields = [APIField("date"), APIField("summary"), APIField("body")]
    content_panels = [
        *Page.content_panels,
        FieldPanel("date"),
        FieldPanel("summary"),
        FieldPanel("body"),
    ]
    edit_handler = PaywallPageMixin.edit_handler_with_access(content_panels)
    parent_page_types = ["demo.ArticleIndexPage"]
    subpage_types: list[str] = []

    @property
    def access_badge(self) -> str:
        """Who may read it, in a word or two, for article lists."""
        tier = self.paywall_min_tier.name if self.paywall_min_tier_id else ""
        return {
            "public": "Free",
            "registered": "Free with an account",
            "tier": tier or "Members",
            "metered": "Metered",
            "purchase": "For sale",
        }.get(self.paywall_rule, str(self.get_paywall_rule_display()))


class CoursePage(CoursePageMixin, Page):
    """A course; its lessons follow its rule and open some days after joining."""

    summary = models.CharField(max_length=255, blank=True)
    body = StreamField(body_blocks(), blank=True)

    content_panels = [*Page.content_panels, FieldPanel("summary"), FieldPanel("body")]
    edit_handler = CoursePageMixin.edit_handler_with_access(content_panels)
    parent_page_types = ["demo.HomePage"]
    subpage_types = ["demo.LessonPage"]


class LessonPage(LessonPageMixin, Page):
    body = StreamField(body_blocks(), blank=True)

    content_panels = [*Page.content_panels, FieldPanel("body")]
    edit_handler = LessonPageMixin.edit_handler_with_access(content_panels)
    parent_page_types = ["demo.CoursePage"]
    subpage_types: list[str] = []


class DownloadsPage(Page):
    intro = RichTextField(blank=True)

    content_panels = [*Page.content_panels, FieldPanel("intro")]
    parent_page_types = ["demo.HomePage"]
    subpage_types: list[str] = []

    def get_context(self, request: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context(request, *args, **kwargs)
        context["documents"] = DemoDocument.objects.select_related("paywall_min_tier").order_by(
            "title"
        )
        return context


class DemoDocument(PaywallDocumentMixin, AbstractDocument):
    """The site's document model (``WAGTAILDOCS_DOCUMENT_MODEL``): each has a rule."""

    admin_form_fields = (*Document.admin_form_fields, *PAYWALL_DOCUMENT_FIELDS)

    @property
    def access_label(self) -> str:
        """Who may download it, in a few words, for the downloads list."""
        if self.paywall_rule == "public":
            return "Everyone"
        if self.paywall_rule == "registered":
            return "Anyone with a free account"
        if self.paywall_rule == "entitlement":
            return f"Members, counted against their monthly {self.paywall_entitlement}"
        if self.paywall_rule == "tier" and self.paywall_min_tier_id:
            return f"{self.paywall_min_tier.name} members"
        return str(self.get_paywall_rule_display())
