"""Every Wagtail hook the paywall registers, in one place.

- ``before_serve_page`` and ``before_serve_document``: the gates
  (:mod:`wagtail_paywall.gating`);
- ``register_admin_viewset``: the "Paywall" menu (:mod:`wagtail_paywall.admin.viewsets`);
- ``register_admin_urls`` and ``register_reports_menu_item``: the "Membership metrics"
  report.

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
