"""The admin's usage screens (``docs/usage.md``): "Usage rates" (what a unit beyond a
tier's included quota costs; editable) and "Usage" (each member's use per meter and
billing period, with its bill: open, closed, or the bank-transfer invoice it became),
whose rows list their records and whether each was reported to the provider.

Usage is a record: it is read, never edited here (``view_usageperiod``); nobody adds,
changes or deletes it through the admin.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from wagtail.admin.ui.tables import Column, StatusTagColumn
from wagtail.admin.views.generic import IndexView, InspectView
from wagtail.admin.viewsets.model import ModelViewSet

from ..formats import money
from ..models import UsagePeriod, UsageRate
from .policies import read_only


class UsageRateViewSet(ModelViewSet):
    model = UsageRate
    name = "paywall_usage_rates"
    icon = "cogs"
    menu_label = _("Usage rates")
    form_fields = [
        "meter",
        "name",
        "unit_amount",
        "currency",
        "max_extra",
        "provider_ids",
        "provider_meters",
    ]
    list_display = ["meter", "name", "unit_amount", "currency", "max_extra"]
    search_fields = ["meter", "name"]
    copy_view_enabled = False


#: Staff who may view usage read it; nobody adds, changes or deletes it here.
PERIOD_POLICY = read_only(UsagePeriod)


def bill_state(period: UsagePeriod) -> str:
    """Where the period's bill stands, in the staff's words."""
    if period.closed_at is None and period.frozen_at is not None:
        return str(_("Closing: count frozen, the bill is retried"))
    if period.closed_at is None:
        return str(_("Open"))
    if period.invoice:
        return str(_("Invoiced: %(reference)s") % {"reference": period.invoice})
    return str(_("Closed"))


class UsageIndexView(IndexView):
    def get_add_url(self) -> None:
        return None

    def get_edit_url(self, instance: Any) -> None:
        return None


class UsageInspectView(InspectView):
    template_name = "wagtail_paywall/admin/usage_inspect.html"

    def get_edit_url(self) -> None:
        return None

    def get_delete_url(self) -> None:
        return None

    def get_header_buttons(self) -> list[Any]:
        return []

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        period: UsagePeriod = self.object
        context["usage_records"] = period.records.order_by("when", "pk")
        context["usage_amount"] = money(period.amount, period.currency)
        context["usage_state"] = bill_state(period)
        return context


class UsagePeriodViewSet(ModelViewSet):
    model = UsagePeriod
    name = "paywall_usage"
    icon = "table"
    menu_label = _("Usage")
    index_view_class = UsageIndexView
    inspect_view_class = UsageInspectView
    inspect_view_enabled = True
    inspect_view_fields = [
        "member_id",
        "membership_id",
        "meter",
        "period_end",
        "included",
        "used",
        "unit_amount",
        "currency",
        "provider",
        "max_extra",
        "closed_at",
        "invoice",
    ]
    copy_view_enabled = False
    list_display = [
        "member_id",
        "meter",
        "period_end",
        Column("used", label=_("Used")),
        Column("included", label=_("Included")),
        Column("extra", label=_("Extra")),
        StatusTagColumn(
            "state",
            label=_("Bill"),
            accessor=bill_state,
            primary=lambda row: row.closed_at is not None,
        ),
    ]
    list_filter = ["meter", "provider", "closed_at"]
    search_fields = ["member_id", "meter", "invoice"]
    form_fields = ["used"]  # required by ModelViewSet; the add/edit views are not routed

    if PERIOD_POLICY is not None:  # Wagtail 7.4: the viewset carries the policy itself
        permission_policy = PERIOD_POLICY

    def get_urlpatterns(self) -> list[Any]:
        hidden = {"add", "edit", "copy", "delete"}
        return [p for p in super().get_urlpatterns() if p.name not in hidden]
