"""The fake provider's payment page, for demos and tests: "Pay" or "Decline".

It drives the :mod:`membership_sdk.providers.fake` service, which sends its signed webhook
to this site's own webhook handling, as a real provider would. See ``docs/journey.md``.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from membership_sdk import ProviderError
from membership_sdk.providers.fake import FakeProvider

from ..formats import money
from ..models import MemberCountry
from ..models.segments import country_code
from ..program import get_program
from ..tasks import deliver
from .base import configured, error_page, login_redirect


def _fake_provider() -> FakeProvider:
    provider = get_program().providers.get("fake") if configured("fake") else None
    if not isinstance(provider, FakeProvider):
        raise Http404(_("The fake payment provider is not configured."))
    return provider


@never_cache
@require_http_methods(["GET", "POST"])
def fake_checkout(request: HttpRequest, session_id: str) -> HttpResponseBase:
    """The fake provider's payment page, for demos and tests: "Pay" or "Decline".

    Either button completes the session at the fake service, which sends its signed
    webhook to this site's own webhook handling, as a real provider would.
    """
    fake = _fake_provider()
    try:
        session = fake.checkout(session_id)
    except ProviderError:
        raise Http404(_("No such checkout session.")) from None
    if not request.user.is_authenticated:
        return login_redirect(request)
    if session.member_id != str(request.user.pk):
        raise Http404(_("No such checkout session."))
    price = get_program().catalog.price_for_provider("fake", session.price)
    context: dict[str, Any] = {
        "session": session,
        "price": price,
        "amount": money(session.amount, session.currency),
        "declined": False,
    }
    if request.method == "GET":
        return render(request, "wagtail_paywall/fake_checkout.html", context)
    action = request.POST.get("action")
    if action not in ("pay", "decline"):
        return error_page(request, 400, _("Payment not sent"), _("Choose “Pay” or “Decline”."))
    if session.state != "open":
        return render(request, "wagtail_paywall/fake_checkout.html", context, status=409)
    # The billing country, as a real provider's payment page asks for it (optional here).
    country = request.POST.get("country", "").strip()
    if country and country_code(country) is None:
        return error_page(
            request,
            400,
            _("Payment not sent"),
            _("“%(value)s” is not a two-letter country code such as DE or US.")
            % {"value": country},
        )
    hook = fake.complete_checkout(session.id, succeed=action == "pay")
    if country and action == "pay":
        MemberCountry.record(session.member_id, country, "fake")
    deliver("fake", hook.headers, hook.body)
    if action == "pay":
        return HttpResponseRedirect(session.success_url)
    context["declined"] = True
    return render(request, "wagtail_paywall/fake_checkout.html", context)
