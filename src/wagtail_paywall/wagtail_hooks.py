"""Every Wagtail hook the paywall registers, in one place.

- ``before_serve_page`` and ``before_serve_document``: the gates
  (:mod:`wagtail_paywall.gating`);
- ``register_admin_viewset``: the "Paywall" menu (:mod:`wagtail_paywall.admin.viewsets`);
- ``register_admin_urls`` and ``register_reports_menu_item``: the "Membership metrics"
  report, the "Retention offers" report (:mod:`wagtail_paywall.admin.retention`) and the
  "Payment recovery" report (:mod:`wagtail_paywall.admin.dunning`);
- the "Paywall A/B tests" snippet and report, and the "Pages by conversions" report
  (:mod:`wagtail_paywall.admin.experiments`).

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
from wagtail.snippets.models import register_snippet

from .admin import dunning as admin_dunning
from .admin import experiments as admin_experiments
from .admin import referrals as admin_referrals
from .admin import report_panel as admin_report_panel
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
        path("paywall-metrics/", admin_views.MetricsReportView.as_view(), name="paywall_metrics"),
        path(
            "paywall-metrics/csv/<slug:chart>/",
            admin_views.metrics_csv,
            name="paywall_metrics_csv",
        ),
    ]


@hooks.register("construct_homepage_panels")
def add_membership_panel(request: HttpRequest, panels: list[Any]) -> None:
    """The membership panel (:mod:`.admin.report_panel`), for those who may view members."""
    admin_report_panel.add_panel(request, panels, admin_views.VIEW_PERMISSION)


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


@hooks.register("register_permissions")
def register_at_risk_permission() -> Any:
    # "Members at risk" (:mod:`.admin.at_risk`, in the Paywall menu) has no model viewset.
    from django.contrib.auth.models import Permission

    return Permission.objects.filter(
        content_type__app_label="wagtail_paywall", codename="view_atrisk"
    )


@hooks.register("register_permissions")
def register_service_permissions() -> Any:
    # "Service requests" (:mod:`.admin.services`, in the Paywall menu) has no model viewset.
    from django.contrib.auth.models import Permission

    return Permission.objects.filter(
        content_type__app_label="wagtail_paywall",
        codename__in=["view_servicerequest", "change_servicerequest"],
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


# The "Referrals" report (:mod:`.admin.referrals`).
@hooks.register("register_admin_urls")
def register_referrals_url() -> list[Any]:
    return [
        path(
            "paywall-referrals/",
            admin_referrals.ReferralReportView.as_view(),
            name="paywall_referrals",
        )
    ]


@hooks.register("register_reports_menu_item")
def register_referrals_menu_item() -> MenuItem:
    return admin_referrals.ReferralMenuItem(
        _("Referrals"), reverse("paywall_referrals"), icon_name="group", order=925
    )


@hooks.register("register_permissions")
def register_referrals_permission() -> Any:
    # The report has no model viewset to list its permission in the group editor.
    from django.contrib.auth.models import Permission

    return Permission.objects.filter(
        content_type__app_label="wagtail_paywall", codename="view_referral"
    )


# A/B tests of the paywall and content attribution (:mod:`.admin.experiments`).
register_snippet(admin_experiments.PaywallTestViewSet)


@hooks.register("register_admin_urls")
def register_experiment_urls() -> list[Any]:
    return [
        path(
            "paywall-ab-tests/",
            admin_experiments.ABTestReportView.as_view(),
            name="paywall_ab_tests",
        ),
        path(
            "paywall-page-conversions/",
            admin_experiments.PageConversionsView.as_view(),
            name="paywall_page_conversions",
        ),
    ]


@hooks.register("register_reports_menu_item")
def register_ab_tests_menu_item() -> MenuItem:
    return admin_experiments.PermissionMenuItem(
        _("Paywall A/B tests"),
        reverse("paywall_ab_tests"),
        icon_name="resubmit",
        order=930,
        permission=admin_experiments.TEST_PERMISSION,
    )


@hooks.register("register_reports_menu_item")
def register_page_conversions_menu_item() -> MenuItem:
    return admin_experiments.PermissionMenuItem(
        _("Pages by conversions"),
        reverse("paywall_page_conversions"),
        icon_name="doc-full",
        order=940,
        permission=admin_experiments.ATTRIBUTION_PERMISSION,
    )


@hooks.register("register_permissions")
def register_attribution_permission() -> Any:
    # "Pages by conversions" has no model viewset to list its permission.
    from django.contrib.auth.models import Permission

    return Permission.objects.filter(
        content_type__app_label="wagtail_paywall", codename="view_attribution"
    )


@hooks.register("register_admin_urls")
def register_member_import_urls() -> list[Any]:
    # Outside the Members viewset: its "<member_id>/" pattern would take these paths.
    from .admin import imports as admin_imports

    return [
        path(
            "paywall-members-import/",
            admin_imports.ImportView.as_view(),
            name="paywall_members_import",
        ),
        path(
            "paywall-members-export.csv",
            admin_imports.export_members,
            name="paywall_members_export",
        ),
    ]
