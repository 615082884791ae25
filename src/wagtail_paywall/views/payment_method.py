"""The "update your payment method" page: the address the payment-failed emails link to.

One stable address for every provider (a billing-portal session expires within minutes,
so an email never carries one): for the signed-in member's past-due membership it shows
the ``fake`` provider's card page (for demos and tests: "Update card" makes the card work
and charges the overdue period at once), or sends them to the provider's billing portal
(Stripe). Bank transfers have no card to update: the member goes to the account page,
where the invoice is. See ``docs/dunning.md``.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from membership_sdk import Membership, Status
from membership_sdk.membership import GRANTING
from membership_sdk.providers.fake import FakeProvider

from ..program import get_program
from ..tasks import deliver
from .base import account_redirect, member_required, provider_errors


def _membership_to_fix(member_id: str) -> Membership | None:
    """The member's past-due membership, else one still giving access (to manage its
    card before it fails), billed by a provider this site uses."""
    program = get_program()
    mine = [
        m
        for m in program.store.memberships.for_member(member_id)
        if m.status in GRANTING and m.provider in program.providers and m.provider_customer_id
    ]
    mine.sort(key=lambda m: m.status is not Status.PAST_DUE)
    return mine[0] if mine else None


@never_cache
@require_http_methods(["GET", "POST"])
@member_required()
def payment_method(request: HttpRequest) -> HttpResponseBase:
    """Where a member updates the card of their (past-due) membership."""
    membership = _membership_to_fix(str(request.user.pk))
    if membership is None:
        return account_redirect(request, _("You have no membership with a card to update."))
    provider = get_program().providers[membership.provider]
    customer = membership.provider_customer_id or ""
    if isinstance(provider, FakeProvider):
        if request.method == "POST":
            with provider_errors(
                "fake payment method update", _("We could not update your card; try again.")
            ):
                webhooks = provider.update_payment_method(customer)
            for webhook in webhooks:
                deliver(provider.name, webhook.headers, webhook.body)
            return account_redirect(
                request,
                _("Your card was updated and the overdue payment was collected.")
                if webhooks
                else _("Your card was updated."),
            )
        context = {
            "membership": membership,
            "declining": customer in provider.declining,
            "past_due": membership.status is Status.PAST_DUE,
        }
        return render(request, "wagtail_paywall/fake_payment_method.html", context)
    if request.method == "POST":
        return account_redirect(request)
    with provider_errors(
        f"portal of {membership.provider}",
        _("We could not open your billing portal; please try again later."),
    ):
        url = provider.portal_url(customer, request.build_absolute_uri(reverse("paywall:account")))
    if url is None:
        return account_redirect(
            request, _("Your payment provider has no page to update a payment method.")
        )
    return HttpResponseRedirect(url)
