"""Every Wagtail hook the paywall registers, in one place.

- ``before_serve_page`` and ``before_serve_document``: the gates
  (:mod:`wagtail_paywall.gating`);
- ``register_admin_viewset``: the "Paywall" menu (:mod:`wagtail_paywall.admin.viewsets`);
- ``register_admin_urls`` and ``register_reports_menu_item``: the "Membership metrics"
  report, the "Retention offers" report (:mod:`wagtail_paywall.admin.retention`) and the
  "Payment recovery" report (:mod:`wagtail_paywall.admin.dunning`).

See ``docs/wagtail.md``.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.menu import MenuItem
from wagtail.admin.viewsets.base import ViewSetGroup

from .admin import dunning as admin_dunning
from .admin import retention as admin_retention
from .admin import staff as admin_staff
from .admin import views as admin_views
from .admin.viewsets import MetricsMenuItem, PaywallViewSetGroup
from .gating import gate_document, gate_page


@hooks.register("before_serve_page")
def paywall_before_serve_page(
    page: Any, request: HttpRequest, serve_args: Any, serve_kwargs: Any
) -> None:
    gate_page(page, request)
    # Never a response of our own: Wagtail's later hooks (view restrictions) still apply.
    return None


@hooks.register("before_serve_document")
def paywall_before_serve_document(document: Any, request: HttpRequest) -> HttpResponse | None:
    return gate_document(document, request)


@hooks.register("register_admin_viewset")
def register_paywall_admin() -> ViewSetGroup:
    return PaywallViewSetGroup()


@hooks.register("register_log_actions")
def register_staff_log_actions(actions: Any) -> None:
    """The audit-log actions of staff on a member's page (:mod:`.admin.staff`)."""
    admin_staff.register_log_actions(actions)


@hooks.register("register_admin_urls")
def register_metrics_url() -> list[Any]:
    return [
        path("paywall-metrics/", admin_views.MetricsReportView.as_view(), name="paywall_metrics")
    ]


@hooks.register("register_reports_menu_item")
def register_metrics_menu_item() -> MenuItem:
    return MetricsMenuItem(
        _("Membership metrics"), reverse("paywall_metrics"), icon_name="table", order=900
    )


@hooks.register("register_admin_urls")
def register_retention_url() -> list[Any]:
    return [
        path(
            "paywall-retention/",
            admin_retention.RetentionReportView.as_view(),
            name="paywall_retention",
        )
    ]


@hooks.register("register_reports_menu_item")
def register_retention_menu_item() -> MenuItem:
    return admin_retention.RetentionMenuItem(
        _("Retention offers"), reverse("paywall_retention"), icon_name="tag", order=910
    )


@hooks.register("register_permissions")
def register_retention_permission() -> Any:
    # The report has no model viewset to list its permission in the group editor.
    from django.contrib.auth.models import Permission

    return Permission.objects.filter(
        content_type__app_label="wagtail_paywall", codename="view_retentionattempt"
    )


@hooks.register("register_admin_urls")
def register_recovery_url() -> list[Any]:
    return [
        path(
            "paywall-recovery/",
            admin_dunning.RecoveryReportView.as_view(),
            name="paywall_recovery",
        )
    ]


@hooks.register("register_reports_menu_item")
def register_recovery_menu_item() -> MenuItem:
    return admin_dunning.RecoveryMenuItem(
        _("Payment recovery"), reverse("paywall_recovery"), icon_name="warning", order=920
    )
