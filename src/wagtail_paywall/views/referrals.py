"""The referral link ``/paywall/r/<code>/``: keep the member's code for the visitor and
show them the pricing page with the friend's offer.

The code is kept in the visitor's session (it survives signing in or registering), and
the checkout view reads it (:mod:`wagtail_paywall.billing.referrals`). Nothing is
recorded here: a referral exists only once the friend's membership arrives through the
provider's event. See ``docs/referrals.md``.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from membership_sdk.referrals import normalize_code

from ..billing import referrals
from .base import ErrorPage, shows_error_pages


@never_cache
@require_GET
@shows_error_pages
def referral_link(request: HttpRequest, code: str) -> HttpResponseRedirect:
    """Remember ``code`` and go to the pricing page; 404 naming the code when no member
    has it (or referrals are off). A member following their own link is told so."""
    if not referrals.enabled():
        raise ErrorPage(
            404,
            _("This referral link is not valid"),
            _("This site does not run a referral programme."),
        )
    normalized = normalize_code(code)
    owner = referrals.store().member_for_code(normalized) if normalized else None
    if owner is None:
        raise ErrorPage(
            404,
            _("This referral link is not valid"),
            _("No member has the referral code “%(code)s”. Check the link for typos.")
            % {"code": code[:64]},
        )
    referrals.remember(request, normalized)
    return HttpResponseRedirect(f"{reverse('paywall:pricing')}?referral=1")
