"""The stock site's own URLconf with Wagtail's page and document views wrapped in
``cache_page``: the leak matrix serves through it to show that a per-view cache, which
stores a response before any middleware sees it, never hands one member's page to another.

Loaded inside the stock site only (it imports the site's ``mysite/urls.py``).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.urls import URLPattern, URLResolver
from django.views.decorators.cache import cache_page

from tests.stock_site.project import NAME

CACHED_VIEWS = {"wagtail_serve", "wagtaildocs_serve"}
cached = cache_page(600, key_prefix="leak-matrix-cache-page")


def with_cached_views(patterns: list[Any]) -> list[Any]:
    """``patterns`` with the views named in :data:`CACHED_VIEWS` wrapped, included
    URLconfs copied the same way."""
    copied: list[Any] = []
    for entry in patterns:
        if isinstance(entry, URLResolver):
            copied.append(
                URLResolver(
                    entry.pattern,
                    with_cached_views(list(entry.url_patterns)),
                    entry.default_kwargs,
                    entry.app_name,
                    entry.namespace,
                )
            )
        elif isinstance(entry, URLPattern) and entry.name in CACHED_VIEWS:
            copied.append(
                URLPattern(entry.pattern, cached(entry.callback), entry.default_args, entry.name)
            )
        else:
            copied.append(entry)
    return copied


# The site's URLconf by name: while the matrix serves through this module, ROOT_URLCONF
# names this module.
urlpatterns = with_cached_views(list(import_module(f"{NAME}.urls").urlpatterns))
