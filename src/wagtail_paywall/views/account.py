"""The member's account: memberships (cancel with a reason, resume, change plan, the
billing portal), other access, purchases, and the private feed address. See
``docs/journey.md``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from membership_sdk import InvalidTransition
from membership_sdk import membership as core
from membership_sdk.membership import GRANTING, LIVE

from ..billing.cancellation import cancel_from_account
from ..forms import CancelForm, MembershipForm, PortalForm
from ..models import CancellationFeedback, FeedToken
from ..models import Membership as MembershipRow
from ..program import get_program
from .base import (
    ErrorPage,
    account_redirect,
    configured,
    member_required,
    owned_membership,
    provider_errors,
)
from .cancellation import withdrawal_row
from .discounts import discount_row
from .gifts import account_gifts
from .plans import lifecycle_row
from .retention import offer_step

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def account_data(member_id: str) -> dict[str, Any]:
    """What the account page shows of ``member_id``: current and past memberships, the
    purchases, and other access they hold."""
    program = get_program()
    catalog = program.catalog
    memberships = sorted(
        program.store.memberships.for_member(member_id),
        key=lambda m: m.started_at or _EPOCH,
        reverse=True,
    )
    grants = program.store.grants.for_member(member_id)
    now = program.clock()

    def tier_name(slug: str | None) -> str:
        if not slug:
            return ""
        try:
            return catalog.tier(slug).name
        except LookupError:
            return slug

    current, past = [], []
    for m in memberships:
        provider = program.providers.get(m.provider)
        row = {
            "membership": m,
            "tier_name": tier_name(m.tier),
            "status": m.status.value,
            "status_label": _status_label(m.status.value),
            "giving_access": m.status in GRANTING,
            "can_cancel": m.status in GRANTING and not m.cancel_at_period_end,
            "can_resume": m.status in GRANTING and m.cancel_at_period_end,
            **lifecycle_row(program, m),  # change plan, pause (views/plans.py)
            **discount_row(program, m),  # a coupon or intro offer (views/discounts.py)
            **withdrawal_row(program, m),  # withdraw within 14 days (views/cancellation.py)
            "has_portal": provider is not None and _may_have_portal(provider),
        }
        (current if m.status in LIVE else past).append(row)
    purchases = [
        {
            "grant": g,
            "name": catalog.items.get(g.item or "", "") or g.item or tier_name(g.tier),
            "refunded": g.revoked_at is not None,
        }
        for g in sorted(grants, key=lambda g: g.starts_at, reverse=True)
        if g.kind is core.GrantKind.PURCHASE
    ]
    gifts = account_gifts(member_id)  # a redeemed gift is listed there, not here
    other_access = [
        {"grant": g, "tier_name": tier_name(g.tier), "kind": g.kind.value}
        for g in grants
        if g.kind is not core.GrantKind.PURCHASE
        and g.active(now)
        and g.source not in gifts["held_sources"]
        and not g.source.startswith("loyalty:")  # in the loyalty section
    ]
    return {
        "current": current,
        "past": past,
        "purchases": purchases,
        "other_access": other_access,
        **gifts,
    }


def _status_label(value: str) -> str:
    labels = dict(MembershipRow.Status.choices)
    return str(labels.get(value, value))


def _may_have_portal(provider: object) -> bool:
    # The simulated providers say so (``portal`` is their configured address); for any
    # other provider only asking tells, which for Stripe creates a session: ask on click.
    return getattr(provider, "portal", True) is not None


@never_cache
@require_GET
@member_required()
def account(request: HttpRequest) -> HttpResponseBase:
    """The member's memberships (renewal date, cancel, resume, change plan, billing
    portal), other access they hold, and their purchase history."""
    data = account_data(str(request.user.pk))
    providers = sorted(
        {
            row["membership"].provider
            for row in data["current"] + data["past"]
            if row["has_portal"] and configured(row["membership"].provider)
        }
    )
    data["portal_providers"] = providers
    data["cancel_form"] = CancelForm()
    return render(request, "wagtail_paywall/account.html", data)


@require_POST
@member_required("paywall:account")
def cancel(request: HttpRequest) -> HttpResponseBase:
    """Cancel at the end of the paid period and keep the member's answer to the survey."""
    form = CancelForm(request.POST)
    if not form.is_valid():
        data = account_data(str(request.user.pk))
        data.update(cancel_form=form, portal_providers=[])
        return render(request, "wagtail_paywall/account.html", data, status=400)
    membership = owned_membership(request, form.cleaned_data["membership"])
    reason = form.cleaned_data["reason"]
    offered = offer_step(request, membership, form)  # a retention offer, or None: go on
    if offered is not None:
        return offered
    with provider_errors(
        f"cancel of {membership.id}", _("Your membership was not canceled; please try again later.")
    ):
        try:
            # At the period's end (or sooner under the Wet van Dam: docs/cancellation.md).
            after = cancel_from_account(membership.id, reason)
        except InvalidTransition:
            raise ErrorPage(
                409, _("This membership has already ended"), _("There is nothing left to cancel.")
            ) from None
    CancellationFeedback.objects.create(
        membership_id=membership.id,
        member_id=membership.member_id,
        tier=membership.tier,
        reason=reason,
        comment=form.cleaned_data["comment"],
    )
    if after.current_period_end is not None and after.status in GRANTING:
        message = _("Your membership is canceled. You keep access until %(date)s.") % {
            "date": after.current_period_end.date().isoformat()
        }
    else:
        message = _("Your membership is canceled.")
    return account_redirect(request, message)


@require_POST
@member_required("paywall:account")
def resume(request: HttpRequest) -> HttpResponseBase:
    """Undo a cancellation that has not taken effect yet."""
    form = MembershipForm(request.POST)
    if not form.is_valid():
        raise ErrorPage(400, _("Nothing to resume"), _("Choose a membership to resume."))
    membership = owned_membership(request, form.cleaned_data["membership"])
    with provider_errors(
        f"resume of {membership.id}", _("Your membership was not resumed; please try again later.")
    ):
        try:
            get_program().resume(membership.id)
        except InvalidTransition:
            raise ErrorPage(
                409,
                _("Nothing to resume"),
                _("This membership is not set to end, or has already ended."),
            ) from None
    return account_redirect(request, _("Welcome back: your membership continues."))


@require_POST
@member_required("paywall:account")
def portal(request: HttpRequest) -> HttpResponseBase:
    """Send the member to the provider's billing portal (cards, invoices, address)."""
    form = PortalForm(request.POST)
    name = form.cleaned_data["provider"] if form.is_valid() else ""
    program = get_program()
    customer = (
        program.store.customers.customer_for(name, str(request.user.pk))
        if configured(name)
        else None
    )
    if customer is None:
        raise Http404(_("You have no billing account with this payment provider."))
    with provider_errors(
        f"portal of {name}", _("We could not open your billing portal; please try again later.")
    ):
        url = program.providers[name].portal_url(
            customer, request.build_absolute_uri(reverse("paywall:account"))
        )
    if url is None:
        return account_redirect(request, _("This payment provider has no billing portal."))
    return HttpResponseRedirect(url)


# -- the member's private feed address -------------------------------------------------------
def member_feed_urls(request: HttpRequest, token: str) -> dict[str, str]:
    """The absolute RSS and Atom URLs of the feed ``token`` opens."""
    return {
        "rss": request.build_absolute_uri(reverse("paywall:member_feed_rss", args=[token])),
        "atom": request.build_absolute_uri(reverse("paywall:member_feed_atom", args=[token])),
    }


@never_cache
@require_POST
@member_required("paywall:account")
def issue_feed_token(request: HttpRequest) -> HttpResponseBase:
    """Give the signed-in member a (new) private feed address; the old one stops.

    The answer shows the address, the only time it is ever shown: the database keeps
    the token's digest alone, and the token is kept nowhere else (no session, no
    redirect carrying it), so reloading the page asks to post again, for a new one.
    """
    _row, token = FeedToken.issue(str(request.user.pk))
    return render(
        request,
        "wagtail_paywall/member_feed_issued.html",
        {"member": True, "feed_live": True, "feed_urls": member_feed_urls(request, token)},
    )


@require_POST
@member_required("paywall:account")
def revoke_feed_token(request: HttpRequest) -> HttpResponseBase:
    """Stop the signed-in member's private feed address."""
    for row in FeedToken.objects.filter(member_id=str(request.user.pk), revoked_at=None):
        row.revoke()
    messages.success(request, _("Your private feed address no longer works."))
    return redirect("paywall:account")
