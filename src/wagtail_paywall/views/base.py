"""What every view of the member's journey shares: the login it needs, the error page
it shows, and the one way a provider's failure reaches a member.

A view raises :class:`ErrorPage` for anything a member should read (a 4xx saying what to
do, a 502 when the payment provider failed); :func:`shows_error_pages` renders it. See
``docs/journey.md``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from membership_sdk import Price, ProviderError
from membership_sdk import membership as core

from ..access import member_id_for
from ..formats import money
from ..program import get_program

logger = logging.getLogger("wagtail_paywall.views")

ERROR_TEMPLATE = "wagtail_paywall/error.html"

View = TypeVar("View", bound=Callable[..., HttpResponseBase])


class ErrorPage(Exception):
    """A page telling the member what went wrong: ``status``, a title and a message."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(f"{status} {title}: {message}")
        self.status, self.title, self.message = status, title, message


def error_page(request: HttpRequest, status: int, title: str, message: str) -> HttpResponse:
    """The error page (``wagtail_paywall/error.html``), with a link to the pricing page."""
    return render(
        request,
        ERROR_TEMPLATE,
        {"title": title, "message": message, "pricing_url": reverse("paywall:pricing")},
        status=status,
    )


def shows_error_pages(view: View) -> View:
    """Render an :class:`ErrorPage` the view raises."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            return view(request, *args, **kwargs)
        except ErrorPage as page:
            return error_page(request, page.status, page.title, page.message)

    return wrapper  # type: ignore[return-value]


def login_redirect(request: HttpRequest, back_to: str | None = None) -> HttpResponseRedirect:
    """To the login page, coming back to the URL named ``back_to`` (default: here)."""
    return redirect_to_login(reverse(back_to) if back_to else request.get_full_path())


def member_required(back_to: str | None = None) -> Callable[[View], View]:
    """Send an anonymous visitor to log in first, then back to the URL named ``back_to``
    (by default the page asked for). Errors the view raises are shown
    (:func:`shows_error_pages`)."""

    def decorate(view: View) -> View:
        shown = shows_error_pages(view)

        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return login_redirect(request, back_to)
            return shown(request, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


@contextmanager
def provider_errors(action: str, message: str) -> Iterator[None]:
    """Turn a :class:`~membership_sdk.ProviderError` raised in the block into a 502
    :class:`ErrorPage` saying ``message`` (nothing was done); the provider's own words go
    to the log under ``action``, never to the page."""
    try:
        yield
    except ProviderError as exc:
        logger.warning("%s failed: %s (%s)", action, exc, exc.code)
        raise ErrorPage(502, _("The payment service is not answering"), message) from exc


def safe_next(request: HttpRequest, candidate: str | None, fallback: str) -> str:
    """``candidate`` when it points at this site (an allowed host; https when the request
    is secure), else ``fallback``."""
    hosts = {request.get_host()}
    # ALLOWED_HOSTS entries that are exact names; "*" and ".example.com" are patterns.
    hosts.update(h for h in settings.ALLOWED_HOSTS if h and h != "*" and not h.startswith("."))
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts=hosts, require_https=request.is_secure()
    ):
        return candidate
    return fallback


def configured(provider: str) -> bool:
    """Whether this site uses ``provider``: the program registers only the providers
    ``PAYWALL["PROVIDERS"]`` names, and of those only ones with a webhook secret of the
    site's own (or, in development mode, a public development one). Any other has no
    webhook endpoint and no checkout."""
    return provider in get_program().providers


def amount(price: Price) -> str:
    """The price's amount as the member reads it (``€5.00``, ``5,00 €`` in German)."""
    return money(price.amount, price.currency)


def owned_membership(request: HttpRequest, membership_id: str) -> core.Membership:
    """The visitor's membership ``membership_id``; 404 for one that is not theirs."""
    membership = get_program().store.memberships.get(membership_id)
    if membership is None or membership.member_id != member_id_for(request):
        # Someone else's membership looks exactly like one that does not exist.
        raise Http404(_("No such membership."))
    return membership


def account_redirect(request: HttpRequest, message: str | None = None) -> HttpResponseRedirect:
    """Back to the account page, with ``message`` shown there."""
    if message:
        messages.info(request, message, fail_silently=True)
    return HttpResponseRedirect(reverse("paywall:account"))
