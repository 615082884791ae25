"""The "Members at risk" list: the at-risk job's marks, filtered by reason, tier, the day
they were detected since, and outcome; a CSV of the same filter with ``?format=csv``.

Open to those who may view the marks (``wagtail_paywall.view_atrisk``). The marks are made
by ``manage.py paywall_at_risk`` (:mod:`wagtail_paywall.billing.at_risk`). See
``docs/at-risk.md``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Max, OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse
from django.urls import path
from django.utils.translation import gettext_lazy
from wagtail.admin.menu import MenuItem
from wagtail.admin.viewsets.base import ViewSet

from ..models import AtRisk, ReadingActivity
from ..program import get_program
from .views import PaywallScreen

PERMISSION = "wagtail_paywall.view_atrisk"
PER_PAGE = 50
CSV_HEADER = [
    "member_id",
    "membership",
    "tier",
    "status",
    "reason",
    "detected_at",
    "outcome",
    "resolved_at",
    "last_read",
]


class AtRiskFilter(forms.Form):
    """The list's filters; an invalid value is a form error naming the field, never a 500."""

    reason = forms.ChoiceField(
        label=gettext_lazy("Reason"),
        required=False,
        choices=[("", gettext_lazy("Any reason")), *AtRisk.Reason.choices],
    )
    tier = forms.ChoiceField(label=gettext_lazy("Tier"), required=False)
    since = forms.DateField(
        label=gettext_lazy("Detected since"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    outcome = forms.ChoiceField(
        label=gettext_lazy("Outcome"),
        required=False,
        choices=[("", gettext_lazy("Any outcome")), *AtRisk.Outcome.choices],
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tier"].choices = [  # type: ignore[attr-defined]
            ("", gettext_lazy("Any tier")),
            *((t.slug, t.name) for t in get_program().catalog.tiers),
        ]

    def marks(self) -> QuerySet[AtRisk]:
        """The marks the filters select, newest first, with each member's last day read."""
        last_read = (
            ReadingActivity.objects.filter(member_id=OuterRef("member_id"))
            .order_by()
            .values("member_id")
            .annotate(last=Max("day"))
            .values("last")
        )
        marks = AtRisk.objects.select_related("membership").annotate(last_read=Subquery(last_read))
        data = self.cleaned_data if self.is_valid() else {}
        if data.get("reason"):
            marks = marks.filter(reason=data["reason"])
        if data.get("tier"):
            marks = marks.filter(membership__tier=data["tier"])
        if data.get("since"):
            marks = marks.filter(detected_at__date__gte=data["since"])
        if data.get("outcome"):
            marks = marks.filter(outcome=data["outcome"])
        return marks.order_by("-detected_at", "pk")


class AtRiskIndexView(PaywallScreen):
    """The list, or its CSV with ``?format=csv``."""

    permission = PERMISSION
    template_name = "wagtail_paywall/admin/at_risk.html"
    page_title = gettext_lazy("Members at risk")
    header_icon = "warning"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.GET.get("format") == "csv":
            form = AtRiskFilter(request.GET)
            if form.is_valid():
                return self.csv(form.marks())
        return super().get(request, *args, **kwargs)

    def csv(self, marks: QuerySet[AtRisk]) -> StreamingHttpResponse:
        response = StreamingHttpResponse(_csv_lines(marks), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="members-at-risk.csv"'
        return response

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        form = AtRiskFilter(self.request.GET or None)
        page = Paginator(form.marks(), PER_PAGE).get_page(self.request.GET.get("p"))
        users = get_user_model()._default_manager.in_bulk(
            [_user_pk(m.member_id) for m in page if _user_pk(m.member_id) is not None]
        )
        query = self.request.GET.copy()
        query.pop("p", None)
        context.update(
            form=form,
            page=page,
            rows=[{"mark": m, "user": users.get(_user_pk(m.member_id))} for m in page],
            query=query.urlencode(),
        )
        return context


def _user_pk(member_id: str) -> Any:
    """The user primary key a member id stands for, or ``None`` when it cannot be one."""
    try:
        return get_user_model()._meta.pk.to_python(member_id)  # type: ignore[union-attr]
    except ValidationError:  # an imported or pseudonymised id that is no user's key
        return None


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_lines(marks: QuerySet[AtRisk]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_HEADER)
    for mark in marks.iterator(chunk_size=2000):
        yield writer.writerow(
            [
                mark.member_id,
                mark.membership_id,
                mark.membership.tier,
                mark.membership.status,
                mark.reason,
                mark.detected_at.isoformat(),
                mark.outcome,
                mark.resolved_at.isoformat() if mark.resolved_at else "",
                mark.last_read.isoformat() if mark.last_read else "",  # type: ignore[attr-defined]
            ]
        )


class AtRiskMenuItem(MenuItem):
    """Shown to those who may view the members at risk."""

    def is_shown(self, request: Any) -> bool:
        return bool(request.user.has_perm(PERMISSION))


class AtRiskViewSet(ViewSet):
    """The "Members at risk" entry of the Paywall menu."""

    name = "paywall_at_risk"
    icon = "warning"
    menu_label = gettext_lazy("Members at risk")
    menu_item_class = AtRiskMenuItem

    def get_urlpatterns(self) -> list[Any]:
        return [path("", AtRiskIndexView.as_view(), name="index")]
