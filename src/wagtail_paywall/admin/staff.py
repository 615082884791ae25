"""Staff actions on the admin's member page: cancel a membership (now or at the period's
end), refund a subscription's latest payment or a one-off purchase, pause and unpause,
change plan (with the proration preview), and give a gift.

Every action is a CSRF-protected POST that needs a permission (``change_membership`` for
actions on a membership, ``change_grant`` for gifts and purchase refunds); destructive
ones (cancel, refund, plan change) first show a confirmation page. Each goes through the
site's :class:`~membership_sdk.MembershipProgram`, so it fires the same hooks, and the
refund follows the same ``ON_REFUND`` policy, as one made by code or at the provider. A
provider without a capability (see :mod:`membership_sdk.providers`) gets no button; the
page says why instead.

What was done, by whom and why is written to Wagtail's audit log against the member's
user (``wagtail_paywall.*`` actions, also in Wagtail's "Site history" report) and listed
as the member's history. A membership or purchase of another member, a price the plan
cannot move to, an ended membership or a provider failure is refused with a message
naming it, and changes nothing. See ``docs/publisher-guide.md`` (Staff actions).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.defaults import permission_denied
from wagtail.log_actions import LogFormatter
from wagtail.log_actions import log as audit_log
from wagtail.models import ModelLogEntry

from membership_sdk import GrantKind, MembershipError, MembershipProgram, Status
from membership_sdk.catalog import Interval, Price
from membership_sdk.membership import TERMINAL
from membership_sdk.providers import Pausing, PlanChanges, PurchaseRefunds, SubscriptionRefunds

from ..formats import money
from ..models import Grant, Membership
from ..program import get_program

VIEW_PERMISSION = "wagtail_paywall.view_grant"
MEMBERSHIP_PERMISSION = "wagtail_paywall.change_membership"
GRANT_PERMISSION = "wagtail_paywall.change_grant"
#: Pauses staff may set, in months (as the member may on the account page).
PAUSE_MONTHS = (1, 2, 3)


def _require(request: HttpRequest, permission: str) -> None:
    if not request.user.has_perm(permission):  # type: ignore[union-attr]
        raise PermissionDenied


# -- the audit log ---------------------------------------------------------------------------
class StaffActionFormatter(LogFormatter):  # type: ignore[misc]
    """Shows a staff action's details (tier, amount, reason) after its message."""

    label = ""
    message = ""

    def format_message(self, log_entry: Any) -> str:
        detail = (log_entry.data or {}).get("detail", "")
        return f"{self.message}: {detail}" if detail else str(self.message)


#: Each action: its log name, its label and the message of its log entries.
ACTIONS: dict[str, tuple[str, Any, Any]] = {
    "cancel": (
        "wagtail_paywall.cancel",
        gettext_lazy("Cancel membership"),
        gettext_lazy("Membership canceled"),
    ),
    "refund": (
        "wagtail_paywall.refund",
        gettext_lazy("Refund payment"),
        gettext_lazy("Payment refunded"),
    ),
    "refund_purchase": (
        "wagtail_paywall.refund_purchase",
        gettext_lazy("Refund purchase"),
        gettext_lazy("Purchase refunded"),
    ),
    "pause": (
        "wagtail_paywall.pause",
        gettext_lazy("Pause membership"),
        gettext_lazy("Membership paused"),
    ),
    "unpause": (
        "wagtail_paywall.unpause",
        gettext_lazy("Resume paused membership"),
        gettext_lazy("Membership resumed"),
    ),
    "change_plan": (
        "wagtail_paywall.change_plan",
        gettext_lazy("Change plan"),
        gettext_lazy("Plan changed"),
    ),
    "gift": ("wagtail_paywall.gift", gettext_lazy("Give a gift"), gettext_lazy("Gift given")),
    "comp": ("wagtail_paywall.comp", gettext_lazy("Comp a tier"), gettext_lazy("Tier comped")),
    "erase": (
        "wagtail_paywall.erase",
        gettext_lazy("Erase member data"),
        gettext_lazy("Member data erased"),
    ),
}


def register_log_actions(actions: Any) -> None:
    """The ``register_log_actions`` hook: one action type per staff action."""
    for name, label, message in ACTIONS.values():
        formatter = type(
            "StaffActionFormatter", (StaffActionFormatter,), {"label": label, "message": message}
        )
        actions.register_action(name)(formatter)


def record(request: HttpRequest, member: Any, action: str, detail: str, **data: Any) -> None:
    """Write ``action`` (a key of :data:`ACTIONS`) on ``member`` to the audit log."""
    audit_log(
        instance=member,
        action=ACTIONS[action][0],
        user=request.user,
        data={"detail": detail, **{k: str(v) for k, v in data.items()}},
    )


def history(member: Any) -> list[dict[str, Any]]:
    """The member's staff actions, newest first (at most 50)."""
    entries = (
        ModelLogEntry.objects.for_instance(member)
        .filter(action__in=[name for name, _label, _message in ACTIONS.values()])
        .select_related("user")
        .order_by("-timestamp", "-pk")[:50]
    )
    return [
        {
            "timestamp": entry.timestamp,
            "user": entry.user_display_name,
            "message": entry.message,
            "reason": (entry.data or {}).get("reason", ""),
        }
        for entry in entries
    ]


# -- what each membership offers -------------------------------------------------------------
def plan_prices(program: MembershipProgram, membership: Membership) -> list[Price]:
    """The prices ``membership`` may move to: recurring prices of a tier, on sale, in its
    current price's currency, sold through its provider, other than its own."""
    catalog = program.catalog
    try:
        current = catalog.price(membership.price_id, include_archived=True)
    except MembershipError:
        return []
    return [
        price
        for tier in catalog.tiers
        for price in catalog.prices_for_tier(tier.slug)
        if price.id != current.id
        and price.interval is not Interval.ONE_OFF
        and price.currency == current.currency
        and membership.provider in price.provider_ids
    ]


def _price_label(price: Price) -> str:
    return f"{price.id} ({money(price.amount, price.currency)} / {price.interval})"


def membership_actions(program: MembershipProgram, membership: Membership) -> dict[str, Any]:
    """What staff may do to ``membership`` now, and why not where they may not."""
    provider = program.providers.get(membership.provider)
    ended = Status.parse(membership.status) in TERMINAL
    name = membership.provider
    actions: dict[str, Any] = {"membership": membership, "ended": ended}
    if provider is None:
        actions["unavailable"] = _(
            "The provider %(provider)s is not configured on this site: nothing can be done "
            "to this membership from here."
        ) % {"provider": name}
        return actions
    actions["can_cancel"] = not ended
    if isinstance(provider, SubscriptionRefunds):
        actions["can_refund"] = True
    else:
        actions["no_refund"] = _(
            "%(provider)s cannot refund payments from here: refund at the provider; its "
            "refund webhook then applies the refund policy."
        ) % {"provider": name}
    paused = Status.parse(membership.status) is Status.PAUSED or (
        membership.paused_until is not None and membership.paused_until > timezone.now()
    )
    if not isinstance(provider, Pausing):
        actions["no_pause"] = _("%(provider)s cannot pause subscriptions.") % {"provider": name}
    elif membership.cancel_at_period_end and not paused:
        actions["no_pause"] = _("Set to cancel at the period's end: nothing to pause.")
    elif not ended:
        actions["can_unpause" if paused else "can_pause"] = True
    if not isinstance(provider, PlanChanges):
        actions["no_plan_change"] = _("%(provider)s cannot change plans.") % {"provider": name}
    elif not ended:
        prices = plan_prices(program, membership)
        if prices:
            actions["plan_form"] = PlanChangeForm(prices=prices)
        else:
            actions["no_plan_change"] = _("No other plan in this currency to move to.")
    return actions


def purchase_actions(program: MembershipProgram, grant: Grant) -> dict[str, Any] | None:
    """A purchase grant and whether its payment can be refunded from here."""
    if grant.kind != GrantKind.PURCHASE or ":" not in grant.source:
        return None
    name = grant.source.partition(":")[0]
    provider = program.providers.get(name)
    if isinstance(provider, PurchaseRefunds):
        return {"grant": grant, "can_refund": True}
    return {
        "grant": grant,
        "no_refund": _("%(provider)s cannot refund purchases from here.") % {"provider": name},
    }


def context(request: HttpRequest, member: Any, grants: list[Grant]) -> dict[str, Any]:
    """What the member page shows of staff actions."""
    program = get_program()
    member_id = str(member.pk)
    memberships = Membership.objects.filter(member_id=member_id).order_by("-started_at")
    return {
        "staff_memberships": [membership_actions(program, m) for m in memberships],
        "staff_purchases": [a for g in grants if (a := purchase_actions(program, g))],
        "staff_history": history(member),
        "can_change_memberships": request.user.has_perm(MEMBERSHIP_PERMISSION),  # type: ignore[union-attr]
        "can_change_grants": request.user.has_perm(GRANT_PERMISSION),  # type: ignore[union-attr]
        "gift_form": GiftForm(),
        "pause_form": PauseForm(),
    }


# -- forms -----------------------------------------------------------------------------------
REASON_HELP = gettext_lazy("Kept in the member's history, for other editors.")


class CancelForm(forms.Form):
    when = forms.ChoiceField(
        label=gettext_lazy("When"),
        choices=[
            ("period_end", gettext_lazy("At the end of the paid period")),
            ("now", gettext_lazy("Now: access ends at once")),
        ],
        initial="period_end",
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason"), max_length=500, required=True, help_text=REASON_HELP
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason"), max_length=500, required=True, help_text=REASON_HELP
    )


class PauseForm(forms.Form):
    months = forms.TypedChoiceField(
        label=gettext_lazy("Months"),
        coerce=int,
        choices=[(m, str(m)) for m in PAUSE_MONTHS],
        initial=1,
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason"), max_length=500, required=False, help_text=REASON_HELP
    )


class PlanChangeForm(forms.Form):
    """A price among ``prices`` (see :func:`plan_prices`): any other is a form error."""

    price = forms.ChoiceField(label=gettext_lazy("New plan"))
    proration_date = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=0)

    def __init__(self, *args: Any, prices: list[Price], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["price"].choices = [(p.id, _price_label(p)) for p in prices]  # type: ignore[attr-defined]


class GiftForm(forms.Form):
    """A tier for a number of days: a gift ends by itself."""

    tier = forms.ChoiceField(label=gettext_lazy("Tier"))
    days = forms.IntegerField(label=gettext_lazy("Days"), min_value=1, max_value=3660, initial=30)
    note = forms.CharField(
        label=gettext_lazy("Note"),
        required=False,
        max_length=500,
        help_text=gettext_lazy("Who gives it, and why: kept with the gift."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tier"].choices = [  # type: ignore[attr-defined]
            (t.slug, t.name) for t in get_program().catalog.tiers
        ]


# -- views -----------------------------------------------------------------------------------
CONFIRM_TEMPLATE = "wagtail_paywall/admin/staff_confirm.html"


def _found(model: Any, **lookup: Any) -> Any:
    """The row, or a 404 also when an id is not even of the primary key's type
    (``/admin/paywall_members/abc/``): a URL is input, never a 500."""
    try:
        return get_object_or_404(model, **lookup)
    except (ValueError, ValidationError):
        raise Http404(f"no {model._meta.verbose_name} matches {lookup!r}") from None


class _Action:
    """What one request acts on: the member, and their membership or purchase grant (a
    404 when it belongs to someone else)."""

    def __init__(self, request: HttpRequest, member_id: str, permission: str) -> None:
        from django.contrib.auth import get_user_model

        _require(request, VIEW_PERMISSION)
        _require(request, permission)
        self.request = request
        self.member = _found(get_user_model(), pk=member_id)
        self.member_id = str(self.member.pk)
        self.detail_url = reverse("paywall_members:detail", args=[self.member_id])
        self.program = get_program()

    def membership(self, membership_id: str) -> Membership:
        return _found(Membership, pk=membership_id, member_id=self.member_id)

    def purchase(self, grant_id: str) -> Grant:
        return _found(Grant, pk=grant_id, member_id=self.member_id, kind=GrantKind.PURCHASE)

    def back(self) -> HttpResponseRedirect:
        return HttpResponseRedirect(self.detail_url)

    def failed(self, exc: MembershipError) -> HttpResponseRedirect:
        messages.error(self.request, _("Nothing was changed: %(error)s") % {"error": exc})
        return self.back()

    def confirm(self, title: str, **extra: Any) -> TemplateResponse:
        status = 400 if extra.get("form") is not None and extra["form"].errors else 200
        return TemplateResponse(
            self.request,
            CONFIRM_TEMPLATE,
            {
                "page_title": title,
                "header_title": title,
                "header_icon": "user",
                "breadcrumbs_items": [
                    {"url": reverse("wagtailadmin_home"), "label": _("Home")},
                    {"url": reverse("paywall_members:index"), "label": _("Members")},
                    {"url": self.detail_url, "label": self.member.get_username()},
                    {"url": "", "label": title},
                ],
                "member": self.member,
                "back_url": self.detail_url,
                **extra,
            },
            status=status,
        )


def _describe(membership: Membership) -> str:
    return f"{membership.tier} ({membership.provider} {membership.provider_subscription_id})"


def _live(action: _Action, membership: Membership) -> HttpResponse | None:
    """Refuse (back to the member page, with a message) a membership that ended."""
    if Status.parse(membership.status) in TERMINAL:
        messages.error(
            action.request,
            _("Membership %(membership)s already ended (%(status)s); nothing was changed.")
            % {"membership": membership.pk, "status": membership.status},
        )
        return action.back()
    return None


def _staff_view(
    view: Callable[..., HttpResponse], *, post_only: bool = False
) -> Callable[..., HttpResponse]:
    """A staff action: a plain 403 for staff without its permission (Wagtail's admin
    would turn it into a redirect to the dashboard, which reads as if it had worked);
    with ``post_only``, a 404 for anything but a POST."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if post_only and request.method != "POST":
            raise Http404
        try:
            return view(request, *args, **kwargs)
        except PermissionDenied as exc:
            return permission_denied(request, exc)

    return wrapped


def _post_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    return _staff_view(view, post_only=True)


@_staff_view
def cancel_membership(request: HttpRequest, member_id: str, membership_id: str) -> HttpResponse:
    """GET: the confirmation form (when, reason); POST: cancel through the provider."""
    action = _Action(request, member_id, MEMBERSHIP_PERMISSION)
    membership = action.membership(membership_id)
    refused = _live(action, membership)
    if refused is not None:
        return refused
    form = CancelForm(request.POST if request.method == "POST" else None)
    title = _("Cancel membership %(membership)s") % {"membership": _describe(membership)}
    if request.method != "POST" or not form.is_valid():
        return action.confirm(
            title, form=form, membership=membership, action_label=_("Cancel membership")
        )
    now = form.cleaned_data["when"] == "now"
    reason = form.cleaned_data["reason"]
    try:
        after = action.program.cancel(membership.pk, reason=reason, at_period_end=not now)
    except MembershipError as exc:
        return action.failed(exc)
    if now:
        detail = _("%(membership)s, access ended now") % {"membership": _describe(membership)}
    else:
        detail = _("%(membership)s, at the period's end (%(end)s)") % {
            "membership": _describe(membership),
            "end": _date(after.current_period_end),
        }
    record(request, action.member, "cancel", detail, reason=reason, membership=membership.pk)
    messages.success(request, _("Membership canceled: %(detail)s.") % {"detail": detail})
    return action.back()


@_staff_view
def refund_membership(request: HttpRequest, member_id: str, membership_id: str) -> HttpResponse:
    """GET: what a refund of the latest payment does (the ``ON_REFUND`` policy); POST:
    refund it through the provider."""
    action = _Action(request, member_id, MEMBERSHIP_PERMISSION)
    membership = action.membership(membership_id)
    provider = action.program.providers.get(membership.provider)
    if not isinstance(provider, SubscriptionRefunds):
        messages.error(
            request,
            _("%(provider)s cannot refund payments from here; nothing was changed.")
            % {"provider": membership.provider},
        )
        return action.back()
    form = ReasonForm(request.POST if request.method == "POST" else None)
    title = _("Refund the latest payment of %(membership)s") % {"membership": _describe(membership)}
    if request.method != "POST" or not form.is_valid():
        return action.confirm(
            title,
            form=form,
            membership=membership,
            policy=action.program.on_refund,
            action_label=_("Refund"),
        )
    reason = form.cleaned_data["reason"]
    try:
        refund, after = action.program.refund(membership.pk)
    except MembershipError as exc:
        return action.failed(exc)
    amount = _money(refund.amount, refund.currency)
    if Status.parse(after.status) in TERMINAL:
        effect = _("access ended now")
    elif after.cancel_at_period_end:
        effect = _("access lasts until %(end)s, then the membership ends") % {
            "end": _date(after.current_period_end)
        }
    else:
        effect = _("access unchanged (the payment paid an earlier period)")
    detail = _("%(amount)s of %(membership)s (payment %(payment)s); %(effect)s") % {
        "amount": amount,
        "membership": _describe(membership),
        "payment": refund.payment_id,
        "effect": effect,
    }
    record(request, action.member, "refund", detail, reason=reason, membership=membership.pk)
    messages.success(request, _("Refunded %(detail)s.") % {"detail": detail})
    return action.back()


@_staff_view
def refund_purchase(request: HttpRequest, member_id: str, grant_id: str) -> HttpResponse:
    """GET: confirm; POST: refund a one-off purchase through its provider and revoke it."""
    action = _Action(request, member_id, GRANT_PERMISSION)
    grant = action.purchase(grant_id)
    form = ReasonForm(request.POST if request.method == "POST" else None)
    what = grant.item or grant.tier or grant.pk
    title = _("Refund the purchase of %(item)s") % {"item": what}
    if request.method != "POST" or not form.is_valid():
        return action.confirm(title, form=form, grant=grant, action_label=_("Refund"))
    reason = form.cleaned_data["reason"]
    try:
        refund, _grant = action.program.refund_purchase(grant.pk)
    except MembershipError as exc:
        return action.failed(exc)
    detail = _("%(amount)s for %(item)s (payment %(payment)s); access to it ended") % {
        "amount": _money(refund.amount, refund.currency),
        "item": what,
        "payment": refund.payment_id,
    }
    record(request, action.member, "refund_purchase", detail, reason=reason, grant=grant.pk)
    messages.success(request, _("Refunded %(detail)s.") % {"detail": detail})
    return action.back()


@_post_only
def pause_membership(request: HttpRequest, member_id: str, membership_id: str) -> HttpResponse:
    """POST: pause billing (and access, per the site's setting) for 1 to 3 months."""
    action = _Action(request, member_id, MEMBERSHIP_PERMISSION)
    membership = action.membership(membership_id)
    refused = _live(action, membership) or _unsupported(action, membership, Pausing)
    if refused is not None:
        return refused
    form = PauseForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Pause for 1, 2 or 3 months; nothing was changed."))
        return action.back()
    months, reason = form.cleaned_data["months"], form.cleaned_data["reason"]
    try:
        after = action.program.pause(membership.pk, months=months, reason=reason)
    except MembershipError as exc:
        return action.failed(exc)
    detail = _("%(membership)s for %(months)d month(s), until %(until)s") % {
        "membership": _describe(membership),
        "months": months,
        "until": _date(getattr(after, "paused_until", None)),
    }
    record(request, action.member, "pause", detail, reason=reason, membership=membership.pk)
    messages.success(request, _("Paused %(detail)s.") % {"detail": detail})
    return action.back()


@_post_only
def unpause_membership(request: HttpRequest, member_id: str, membership_id: str) -> HttpResponse:
    """POST: resume a paused membership now."""
    action = _Action(request, member_id, MEMBERSHIP_PERMISSION)
    membership = action.membership(membership_id)
    refused = _live(action, membership) or _unsupported(action, membership, Pausing)
    if refused is not None:
        return refused
    try:
        action.program.unpause(membership.pk)
    except MembershipError as exc:
        return action.failed(exc)
    detail = _describe(membership)
    record(request, action.member, "unpause", detail, membership=membership.pk)
    messages.success(request, _("Resumed %(detail)s.") % {"detail": detail})
    return action.back()


@_staff_view
def change_plan(request: HttpRequest, member_id: str, membership_id: str) -> HttpResponse:
    """GET with ``price``: the proration preview and a confirm button; POST: change the
    plan, billed as previewed (the preview's ``proration_date`` is posted back)."""
    action = _Action(request, member_id, MEMBERSHIP_PERMISSION)
    membership = action.membership(membership_id)
    refused = _live(action, membership) or _unsupported(action, membership, PlanChanges)
    if refused is not None:
        return refused
    prices = plan_prices(action.program, membership)
    data = request.POST if request.method == "POST" else request.GET
    form = PlanChangeForm(data, prices=prices)
    title = _("Change the plan of %(membership)s") % {"membership": _describe(membership)}
    if not form.is_valid():
        return action.confirm(title, form=form, membership=membership, plan_change=True)
    price_id = form.cleaned_data["price"]
    program = action.program
    if request.method != "POST":
        try:
            preview = program.preview_plan_change(membership.pk, price_id)
        except MembershipError as exc:
            return action.failed(exc)
        confirm_form = PlanChangeForm(
            initial={"price": price_id, "proration_date": preview.proration_date}, prices=prices
        )
        return action.confirm(
            title,
            form=confirm_form,
            membership=membership,
            plan_change=True,
            preview=preview,
            lines=[
                {"description": line.description, "amount": _money(line.amount, preview.currency)}
                for line in preview.lines
            ],
            amount_due=_money(preview.amount_due, preview.currency),
            new_price=price_id,
            action_label=_("Change plan"),
        )
    try:
        program.change_plan(
            membership.pk, price_id, proration_date=form.cleaned_data["proration_date"]
        )
    except MembershipError as exc:
        return action.failed(exc)
    detail = _("%(membership)s from %(old)s to %(new)s") % {
        "membership": _describe(membership),
        "old": membership.price_id,
        "new": price_id,
    }
    record(request, action.member, "change_plan", detail, membership=membership.pk)
    messages.success(request, _("Plan changed: %(detail)s.") % {"detail": detail})
    return action.back()


@_post_only
def give_gift(request: HttpRequest, member_id: str) -> HttpResponse:
    """POST: give the member a tier for a number of days, as a gift that ends by itself."""
    action = _Action(request, member_id, GRANT_PERMISSION)
    form = GiftForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
        messages.error(request, _("No gift given: %(errors)s") % {"errors": errors})
        return action.back()
    data = form.cleaned_data
    try:
        grant = action.program.grant(
            action.member_id,
            GrantKind.GIFT,
            tier=data["tier"],
            days=data["days"],
            note=data["note"],
        )
    except MembershipError as exc:
        return action.failed(exc)
    detail = _("%(tier)s for %(days)d days, until %(until)s") % {
        "tier": data["tier"],
        "days": data["days"],
        "until": _date(grant.ends_at),
    }
    record(request, action.member, "gift", detail, reason=data["note"], grant=grant.id)
    messages.success(request, _("Gift given: %(detail)s.") % {"detail": detail})
    return action.back()


def _unsupported(action: _Action, membership: Membership, capability: type) -> HttpResponse | None:
    """Refuse (back to the member page, with a message) what the provider cannot do."""
    provider = action.program.providers.get(membership.provider)
    if isinstance(provider, capability):
        return None
    messages.error(
        action.request,
        _("%(provider)s cannot do this (%(capability)s); nothing was changed.")
        % {"provider": membership.provider, "capability": capability.__name__},
    )
    return action.back()


def _money(amount: int, currency: str) -> str:
    if not currency:
        return str(amount)
    return money(amount, currency.upper())


def _date(moment: datetime | None) -> str:
    return "—" if moment is None else timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def urlpatterns() -> list[Any]:
    """The staff actions' URLs, under the members viewset (``paywall_members:``)."""
    membership = "<str:member_id>/memberships/<str:membership_id>"
    return [
        path(f"{membership}/cancel/", cancel_membership, name="cancel"),
        path(f"{membership}/refund/", refund_membership, name="refund"),
        path(f"{membership}/pause/", pause_membership, name="pause"),
        path(f"{membership}/unpause/", unpause_membership, name="unpause"),
        path(f"{membership}/change-plan/", change_plan, name="change_plan"),
        path(
            "<str:member_id>/purchases/<str:grant_id>/refund/",
            refund_purchase,
            name="refund_purchase",
        ),
        path("<str:member_id>/gift/", give_gift, name="gift"),
    ]
