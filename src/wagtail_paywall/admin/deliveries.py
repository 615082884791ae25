"""Deliveries in the Wagtail admin: "Delivery products" and "Delivery issues" (the
schedule) under the Paywall menu. An issue's inspect screen is its manifest: the counts,
the members without an address (to chase), the recipients, and "Download manifest (CSV)".
Opening an issue whose cut-off has passed freezes its manifest if the scheduled job has
not yet (:func:`wagtail_paywall.models.deliveries.freeze`); before the cut-off it shows a
forecast. The CSV is formula-safe. Viewing needs ``wagtail_paywall.view_deliveryissue``.
See ``docs/deliveries.md``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from wagtail.admin.ui.tables import Column
from wagtail.admin.views.generic import InspectView
from wagtail.admin.viewsets.model import ModelViewSet

from membership_sdk import deliveries as core

from ..exports import safe_cell
from ..models import DeliveryIssue, DeliveryProduct, DeliveryRecipient
from ..models.deliveries import candidates, counts, freeze, member_records
from ..program import get_program

VIEW_PERMISSION = "wagtail_paywall.view_deliveryissue"

#: The manifest's CSV columns: who gets what, where.
MANIFEST_COLUMNS = (
    "member_id",
    "name",
    "line1",
    "line2",
    "postcode",
    "city",
    "country",
    "product",
    "issue",
    "ships_on",
    "quantity",
)
#: The CSV of members entitled at the cut-off who had no address.
MISSING_COLUMNS = ("member_id", "email", "product", "issue", "ships_on")


def freeze_if_due(issue: DeliveryIssue) -> bool:
    """Freeze ``issue``'s manifest when its cut-off has passed and it has none yet."""
    now = timezone.now()
    if issue.frozen_at is not None or issue.cutoff > now:
        return False
    program = get_program()
    return freeze(issue, program.catalog, grace=program.grace, now=now)


def manifest_rows(issue: DeliveryIssue, *, missing: bool = False) -> Iterator[list[str]]:
    """The frozen manifest's CSV rows, header first, every cell formula-safe: the
    recipients, or with ``missing`` the members who had no address at the cut-off."""
    status = core.DeliveryStatus.MISSING_ADDRESS if missing else core.DeliveryStatus.RECEIVES
    lines = issue.recipients.filter(status=status).order_by("member_id")
    product, title, day = issue.product.name, issue.title, issue.ships_on.isoformat()
    if missing:
        yield list(MISSING_COLUMNS)
        emails = _emails(lines.values_list("member_id", flat=True))
        for line in lines.iterator():
            yield [
                safe_cell(v)
                for v in (line.member_id, emails.get(line.member_id, ""), product, title, day)
            ]
        return
    yield list(MANIFEST_COLUMNS)
    for line in lines.iterator(chunk_size=500):
        yield [
            safe_cell(v)
            for v in (
                line.member_id,
                line.name,
                line.line1,
                line.line2,
                line.postcode,
                line.city,
                line.country,
                product,
                title,
                day,
                line.quantity,
            )
        ]


def _emails(member_ids: Iterable[str]) -> dict[str, str]:
    User = get_user_model()
    keys = []
    for member in member_ids:
        try:
            keys.append(User._meta.pk.to_python(member))  # type: ignore[union-attr]
        except ValidationError:
            continue
    field = User.get_email_field_name()
    return {
        str(pk): email for pk, email in User.objects.filter(pk__in=keys).values_list("pk", field)
    }


class _Echo:
    def write(self, value: str) -> str:
        return value


def write_csv(rows: Iterable[list[str]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow(row)


def manifest_csv(request: HttpRequest, pk: int) -> HttpResponse | StreamingHttpResponse:
    """Download an issue's manifest (``?missing=1``: its members without an address).
    Staff with the view permission only; refused (409) before the cut-off."""
    if not request.user.has_perm(VIEW_PERMISSION):  # type: ignore[union-attr]
        raise PermissionDenied
    issue = get_object_or_404(DeliveryIssue.objects.select_related("product"), pk=pk)
    freeze_if_due(issue)
    if issue.frozen_at is None:
        return HttpResponse(
            _("The manifest of %(issue)s is made at its cut-off, %(cutoff)s; not before.")
            % {"issue": issue, "cutoff": timezone.localtime(issue.cutoff).isoformat()},
            status=409,
            content_type="text/plain; charset=utf-8",
        )
    missing = request.GET.get("missing") == "1"
    response = StreamingHttpResponse(
        write_csv(manifest_rows(issue, missing=missing)), content_type="text/csv; charset=utf-8"
    )
    kind = "missing-addresses" if missing else "manifest"
    response["Content-Disposition"] = (
        f'attachment; filename="{kind}-{issue.product.key}-{issue.pk}.csv"'
    )
    return response


class IssueInspectView(InspectView):
    """An issue and its manifest (frozen), or a forecast before the cut-off."""

    template_name = "wagtail_paywall/admin/delivery_manifest.html"

    def get_object(self, queryset: Any = None) -> Any:
        issue = super().get_object(queryset)
        freeze_if_due(issue)
        return issue

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        issue: DeliveryIssue = self.object
        if issue.frozen_at is not None:
            figures = counts(issue)
            lines = list(issue.recipients.order_by("status", "member_id")[:200])
        else:
            program = get_program()
            forecast = core.build_manifest(
                issue.to_core(),
                program.catalog,
                member_records(candidates(program.catalog, issue.product.key)),
                grace=program.grace,
                now=timezone.now(),
            )
            figures = {status.value: 0 for status in core.DeliveryStatus}
            for line in forecast:
                figures[line.status.value] += 1
            figures["copies"] = figures[core.DeliveryStatus.RECEIVES]
            lines = [_forecast_row(line) for line in forecast[:200]]
        url = reverse("paywall_delivery_issues:manifest_csv", args=[issue.pk])
        context.update(
            figures=figures,
            lines=lines,
            csv_url=url,
            missing_csv_url=url + "?missing=1",
            frozen=issue.frozen_at is not None,
        )
        return context


def _forecast_row(line: core.ManifestLine) -> DeliveryRecipient:
    a = line.address
    return DeliveryRecipient(
        member_id=line.member_id,
        status=line.status.value,
        quantity=line.quantity,
        name=a.name if a else "",
        postcode=a.postcode if a else "",
        city=a.city if a else "",
        country=a.country if a else "",
    )


class DeliveryProductViewSet(ModelViewSet):
    """What is shipped: a print edition, a box."""

    model = DeliveryProduct
    name = "paywall_delivery_products"
    icon = "mail"
    menu_label = gettext_lazy("Delivery products")
    form_fields = ["name", "key", "description"]
    list_display = ["name", "key"]
    search_fields = ["name", "key"]
    copy_view_enabled = False


class DeliveryIssueViewSet(ModelViewSet):
    """The schedule: each issue's ship day and cut-off; inspect one for its manifest."""

    model = DeliveryIssue
    name = "paywall_delivery_issues"
    icon = "date"
    menu_label = gettext_lazy("Delivery issues")
    form_fields = ["product", "title", "number", "ships_on", "cutoff"]
    list_display = [
        "__str__",
        "ships_on",
        "cutoff",
        Column("frozen_at", label=gettext_lazy("Manifest made at")),
    ]
    list_filter = ["product"]
    search_fields = ["title"]
    inspect_view_enabled = True
    inspect_view_class = IssueInspectView
    copy_view_enabled = False

    def get_urlpatterns(self) -> list[Any]:
        return [
            *super().get_urlpatterns(),
            path("manifest/<int:pk>.csv", manifest_csv, name="manifest_csv"),
        ]
