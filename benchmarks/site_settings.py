"""Settings of the site the gunicorn benchmark serves: the Wagtail test site.

``BENCH_DATABASE_URL`` names its database (PostgreSQL or a SQLite file);
``BENCH_REDIS_URL`` with ``BENCH_CACHE_PREFIX``, when set, a shared Redis cache, else a
per-process cache. ``BENCH_PAYWALL=off`` serves the site without the paywall's
middleware (:mod:`site_wsgi` also drops its page hook): plain Wagtail.
"""

from __future__ import annotations

import os

import dj_database_url
from tests.wagtail.settings import *  # noqa: F403
from tests.wagtail.settings import MIDDLEWARE

DATABASES = {"default": dj_database_url.parse(os.environ["BENCH_DATABASE_URL"])}
DATABASES["default"]["CONN_MAX_AGE"] = 60  # as production sites run: one connection per worker

if os.environ.get("BENCH_REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["BENCH_REDIS_URL"],
            "KEY_PREFIX": os.environ["BENCH_CACHE_PREFIX"],
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

PAYWALL_OFF = os.environ.get("BENCH_PAYWALL") == "off"
if PAYWALL_OFF:
    MIDDLEWARE = [m for m in MIDDLEWARE if not m.startswith("wagtail_paywall.")]
