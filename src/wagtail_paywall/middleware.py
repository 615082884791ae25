"""``PaywallMiddleware``: the response side of the paywall.

Add it to ``MIDDLEWARE`` after ``AuthenticationMiddleware``. It writes the anonymous meter
cookie (and deletes it once the reads moved into a member's account); marks responses that
went through a gate ``Cache-Control: private`` and ``Vary: Cookie``, with ``no-store`` for a
member or an allowed gated read, leaving public pages cacheable; opens
:func:`~wagtail_paywall.program.request_scope`, so the catalog is checked at most once per
request; and serves a view through its paywalled substitute where the channels registered
one (:data:`VIEW_SUBSTITUTES`: Wagtail's stock pages API).

See ``docs/channels.md`` (Caches).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.cache import patch_cache_control, patch_vary_headers

from . import metering
from .program import request_scope

#: Functions each taking the view a URL resolved to and returning the view to serve in
#: its place, or ``None``. The app registers the channels' own when it is ready
#: (:func:`wagtail_paywall.channels.api.paywalled_stock_view`); this module sits below the
#: channels, so it cannot import them.
VIEW_SUBSTITUTES: list[Callable[[Any], Callable[..., Any] | None]] = []


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


class PaywallMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with request_scope():
            response = self.get_response(request)
        if getattr(request, "paywall_gated", False):
            mark_private(response, request)
        metering.write_cookie(request, response)
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
