"""The test site's URLs with Wagtail's page and document views wrapped in ``cache_page``.

The leak matrix serves through them to show that a per-view cache, which stores a
response before any middleware sees it, never hands one member's page to another.
"""

from __future__ import annotations

from django.urls import include, path, re_path
from django.views.decorators.cache import cache_page
from wagtail import views as wagtail_views
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.documents.views import serve as documents
from wagtail.urls import serve_pattern

cached = cache_page(600, key_prefix="leak-matrix-cache-page")

urlpatterns = [
    path("admin/", include(wagtailadmin_urls)),
    path(
        "documents/<int:document_id>/<str:document_filename>",
        cached(documents.serve),
        name="wagtaildocs_serve",
    ),
    path("paywall/", include("wagtail_paywall.urls")),
    re_path(serve_pattern, cached(wagtail_views.serve), name="wagtail_serve"),
]
