"""The "Service requests" screen of the paywall's admin: members' requests of services
(``service.consultation``), open ones first, with "Redeem" (delivered) and "Decline"
and a note to the member; ``?member=<id>`` also shows what that member holds of each
service, used and left this period.

Redeeming and declining go through :class:`membership_sdk.services.ServiceDesk`, so
they fire the same hooks as code does; a request closed already (redeemed twice, or
canceled by its member a moment before) is refused with a message saying what became of
it, and nothing changes. Viewing needs ``wagtail_paywall.view_servicerequest``, acting
``wagtail_paywall.change_servicerequest``. See ``docs/services.md``.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from wagtail.admin.menu import MenuItem
from wagtail.admin.viewsets.base import ViewSet

from membership_sdk import services as core

from ..models import ServiceRequest
from ..models.services import service_name
from ..program import get_program
from .views import PaywallScreen, require

VIEW_PERMISSION = "wagtail_paywall.view_servicerequest"
CHANGE_PERMISSION = "wagtail_paywall.change_servicerequest"
PER_PAGE = 50


class ServiceFilter(forms.Form):
    """The list's filters; an invalid value is a form error, never a 500."""

    status = forms.ChoiceField(
        label=gettext_lazy("Status"),
        required=False,
        choices=[("", gettext_lazy("Any status")), *ServiceRequest.Status.choices],
    )
    service = forms.ChoiceField(label=gettext_lazy("Service"), required=False)
    member = forms.CharField(label=gettext_lazy("Member id"), required=False, max_length=64)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        keys = {
            e.key
            for t in get_program().catalog.tiers
            for e in t.entitlements
            if core.is_service(e.key)
        }
        self.fields["service"].choices = [  # type: ignore[attr-defined]
            ("", gettext_lazy("Any service")),
            *((k, service_name(k)) for k in sorted(keys)),
        ]

    def requests(self) -> QuerySet[ServiceRequest]:
        """The requests the filters select: open ones first, then the newest."""
        rows = ServiceRequest.objects.all()
        data = self.cleaned_data if self.is_valid() else {}
        if data.get("status"):
            rows = rows.filter(status=data["status"])
        if data.get("service"):
            rows = rows.filter(service=data["service"])
        if data.get("member"):
            rows = rows.filter(member_id=data["member"].strip())
        first = Case(
            When(status=core.RequestStatus.REQUESTED.value, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        )
        return rows.order_by(first, "-requested_at", "-id")


class CloseForm(forms.Form):
    """Redeem or decline, with a note the member reads on their services page."""

    action = forms.ChoiceField(choices=[("redeem", "redeem"), ("decline", "decline")])
    note = forms.CharField(required=False, max_length=core.NOTE_LENGTH)


class ServiceRequestIndexView(PaywallScreen):
    """The requests, filtered; with ``?member=``, that member's allowances too."""

    template_name = "wagtail_paywall/admin/service_requests.html"
    page_title = gettext_lazy("Service requests")
    header_icon = "help"
    permission = VIEW_PERMISSION

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        form = ServiceFilter(self.request.GET or None)
        page = Paginator(form.requests(), PER_PAGE).get_page(self.request.GET.get("p"))
        User = get_user_model()
        keys = {m: _user_pk(m) for m in {r.member_id for r in page}}
        users = User._default_manager.in_bulk([k for k in keys.values() if k is not None])
        member = form.cleaned_data.get("member", "").strip() if form.is_valid() else ""
        allowances = []
        if member:
            allowances = [
                {"allowance": a, "name": service_name(a.service)}
                for a in core.ServiceDesk(get_program()).allowances(member)
            ]
        query = self.request.GET.copy()
        query.pop("p", None)
        context.update(
            form=form,
            page=page,
            rows=[
                {
                    "request": r,
                    "name": service_name(r.service),
                    "user": users.get(keys[r.member_id]),
                }
                for r in page
            ],
            member=member,
            allowances=allowances,
            query=query.urlencode(),
            back=self.request.get_full_path(),
            can_change=self.request.user.has_perm(CHANGE_PERMISSION),
        )
        return context


def _user_pk(member_id: str) -> Any:
    """The user primary key a member id stands for, or ``None`` when it cannot be one."""
    try:
        return get_user_model()._meta.pk.to_python(member_id)  # type: ignore[union-attr]
    except ValidationError:
        return None


@require_POST
def close_request(request: HttpRequest, request_id: str) -> HttpResponse:
    """POST ``action`` (``redeem`` or ``decline``) and a ``note``: close an open request.
    One closed already is refused with a message saying what became of it."""
    require(request, CHANGE_PERMISSION)
    index = reverse("paywall_services:index")
    back = request.POST.get("next", "")
    back = back if back.startswith(index) else index
    form = CloseForm(request.POST)
    if not form.is_valid():
        messages.error(
            request,
            _(
                "Say whether to redeem or decline request %(id)s "
                "(a note has at most %(n)d characters)."
            )
            % {"id": request_id, "n": core.NOTE_LENGTH},
        )
        return HttpResponseRedirect(back)
    desk = core.ServiceDesk(get_program())
    close = desk.redeem if form.cleaned_data["action"] == "redeem" else desk.decline
    try:
        # A plugin's hook failing rolls the change back with it: nothing half-done.
        with transaction.atomic():
            done = close(request_id, note=form.cleaned_data["note"], by=str(request.user.pk))
    except core.UnknownServiceRequest:
        messages.error(request, _("No service request has the id %(id)s.") % {"id": request_id})
        return HttpResponseRedirect(back)
    except core.ServiceRequestClosed as exc:
        found = exc.request
        messages.error(
            request,
            _("Request %(id)s was %(status)s on %(date)s already; nothing was changed.")
            % {
                "id": request_id,
                "status": str(ServiceRequest.Status(found.status.value).label).lower(),
                "date": found.closed_at.date().isoformat() if found.closed_at else "?",
            },
        )
        return HttpResponseRedirect(back)
    if done.status is core.RequestStatus.REDEEMED:
        text = _("Redeemed: %(name)s for member %(member)s.")
    else:
        text = _("Declined: %(name)s for member %(member)s; the slot is theirs again.")
    messages.success(request, text % {"name": service_name(done.service), "member": done.member_id})
    return HttpResponseRedirect(back)


class ServicesMenuItem(MenuItem):
    """Shown to those who may see the requests."""

    def is_shown(self, request: Any) -> bool:
        return bool(request.user.has_perm(VIEW_PERMISSION))


class ServiceRequestViewSet(ViewSet):
    """The "Service requests" entry of the Paywall menu."""

    name = "paywall_services"
    icon = "help"
    menu_label = gettext_lazy("Service requests")
    menu_item_class = ServicesMenuItem

    def get_urlpatterns(self) -> list[Any]:
        return [
            path("", ServiceRequestIndexView.as_view(), name="index"),
            path("<str:request_id>/close/", close_request, name="close"),
        ]
