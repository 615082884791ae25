"""Gating through Wagtail's own hook points: pages and documents.

``before_serve_page``
    For a page with :class:`~wagtail_paywall.pages.PaywallPageMixin`, asks
    :func:`~wagtail_paywall.access.check_access` (which records a metered read and marks
    the response private). Without access, the page's premium part is removed from the
    in-memory page (:meth:`~wagtail_paywall.pages.PaywallPageMixin.paywall_withhold`)
    and the hook returns ``None``: Wagtail goes on serving the page as usual, through
    every other hook and view restriction, but the template only ever sees the teaser,
    and ``paywall_decision`` in its context for the offers.

``before_serve_document``
    For a document model with :class:`~wagtail_paywall.documents.PaywallDocumentMixin`,
    a visitor without access gets a 403 page listing the offers instead of the file. A
    quota is charged once per document per period.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers

from membership_sdk import Decision, Public
from wagtail import hooks

from .access import check_access
from .documents import PaywallDocumentMixin
from .pages import PaywallPageMixin, rule_memo

DOCUMENT_DENIED_TEMPLATE = "wagtail_paywall/document_denied.html"


def gate_page(page: Any, request: HttpRequest) -> Decision | None:
    """Decide ``page`` for ``request`` and withhold its premium part when denied.

    Returns the decision, or ``None`` for a page the paywall does not guard.
    """
    if not isinstance(page, PaywallPageMixin):
        return None
    resource = page.paywall_resource()
    if isinstance(resource.rule, Public):
        return None
    decision = check_access(request, resource)
    if decision.allowed:
        page.paywall_decision = decision
    else:
        page.paywall_withhold(decision)
    return decision


@hooks.register("before_serve_page")
def paywall_before_serve_page(
    page: Any, request: HttpRequest, serve_args: Any, serve_kwargs: Any
) -> None:
    gate_page(page, request)
    # Never a response of our own: Wagtail's later hooks (view restrictions) still apply.
    return None


@hooks.register("before_serve_document")
def paywall_before_serve_document(document: Any, request: HttpRequest) -> HttpResponse | None:
    if not isinstance(document, PaywallDocumentMixin):
        return None
    resource = document.paywall_resource()
    if isinstance(resource.rule, Public):
        return None
    decision = check_access(request, resource)
    if decision.allowed:
        return None
    response = TemplateResponse(
        request,
        DOCUMENT_DENIED_TEMPLATE,
        {"document": document, "paywall_decision": decision},
        status=403,
    )
    add_never_cache_headers(response)
    return response


def _forget_rules(**kwargs: Any) -> None:
    rule_memo.clear()


# A tier's slug or a course's rule may have changed: rebuild the rules that depend on them.
post_save.connect(_forget_rules, sender="wagtail_paywall.Tier", dispatch_uid="paywall-rules")
