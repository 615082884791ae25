"""URLs of the Wagtail adapter's test site."""

from __future__ import annotations

from django.urls import include, path
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.documents import urls as wagtaildocs_urls

from wagtail import urls as wagtail_urls

urlpatterns = [
    path("admin/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
    # The paywall's public views (pricing, checkout, account, webhooks):
    path("paywall/", include("wagtail_paywall.urls")),
    # Wagtail's page serving comes last: it matches every path.
    path("", include(wagtail_urls)),
]
