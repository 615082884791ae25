"""A loyalty reward's personal code used on the member's running membership.

Members earn a coupon reward while they pay, and a checkout is for a new membership, so
the account page offers "Use it on my membership": :func:`use_code` puts the code's
discount on their live subscription (the provider's discount capability) and redeems the
code for good. A member without a running membership enters the code at checkout
instead. See ``docs/loyalty.md``.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponseBase
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from membership_sdk import CouponError, MembershipError
from membership_sdk.loyalty import CodeNotUsable

from ..billing.loyalty import use_on_membership
from .base import ErrorPage, account_redirect, member_required, owned_membership, provider_errors
from .checkout import coupon_message


def not_usable_message(reason: str) -> str:
    """What a member is told when their code cannot go on their membership (a
    :data:`~membership_sdk.loyalty.NOT_USABLE` reason)."""
    by_reason = {
        "discount_running": _(
            "Your membership already has a discount running, and a new one would replace "
            "it. Use your code once that discount has ended."
        ),
        "unsupported": _(
            "Your membership's payment method cannot take a discount while it runs. Enter "
            "your code at checkout the next time you subscribe."
        ),
        "not_live": _(
            "Your membership does not renew, so there is nothing to discount. Resume it "
            "to use your code on it, or enter the code at checkout once it has ended."
        ),
    }
    return by_reason.get(reason, by_reason["not_live"])


@never_cache
@require_POST
@member_required("paywall:account")
def use_code(request: HttpRequest) -> HttpResponseBase:
    """Put the member's personal code (``code``) on their membership (``membership``,
    404 when it is not theirs); back to the account page saying what it does. A code
    or membership that cannot take it is a 409 saying why; nothing changed."""
    code = (request.POST.get("code") or "").strip()
    membership_id = (request.POST.get("membership") or "").strip()
    if not code or not membership_id or len(code) > 64 or len(membership_id) > 64:
        raise ErrorPage(
            400,
            _("Your code was not used"),
            _("Use your code with the button next to it on your account page."),
        )
    user: Any = request.user
    membership = owned_membership(request, membership_id)
    try:
        with provider_errors(
            f"loyalty code {code} on {membership.id}",
            _("Your code was not used; please try again later. Nothing was charged."),
        ):
            use_on_membership(str(user.pk), membership.id, code)
    except CouponError as exc:
        raise ErrorPage(409, _("Your code was not used"), coupon_message(exc.reason)) from exc
    except CodeNotUsable as exc:
        raise ErrorPage(409, _("Your code was not used"), not_usable_message(exc.reason)) from exc
    except MembershipError as exc:
        # The membership ended while the page was open, or the provider refused it.
        raise ErrorPage(409, _("Your code was not used"), not_usable_message("")) from exc
    return account_redirect(
        request,
        _("Your code %(code)s is on your membership: your coming payments are discounted.")
        % {"code": code.upper()},
    )
