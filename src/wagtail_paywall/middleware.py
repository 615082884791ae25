"""``PaywallMiddleware``: the response side of the paywall.

Add it to ``MIDDLEWARE`` after ``AuthenticationMiddleware``. It

* writes the anonymous meter cookie when a metered read was counted, and deletes it
  after the reads moved into a member's account;
* marks responses that went through a gate (``request.paywall_gated``) as
  ``Cache-Control: private`` and ``Vary: Cookie``, so no shared cache (a CDN, Varnish,
  Django's cache middleware) can hand one visitor's page to another. Public pages are
  left untouched and stay cacheable.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control, patch_vary_headers

from . import metering


def mark_private(response: HttpResponse) -> None:
    """Keep ``response`` out of shared caches: ``Cache-Control: private``, ``Vary: Cookie``."""
    patch_cache_control(response, private=True)
    patch_vary_headers(response, ["Cookie"])


class PaywallMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if getattr(request, "paywall_gated", False):
            mark_private(response)
        metering.write_cookie(request, response)
        return response
