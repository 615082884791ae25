"""URLs of the Wagtail adapter's test site."""

from __future__ import annotations

from django.urls import include, path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.api.v2.router import WagtailAPIRouter
from wagtail.api.v2.views import PagesAPIViewSet
from wagtail.contrib.sitemaps.views import sitemap
from wagtail.documents import urls as wagtaildocs_urls

from tests.wagtail.testapp.views import stock_search
from wagtail_paywall.channels.api import PaywalledPagesAPIViewSet

api_router = WagtailAPIRouter("wagtailapi")
api_router.register_endpoint("pages", PaywalledPagesAPIViewSet)

# Wagtail's own endpoint, as `wagtail start` and Wagtail's docs route it: the paywall's
# middleware serves it through PaywalledPagesAPIViewSet all the same.
stock_api_router = WagtailAPIRouter("stockapi")
stock_api_router.register_endpoint("pages", PagesAPIViewSet)

urlpatterns = [
    path("admin/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
    # The paywall's public views (pricing, checkout, account, webhooks):
    path("paywall/", include("wagtail_paywall.urls")),
    # Wagtail API v2, each page gated by the paywall:
    path("api/v2/", api_router.urls),
    path("stock-api/v2/", stock_api_router.urls),
    # A site's own search view, as `wagtail start` generates it.
    path("search/", stock_search, name="stock_search"),
    # Wagtail's sitemap: page URLs only, never their content.
    path("sitemap.xml", sitemap),
    # Wagtail's page serving comes last: it matches every path.
    path("", include(wagtail_urls)),
]
