"""``PaywallMiddleware``: the response side of the paywall.

Add it to ``MIDDLEWARE`` after ``AuthenticationMiddleware``. It writes the anonymous meter
cookie (and deletes it once the reads moved into a member's account); marks responses that
went through a gate ``Cache-Control: private`` and ``Vary: Cookie``, with ``no-store`` for a
member or an allowed gated read, leaving public pages cacheable; opens
:func:`~wagtail_paywall.program.request_scope`, so the catalog is checked at most once per
request; and serves a view through its paywalled substitute where the channels registered
one (:data:`VIEW_SUBSTITUTES`: Wagtail's stock pages API). A search query the search
backend cannot parse or store, raised from a site's own search view, is answered 400, not
500 (:meth:`PaywallMiddleware.process_exception`).

See ``docs/channels.md`` (Caches).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from django.db import DataError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseBase
from django.utils.cache import patch_cache_control, patch_vary_headers

from . import experiments, metering
from .currency import vary_on_currency
from .program import request_scope

#: Functions each taking the view a URL resolved to and returning the view to serve in
#: its place, or ``None``. The app registers the channels' own when it is ready
#: (:func:`wagtail_paywall.channels.api.paywalled_stock_view`); this module sits below the
#: channels, so it cannot import them.
VIEW_SUBSTITUTES: list[Callable[[Any], Callable[..., Any] | None]] = []

#: The query parameters of search views: ``wagtail start``'s (``query``), the paywall's
#: own (``q``) and the API's (``search``).
SEARCH_PARAMETERS = ("query", "q", "search")
#: What the backends raise for a visitor's query they cannot read: SQLite's full-text
#: syntax (``churn "``, ``churn AND``) and PostgreSQL's refusal of a null character. Only
#: these: a database that is down or locked stays a server error.
_BAD_QUERY = re.compile(r"fts5: syntax error|unterminated string|NUL \(0x00\)")

logger = logging.getLogger(__name__)


def mark_private(response: HttpResponseBase, request: HttpRequest | None = None) -> None:
    """Keep ``response`` out of shared caches: ``Cache-Control: private``, ``Vary: Cookie``.

    With ``request`` of a signed-in member, or one allowed a gated read
    (``request.paywall_allowed``), also ``no-store``: not even the browser keeps the page
    once the member signed out.
    """
    member = bool(getattr(getattr(request, "user", None), "is_authenticated", False))
    if member or getattr(request, "paywall_allowed", False):
        patch_cache_control(response, private=True, no_store=True)
    else:
        patch_cache_control(response, private=True)
    patch_vary_headers(response, ["Cookie"])
    vary_on_currency(response)  # the paywall offers the visitor's currency


class PaywallMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with request_scope():
            response = self.get_response(request)
        if getattr(request, "paywall_gated", False):
            mark_private(response, request)
        metering.write_cookie(request, response)
        experiments.write_cookie(request, response)  # an A/B test's assignment
        return response

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponseBase | None:
        """Serve the view's paywalled substitute, if one is registered for it."""
        for substitute in VIEW_SUBSTITUTES:
            view = substitute(view_func)
            if view is not None:
                response: HttpResponseBase = view(request, *view_args, **view_kwargs)
                return response
        return None

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponseBase | None:
        """A search query the database's search could not parse or hold is the visitor's
        bad input: 400, not 500. A site's own search view (``wagtail start``'s passes
        ``?query=`` straight to the backend) gets this without changing; the paywall's
        views check queries themselves (:func:`~wagtail_paywall.channels.search.clean_query`)."""
        if request.method not in ("GET", "HEAD"):
            return None
        if not isinstance(exception, (OperationalError, DataError, ValueError)):
            return None
        if not _BAD_QUERY.search(str(exception)):
            return None
        parameter = next((p for p in SEARCH_PARAMETERS if request.GET.get(p)), None)
        if parameter is None:
            return None
        logger.info(
            "Search query refused (%s=%r): %s", parameter, request.GET[parameter], exception
        )
        return HttpResponseBadRequest(
            f"The search query ({parameter}) cannot be read: leave out quotes and "
            "special characters.",
            content_type="text/plain; charset=utf-8",
        )
