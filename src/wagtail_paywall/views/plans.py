"""The member's plan changes and pauses, from the account page: a preview of what a plan
change costs (the proration lines and the amount due) confirmed on a second step, and a
pause of one to three months with its reason, resumed by itself or by the member.

Providers that decline a capability (no ``preview_plan_change``/``change_plan``, no
``pause_subscription``) are named on the account page instead of offering it. See
``docs/lifecycle.md``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from membership_sdk import Catalog, InvalidTransition, MembershipProgram, ProviderError
from membership_sdk import membership as core
from membership_sdk.lifecycle import (
    MAX_PAUSE_MONTHS,
    CapabilityDeclined,
    CurrencyMismatch,
    NotAPlan,
    PauseError,
    PlanChangeError,
    SamePlan,
    StalePreview,
)
from membership_sdk.providers import Pausing, PlanChanges
from membership_sdk.providers.manual import ManualProvider

from ..billing.manual import bank_instructions
from ..formats import money
from ..forms import ChangePlanForm, MembershipForm
from ..program import get_program
from .base import (
    ErrorPage,
    account_redirect,
    amount,
    member_required,
    owned_membership,
    provider_errors,
)


class ConfirmPlanForm(ChangePlanForm):
    """Confirm a previewed plan change: billed as the preview at ``proration_date``."""

    price = forms.CharField(max_length=64, widget=forms.HiddenInput)
    proration_date = forms.IntegerField(widget=forms.HiddenInput, min_value=0)


class PauseForm(MembershipForm):
    """Pause a membership for one to three months, and why (the publisher reads it)."""

    months = forms.TypedChoiceField(
        label=gettext_lazy("Pause for"),
        coerce=int,
        choices=[
            (n, gettext_lazy("%(n)d month") % {"n": n}
             if n == 1 else gettext_lazy("%(n)d months") % {"n": n})
            for n in range(1, MAX_PAUSE_MONTHS + 1)
        ],
    )  # fmt: skip
    reason = forms.CharField(
        label=gettext_lazy("Why are you pausing? (optional)"), max_length=500, required=False
    )


# -- what the account page shows -----------------------------------------------------------------
def other_plans(catalog: Catalog, membership: core.Membership) -> list[dict[str, Any]]:
    """The recurring tier prices ``membership`` could move to: sold through its provider,
    in its currency, not archived, not its own."""
    try:
        own = catalog.price(membership.price_id or "", include_archived=True)
    except LookupError:
        own = None
    return [
        {"price": p, "amount": amount(p), "tier_name": catalog.tier(p.tier).name if p.tier else ""}
        for p in catalog.prices
        if p.recurring
        and not p.archived
        and p.tier
        and p.gift_months is None
        and p.id != membership.price_id
        and membership.provider in p.provider_ids
        and (own is None or p.currency == own.currency)
    ]


def lifecycle_row(program: MembershipProgram, membership: core.Membership) -> dict[str, Any]:
    """The plan-change and pause parts of the account page's row of ``membership``:
    what it may do, and the capabilities its provider declines (said plainly)."""
    provider = program.providers.get(membership.provider)
    running = membership.status in (core.Status.ACTIVE, core.Status.TRIALING)
    changes = isinstance(provider, PlanChanges)
    pausing = isinstance(provider, Pausing)
    pending = None
    if isinstance(provider, ManualProvider) and membership.provider_subscription_id:
        invoice = provider.plan_change_invoice(membership.provider_subscription_id)
        if invoice is not None:
            pending = {"invoice": invoice, "instructions": bank_instructions(provider, invoice)}
    renews = membership.status is core.Status.ACTIVE and not membership.cancel_at_period_end
    return {
        "plans": other_plans(program.catalog, membership) if changes and running else [],
        "plans_declined": not changes and running,
        "can_pause": pausing and renews,
        "pause_declined": not pausing and renews,
        "can_unpause": pausing and membership.status is core.Status.PAUSED,
        "pause_form": PauseForm(initial={"membership": membership.id}),
        "pending_plan_change": pending,
    }


# -- plan changes ------------------------------------------------------------------------------
def _refused(exc: Exception) -> ErrorPage:
    """The error page for a plan change the program refused; nothing was changed."""
    if isinstance(exc, NotAPlan):
        return ErrorPage(
            404,
            _("This price is not for sale"),
            _("The plan you chose is unknown or no longer offered. Nothing was changed."),
        )
    if isinstance(exc, CurrencyMismatch):
        message = _("The plan you chose is billed in another currency. Nothing was changed.")
    elif isinstance(exc, SamePlan):
        message = _("You are on this plan already.")
    elif isinstance(exc, StalePreview):
        return ErrorPage(
            409,
            _("Plan not changed"),
            _("The price you confirmed is out of date. Please look at the plan change again."),
        )
    elif isinstance(exc, CapabilityDeclined):
        message = _(
            "Plans of this membership cannot be changed here; cancel it and choose another."
        )
    else:
        message = _("This membership cannot change plan now. Nothing was changed.")
    return ErrorPage(400, _("Plan not changed"), message)


@never_cache
@require_GET
@member_required("paywall:account")
def plan_preview(request: HttpRequest) -> HttpResponseBase:
    """What moving a membership to another plan costs, to confirm on the next step."""
    form = ChangePlanForm(request.GET)
    if not form.is_valid():
        raise ErrorPage(400, _("Plan not changed"), _("Choose a new plan."))
    membership = owned_membership(request, form.cleaned_data["membership"])
    program = get_program()
    price_id = form.cleaned_data["price"]
    with provider_errors(
        f"plan change preview of {membership.id}",
        _("We could not work out the price of this change; please try again later."),
    ):
        try:
            preview = program.preview_plan_change(membership.id, price_id)
        except (PlanChangeError, CapabilityDeclined) as exc:
            raise _refused(exc) from None
    price = program.catalog.price(price_id)
    currency = price.currency
    context = {
        "membership": membership,
        "tier_name": program.catalog.tier(membership.tier).name,
        "price": price,
        "new_tier_name": program.catalog.tier(price.tier or "").name,
        "new_amount": amount(price),
        "preview": preview,
        "lines": [{"line": line, "amount": money(line.amount, currency)} for line in preview.lines],
        "amount_due": money(preview.amount_due, currency),
        "applies_later": preview.effective_at is not None
        and preview.amount_due == 0
        and preview.effective_at > program.clock(),
        "on_payment": preview.effective_at is None,
        "form": ConfirmPlanForm(
            initial={
                "membership": membership.id,
                "price": price_id,
                "proration_date": preview.proration_date,
            }
        ),
    }
    return render(request, "wagtail_paywall/plan_change.html", context)


@require_POST
@member_required("paywall:account")
def change_plan(request: HttpRequest) -> HttpResponseBase:
    """Make the plan change the member confirmed, billed as its preview showed."""
    named = MembershipForm(request.POST)
    if not named.is_valid():
        raise ErrorPage(400, _("Plan not changed"), _("Choose a new plan."))
    # Someone else's membership is a 404 whatever else the form holds.
    membership = owned_membership(request, named.cleaned_data["membership"])
    form = ConfirmPlanForm(request.POST)
    if not form.is_valid():
        raise ErrorPage(400, _("Plan not changed"), _("Choose a new plan and confirm its price."))
    program = get_program()
    with provider_errors(
        f"plan change of {membership.id}", _("Your plan was not changed; please try again later.")
    ):
        try:
            after = program.change_plan(
                membership.id,
                form.cleaned_data["price"],
                proration_date=form.cleaned_data["proration_date"],
            )
        except (PlanChangeError, CapabilityDeclined) as exc:
            raise _refused(exc) from None
        except ProviderError as exc:
            if exc.code != "card_declined":
                raise
            raise ErrorPage(
                402,
                _("Plan not changed"),
                _(
                    "Your card was declined, so your plan was not changed. Update your "
                    "payment method and try again."
                ),
            ) from None
    new = program.catalog.price(form.cleaned_data["price"])
    name = program.catalog.tier(new.tier or "").name
    if after.price_id == new.id:
        message = _("Your plan is now %(plan)s.") % {"plan": name}
    elif lifecycle_row(program, after)["pending_plan_change"] is not None:
        message = _(
            "We sent you an invoice for the difference. Your plan becomes %(plan)s when it is paid."
        ) % {"plan": name}
    elif after.current_period_end is not None:
        message = _("Your plan becomes %(plan)s on %(date)s.") % {
            "plan": name,
            "date": _date(after.current_period_end),
        }
    else:
        message = _("Your plan change is being confirmed.")
    return account_redirect(request, message)


def _date(moment: datetime) -> str:
    return moment.date().isoformat()


# -- pauses ---------------------------------------------------------------------------------
@require_POST
@member_required("paywall:account")
def pause(request: HttpRequest) -> HttpResponseBase:
    """Pause a membership for one to three months, keeping the member's reason."""
    form = PauseForm(request.POST)
    if not form.is_valid():
        raise ErrorPage(400, _("Not paused"), _("Choose a pause of one to three months."))
    membership = owned_membership(request, form.cleaned_data["membership"])
    with provider_errors(
        f"pause of {membership.id}", _("Your membership was not paused; please try again later.")
    ):
        try:
            after = get_program().pause(
                membership.id,
                months=form.cleaned_data["months"],
                reason=form.cleaned_data["reason"],
            )
        except CapabilityDeclined:
            raise ErrorPage(
                400, _("Not paused"), _("This membership cannot be paused here.")
            ) from None
        except (PauseError, InvalidTransition):
            raise ErrorPage(
                409, _("Not paused"), _("Only an active membership that renews can be paused.")
            ) from None
    until = after.paused_until
    if until is None:
        return account_redirect(request, _("Your membership is paused."))
    return account_redirect(
        request,
        _("Your membership is paused until %(date)s. It resumes by itself then.")
        % {"date": _date(until)},
    )


@require_POST
@member_required("paywall:account")
def unpause(request: HttpRequest) -> HttpResponseBase:
    """End a pause now."""
    form = MembershipForm(request.POST)
    if not form.is_valid():
        raise ErrorPage(400, _("Nothing to resume"), _("Choose a membership to resume."))
    membership = owned_membership(request, form.cleaned_data["membership"])
    with provider_errors(
        f"unpause of {membership.id}",
        _("Your membership was not resumed; please try again later."),
    ):
        try:
            get_program().unpause(membership.id)
        except (PauseError, CapabilityDeclined, InvalidTransition):
            raise ErrorPage(
                409, _("Nothing to resume"), _("This membership is not paused.")
            ) from None
    return account_redirect(request, _("Welcome back: your membership continues."))
