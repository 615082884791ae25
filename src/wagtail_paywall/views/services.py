"""The member's services page (``/paywall/services/``): what their membership includes of
each service (``service.consultation: 2 per month``), what is used and left this period,
a form to request one with a note, their requests, and a button to cancel an open one.

Requests go through :class:`membership_sdk.services.ServiceDesk`: a request takes its
slot atomically, so a double click or two tabs never overrun the quota. Staff redeem
or decline requests in the admin (:mod:`wagtail_paywall.admin.services`). See
``docs/services.md``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from membership_sdk import services as core
from membership_sdk.access import AccessContext

from ..access import member_context
from ..models.services import service_name
from ..program import get_program
from .base import member_required, safe_next

TEMPLATE = "wagtail_paywall/services.html"
#: How far back the page lists closed requests (open ones are always listed).
HISTORY = timedelta(days=366)


def allowance_line(allowance: core.Allowance) -> str:
    """One line saying what the member has left of a service, and when it renews."""
    name = service_name(allowance.service)
    # Periods are calendar periods in UTC: the day it renews is the UTC date.
    day = date_format(allowance.renews_at.date(), "DATE_FORMAT")
    if allowance.quota is None:
        return _("%(name)s: as often as you need (%(used)d so far this month)") % {
            "name": name,
            "used": allowance.used,
        }
    values = {"name": name, "left": allowance.left, "limit": allowance.limit, "date": day}
    left = allowance.left or 0
    period = allowance.period.value
    if period == "day":
        text = ngettext(
            "%(name)s: %(left)d of %(limit)d left today (renews on %(date)s)",
            "%(name)s: %(left)d of %(limit)d left today (renews on %(date)s)",
            left,
        )
    elif period == "week":
        text = ngettext(
            "%(name)s: %(left)d of %(limit)d left this week (renews on %(date)s)",
            "%(name)s: %(left)d of %(limit)d left this week (renews on %(date)s)",
            left,
        )
    elif period == "year":
        text = ngettext(
            "%(name)s: %(left)d of %(limit)d left this year (renews on %(date)s)",
            "%(name)s: %(left)d of %(limit)d left this year (renews on %(date)s)",
            left,
        )
    else:
        text = ngettext(
            "%(name)s: %(left)d of %(limit)d left this month (renews on %(date)s)",
            "%(name)s: %(left)d of %(limit)d left this month (renews on %(date)s)",
            left,
        )
    return text % values


class ServiceRequestForm(forms.Form):
    """What the services page posts: which service, and a note for staff."""

    service = forms.ChoiceField(label=gettext_lazy("Service"))
    note = forms.CharField(
        label=gettext_lazy("Note (optional)"),
        max_length=core.NOTE_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("When suits you, and what it is about."),
    )

    def __init__(self, *args: Any, allowances: list[core.Allowance], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["service"].choices = [  # type: ignore[attr-defined]
            (a.service, service_name(a.service)) for a in allowances if a.left != 0
        ]


def desk() -> core.ServiceDesk:
    """The site's service desk (requests kept in the database)."""
    return core.ServiceDesk(get_program())


def account_services(member_id: str, context: AccessContext) -> dict[str, Any]:
    """What the account page shows of services: a line per service held, and the open
    requests. Costs one query for a member holding services, none otherwise."""
    allowances = desk().allowances(member_id, context=context)
    return {
        "service_rows": [
            {"allowance": a, "line": allowance_line(a), "name": service_name(a.service)}
            for a in allowances
        ],
        "open_requests": [
            {"request": r, "name": service_name(r.service)} for a in allowances for r in a.open
        ],
    }


def _page(
    request: HttpRequest,
    member_id: str,
    context: AccessContext,
    form: ServiceRequestForm | None = None,
    status: int = 200,
) -> HttpResponseBase:
    service_desk = desk()
    allowances = service_desk.allowances(member_id, context=context)
    if form is None:
        form = ServiceRequestForm(allowances=allowances)
    history = service_desk.requests(member_id, context.now - HISTORY)[:50]
    return render(
        request,
        TEMPLATE,
        {
            "form": form,
            "rows": [
                {"allowance": a, "line": allowance_line(a), "name": service_name(a.service)}
                for a in allowances
            ],
            "can_request": any(a.left != 0 for a in allowances),
            "history": [{"request": r, "name": service_name(r.service)} for r in history],
        },
        status=status,
    )


@never_cache
@require_http_methods(["GET", "POST"])
@member_required()
def services(request: HttpRequest) -> HttpResponseBase:
    """GET: the member's services and requests. POST: request a service with a note; a
    service the member does not hold, or whose quota is used up, is a form error saying
    so (400, 409) and nothing is stored."""
    member_id = str(request.user.pk)
    context = member_context(request)
    if request.method != "POST":
        return _page(request, member_id, context)
    service_desk = desk()
    form = ServiceRequestForm(
        request.POST, allowances=service_desk.allowances(member_id, context=context)
    )
    if not form.is_valid():
        return _page(request, member_id, context, form, status=400)
    service = form.cleaned_data["service"]
    name = service_name(service)
    try:
        # A plugin's hook failing rolls the request back with it: nothing half-done.
        with transaction.atomic():
            service_desk.request(member_id, service, form.cleaned_data["note"], context=context)
    except core.ServiceQuotaExhausted as exc:
        form.add_error(
            "service",
            _("You have used every %(name)s of this period; more from %(date)s.")
            % {"name": name, "date": date_format(exc.renews_at.date(), "DATE_FORMAT")},
        )
        return _page(request, member_id, context, form, status=409)
    except core.ServiceNotHeld:
        form.add_error("service", _("Your membership does not include %(name)s.") % {"name": name})
        return _page(request, member_id, context, form, status=400)
    messages.success(
        request,
        _("Requested: %(name)s. We will be in touch; your request is listed below.")
        % {"name": name},
        fail_silently=True,
    )
    return HttpResponseRedirect(reverse("paywall:services"))


@never_cache
@require_POST
@member_required("paywall:services")
def cancel_request(request: HttpRequest, request_id: str) -> HttpResponseBase:
    """POST: cancel the member's own open request; its slot is theirs again. Another
    member's request, or an id nobody has, is a 404; a closed one a message."""
    back = safe_next(request, request.POST.get("next"), reverse("paywall:services"))
    try:
        with transaction.atomic():
            canceled = desk().cancel(str(request.user.pk), request_id)
    except core.UnknownServiceRequest:
        raise Http404(_("No such request.")) from None
    except core.ServiceRequestClosed as exc:
        messages.error(request, _closed_message(exc.request), fail_silently=True)
        return HttpResponseRedirect(back)
    messages.success(
        request,
        _("Request canceled: %(name)s is yours to request again.")
        % {"name": service_name(canceled.service)},
        fail_silently=True,
    )
    return HttpResponseRedirect(back)


def _closed_message(found: core.ServiceRequest) -> str:
    name = service_name(found.service)
    if found.status is core.RequestStatus.REDEEMED:
        return _("This %(name)s request was already redeemed; it cannot be canceled.") % {
            "name": name
        }
    if found.status is core.RequestStatus.DECLINED:
        return _("This %(name)s request was declined already.") % {"name": name}
    return _("This %(name)s request was canceled already.") % {"name": name}
