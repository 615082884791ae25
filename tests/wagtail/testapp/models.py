"""Concrete pages and a document model of the test site, built from the paywall mixins."""

from __future__ import annotations

from django.db import models
from wagtail import blocks
from wagtail.admin.panels import FieldPanel
from wagtail.api import APIField
from wagtail.documents.models import AbstractDocument, Document
from wagtail.fields import StreamField
from wagtail.models import Page
from wagtail.search import index

from wagtail_paywall.blocks import PaywallBreakBlock
from wagtail_paywall.documents import PAYWALL_DOCUMENT_FIELDS, PaywallDocumentMixin
from wagtail_paywall.pages import CoursePageMixin, LessonPageMixin, PaywallPageMixin


def body_blocks() -> list[tuple[str, blocks.Block]]:
    return [
        ("heading", blocks.CharBlock()),
        ("paragraph", blocks.RichTextBlock()),
        ("paywall", PaywallBreakBlock()),
    ]


class ArticlePage(PaywallPageMixin, Page):
    body = StreamField(body_blocks(), blank=True)
    # A plain field withheld whole from visitors without access.
    premium_note = models.TextField(blank=True)

    paywall_premium_fields = ("premium_note",)
    # The whole body is indexed and served by the API: the channels withhold it.
    search_fields = [
        *Page.search_fields,
        index.SearchField("body"),
        index.SearchField("premium_note"),
    ]
    api_fields = [APIField("body"), APIField("premium_note"), APIField("paywall_teaser")]
    edit_handler = PaywallPageMixin.edit_handler_with_access(
        [*Page.content_panels, FieldPanel("body"), FieldPanel("premium_note")]
    )


class CoursePage(CoursePageMixin, Page):
    body = StreamField(body_blocks(), blank=True)

    subpage_types = ["testapp.LessonPage"]
    search_fields = [*Page.search_fields, index.SearchField("body")]
    api_fields = [APIField("body")]
    edit_handler = CoursePageMixin.edit_handler_with_access(
        [*Page.content_panels, FieldPanel("body")]
    )


class LessonPage(LessonPageMixin, Page):
    body = StreamField(body_blocks(), blank=True)

    parent_page_types = ["testapp.CoursePage"]
    search_fields = [*Page.search_fields, index.SearchField("body")]
    api_fields = [APIField("body")]
    edit_handler = LessonPageMixin.edit_handler_with_access(
        [*Page.content_panels, FieldPanel("body")]
    )


class PaywalledDocument(PaywallDocumentMixin, AbstractDocument):
    admin_form_fields = (*Document.admin_form_fields, *PAYWALL_DOCUMENT_FIELDS)
