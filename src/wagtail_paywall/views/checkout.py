"""Checkout: start the provider's payment page, then thank the member, granting nothing.

Access only ever comes from the provider's events (:mod:`.webhooks`); the success page
reads stored state. See ``docs/journey.md`` (Checkout).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from membership_sdk import CouponError, UnknownPrice
from membership_sdk.membership import GRANTING

from .. import conf
from ..billing import attribution, referrals
from ..billing.language import remember_language
from ..billing.manual import session_instructions
from ..formats import money
from ..forms import CheckoutForm
from ..models import MemberCountry
from ..program import get_program
from .account import account_data
from .base import (
    ErrorPage,
    account_redirect,
    amount,
    configured,
    member_required,
    provider_errors,
    safe_next,
)

logger = logging.getLogger(__name__)


@require_POST
@member_required("paywall:pricing")
def checkout(request: HttpRequest) -> HttpResponseBase:
    """Start the provider's checkout for a price (a membership or a one-off purchase).

    Stores nothing; access comes from the provider's event. Answers 404 for an unknown
    or archived price or an unconfigured provider, 502 when the provider fails.
    """
    form = CheckoutForm(request.POST)
    if "country" in form.errors:
        raise ErrorPage(400, _("Checkout could not start"), " ".join(form.errors["country"]))
    if not form.is_valid():
        raise ErrorPage(
            400,
            _("Checkout could not start"),
            _("Choose a plan on the pricing page to start a checkout."),
        )
    data = form.cleaned_data
    program = get_program()
    provider = data["provider"] or conf.get("DEFAULT_PROVIDER")
    if not configured(provider):
        raise ErrorPage(
            404,
            _("Checkout could not start"),
            _("There is no payment provider named “%(provider)s” on this site.")
            % {"provider": provider},
        )
    next_url = safe_next(request, data["next"], reverse("paywall:pricing"))
    back = urlencode({"next": next_url})
    user: Any = request.user
    with provider_errors(
        f"checkout with {provider}",
        _("We could not start the checkout. Nothing was charged; please try again later."),
    ):
        try:
            price = program.catalog.price(data["price"])
            memberships = program.store.memberships.for_member(str(user.pk))
            if price.recurring and any(m.status in GRANTING for m in memberships):
                return account_redirect(
                    request, _("You already have a membership. Change your plan here instead.")
                )
            session = program.start_checkout(
                str(user.pk),
                price.id,
                provider=provider,
                success_url=request.build_absolute_uri(
                    f"{reverse('paywall:checkout_success')}?{back}"
                ),
                cancel_url=request.build_absolute_uri(
                    f"{reverse('paywall:checkout_cancel')}?{back}"
                ),
                email=getattr(user, "email", None) or None,
                # A referred friend who entered no code gets the referral offer.
                coupon=data["coupon"] or referrals.checkout_coupon(request, price) or None,
                attempt=data["attempt"],
                metadata={
                    **attribution.checkout_metadata(request),
                    **referrals.checkout_metadata(request),
                },
            )
        except CouponError as exc:
            return coupon_refused(request, data["price"], exc)
        except UnknownPrice as exc:
            known = {p.id: p for p in program.catalog.prices}.get(data["price"])
            if known is not None and not known.archived and provider not in known.provider_ids:
                # The site's mistake, not the reader's: say what is missing, and log it
                # for the developer with the fix.
                logger.warning(
                    "checkout refused: %s. Add a %r id to the price under Paywall → Prices "
                    "(its provider ids field).",
                    exc,
                    provider,
                )
                raise ErrorPage(
                    404,
                    _("This price is not for sale"),
                    _(
                        "The price “%(price)s” has no id for the payment provider "
                        "“%(provider)s”, so it cannot be bought yet. Nothing was charged."
                    )
                    % {"price": data["price"], "provider": provider},
                ) from None
            raise ErrorPage(
                404,
                _("This price is not for sale"),
                _("The price “%(price)s” is unknown or no longer offered. Nothing was charged.")
                % {"price": data["price"]},
            ) from None
    if data["country"]:
        MemberCountry.record(str(user.pk), data["country"], provider)
    # The page (and paywall variant) this checkout started from, if it came from one.
    attribution.record_checkout(request, str(user.pk), price.id, provider, session.id)
    # The referral link this member followed, for when their membership arrives.
    referrals.record_checkout(request, str(user.pk), price)
    # The language the lifecycle emails will use (docs/i18n.md).
    remember_language(request, user)
    if session.url:
        return HttpResponseRedirect(session.url)
    return render(
        request,
        "wagtail_paywall/checkout_instructions.html",
        {
            "session": session,
            "instructions": session_instructions(session),
            "price": price,
            # What the invoice asks, after a coupon or an intro offer.
            "amount": amount(price)
            if session.amount is None
            else money(session.amount, price.currency),
            "next": next_url,
        },
    )


def coupon_message(reason: str) -> str:
    """What a member is told about a code refused for ``reason`` (a
    :class:`~membership_sdk.CouponError` reason)."""
    messages_by_reason = {
        "unknown": _("This code is not valid. Check its spelling."),
        "expired": _("This code has expired."),
        "used_up": _("This code has been used up."),
        "already_redeemed": _("You have already used this code."),
        "not_for_this_plan": _("This code is not valid for this plan."),
        "not_first_time": _("This code is for new members only."),
        "wrong_currency": _("This code is not valid for prices in this currency."),
    }
    return messages_by_reason.get(reason, messages_by_reason["unknown"])


def coupon_refused(request: HttpRequest, price_id: str, exc: CouponError) -> HttpResponse:
    """The pricing page again, with the code and why it was refused next to the plan it
    was entered for (400). Nothing was started or reserved."""
    from .pricing import pricing_context

    context = pricing_context(request)
    context.update(
        coupon_error=coupon_message(exc.reason),
        coupon_reason=exc.reason,
        coupon_code=exc.code,
        coupon_price=price_id,
    )
    return render(request, "wagtail_paywall/pricing.html", context, status=400)


@never_cache
@require_GET
def checkout_success(request: HttpRequest) -> HttpResponse:
    """Thank the member and show what they hold *now*. It grants nothing: whatever the
    query string says (a session id, forged or someone else's), only the provider's
    events change access, so this page reads stored state and nothing else."""
    next_url = safe_next(request, request.GET.get("next"), reverse("paywall:pricing"))
    context: dict[str, Any] = {"next": next_url, "memberships": [], "purchases": []}
    if request.user.is_authenticated:
        account = account_data(str(request.user.pk))
        context["memberships"] = [m for m in account["current"] if m["giving_access"]]
        context["purchases"] = account["purchases"][:3]
    context["confirmed"] = bool(context["memberships"] or context["purchases"])
    context["check_again_url"] = f"{request.path}?{urlencode({'next': next_url})}"
    return render(request, "wagtail_paywall/checkout_success.html", context)


@require_GET
def checkout_cancel(request: HttpRequest) -> HttpResponseRedirect:
    """The visitor left the provider's checkout: back to where they were (``next``, when
    it points at this site), else to the pricing page."""
    messages.info(request, _("Checkout canceled. Nothing was charged."), fail_silently=True)
    return HttpResponseRedirect(
        safe_next(request, request.GET.get("next"), reverse("paywall:pricing"))
    )
