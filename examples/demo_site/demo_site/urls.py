"""URLs of the demo site: accounts, the paywall's journey, Wagtail admin and pages."""

from __future__ import annotations

from django.conf import settings
from django.urls import include, path
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.documents import urls as wagtaildocs_urls

from wagtail import urls as wagtail_urls

urlpatterns = [
    path("admin/", include(wagtailadmin_urls)),
    path("accounts/", include("allauth.urls")),
    path("documents/", include(wagtaildocs_urls)),
    # Pricing, checkout, the fake payment page, account and webhooks.
    path("paywall/", include("wagtail_paywall.urls")),
]

if settings.DEBUG:
    from django.contrib.staticfiles.urls import staticfiles_urlpatterns

    urlpatterns += staticfiles_urlpatterns()

# Wagtail's page serving comes last: it matches every path.
urlpatterns.append(path("", include(wagtail_urls)))
