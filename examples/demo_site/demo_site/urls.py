"""URLs of the demo site: accounts, the paywall's journey, Wagtail admin and pages."""

from __future__ import annotations

from demo import datasets
from django.conf import settings
from django.urls import include, path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.api.v2.router import WagtailAPIRouter
from wagtail.contrib.sitemaps.views import sitemap
from wagtail.documents import urls as wagtaildocs_urls

from wagtail_paywall.channels.api import PaywalledPagesAPIViewSet

api_router = WagtailAPIRouter("wagtailapi")
api_router.register_endpoint("pages", PaywalledPagesAPIViewSet)

urlpatterns = [
    path("admin/", include(wagtailadmin_urls)),
    path("accounts/", include("allauth.urls")),
    # The language switcher posts to set_language (docs/i18n.md).
    path("i18n/", include("django.conf.urls.i18n")),
    path("documents/", include(wagtaildocs_urls)),
    # Pricing, checkout, the fake payment page, account, webhooks, search and feeds.
    path("paywall/", include("wagtail_paywall.urls")),
    # Dataset downloads: a usage-based add-on (docs/usage.md).
    path("datasets/", datasets.datasets, name="datasets"),
    # The API and the sitemap, each page as the paywall lets the visitor see it.
    path("api/v2/", api_router.urls),
    path("sitemap.xml", sitemap),
]

if settings.DEBUG:
    from django.contrib.staticfiles.urls import staticfiles_urlpatterns

    urlpatterns += staticfiles_urlpatterns()

# Wagtail's page serving comes last: it matches every path.
urlpatterns.append(path("", include(wagtail_urls)))
