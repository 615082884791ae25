"""Gating the two things Wagtail serves itself: pages and documents.

:func:`gate_page` (Wagtail's ``before_serve_page`` hook) asks
:func:`~wagtail_paywall.access.check_access` for a page with
:class:`~wagtail_paywall.pages.PaywallPageMixin` and, without access, withholds its premium
part in memory; Wagtail then serves the page as usual, so the template only sees the teaser.
:func:`gate_document` (``before_serve_document``) answers a visitor without access with a 403
page of offers. The hooks are registered in :mod:`wagtail_paywall.wagtail_hooks`.

A ``HEAD`` or ``OPTIONS`` request is decided like a ``GET`` but never spends a metered read
or a download of a quota: a page it would cost is served withheld, a document with its
headers and no body.

See ``docs/gating.md`` (How a page is gated).
"""

from __future__ import annotations

import contextlib
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers

from membership_sdk import Decision, Public

from .access import check_access, unspent_read
from .billing.activity import note_read
from .documents import PaywallDocumentMixin
from .pages import PaywallPageMixin

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
        note_read(request)  # a member's day read: one write a day, none when warm
    else:
        page.paywall_withhold(decision)
        # The page a checkout from this paywall is attributed to (docs/experiments.md).
        request.paywall_page_id = page.pk  # type: ignore[attr-defined]
    return decision


def gate_document(document: Any, request: HttpRequest) -> HttpResponse | None:
    """``None`` to serve ``document`` to ``request``'s visitor, else the 403 page of offers.

    A quota on the rule's entitlement is charged once per document per period.
    """
    if not isinstance(document, PaywallDocumentMixin):
        return None
    resource = document.paywall_resource()
    if isinstance(resource.rule, Public):
        return None
    decision = check_access(request, resource)
    if decision.allowed:
        note_read(request)
        return None
    if unspent_read(request, resource):
        return _unspent_download(document, request)
    response = TemplateResponse(
        request,
        DOCUMENT_DENIED_TEMPLATE,
        {"document": document, "paywall_decision": decision},
        status=403,
    )
    add_never_cache_headers(response)
    return response


def _unspent_download(document: Any, request: HttpRequest) -> HttpResponse:
    """The answer to a ``HEAD`` or ``OPTIONS`` of a download whose read is not spent.

    The download's own headers (type, disposition, and for ``HEAD`` its size), no body:
    Wagtail would stream the file itself to an ``OPTIONS`` request, and a ``HEAD`` must
    not depend on the server dropping the body.
    """
    response = HttpResponse(status=200, content_type=document.content_type)
    response["Content-Disposition"] = document.content_disposition
    response["X-Content-Type-Options"] = "nosniff"
    if request.method == "HEAD":
        # A storage that cannot tell the size: the HEAD leaves the length out.
        with contextlib.suppress(OSError, NotImplementedError):
            response["Content-Length"] = str(document.file.size)
    add_never_cache_headers(response)
    return response
