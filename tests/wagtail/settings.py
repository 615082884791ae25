"""Django settings for the Wagtail adapter's tests.

SQLite in memory by default; PostgreSQL when ``DATABASE_URL`` is set. A local-memory
cache by default; Redis when ``REDIS_URL`` is set.
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = "tests-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en"
USE_I18N = True
ROOT_URLCONF = "tests.wagtail.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
WAGTAIL_SITE_NAME = "Paywall tests"
WAGTAILADMIN_BASE_URL = "http://testserver"
# Documents must pass the paywall's before_serve_document hook (check wagtail_paywall.E002).
WAGTAILDOCS_SERVE_METHOD = "serve_view"
# Wagtail 8 makes the page model swappable and migrations made with it name this setting;
# Wagtail 7.4 has no default for it, so it is spelt out (the default of both).
WAGTAIL_PAGE_MODEL = "wagtailcore.Page"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast test logins
MEDIA_ROOT = os.environ.get("PAYWALL_TEST_MEDIA", str(BASE_DIR / ".media"))
MEDIA_URL = "/media/"
STATIC_URL = "/static/"
STATIC_ROOT = str(BASE_DIR / ".static")

INSTALLED_APPS = [
    "wagtail_paywall",
    "tests.wagtail.testapp",
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.contrib.sitemaps",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
]
try:
    import django_tasks_db  # noqa: F401
except ImportError:  # tests/wagtail/billing/test_inbox_retries.py skips what needs it
    pass
else:
    # Only its tables: tests choose the task backend with override_settings(TASKS=...).
    INSTALLED_APPS.append("django_tasks_db")

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # X-Frame-Options: DENY on every page, paywall views included (clickjacking).
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "wagtail_paywall.middleware.PaywallMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

if os.environ.get("DATABASE_URL"):
    import dj_database_url

    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"])}
    # A test database per process, so concurrent runs against one server never collide.
    DATABASES["default"]["TEST"] = {"NAME": f"test_paywall_{os.getpid()}"}
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}

if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            # Tests never flush Redis; each test uses keys of its own (see conftest.py).
            "KEY_PREFIX": f"paywall-tests-{os.getpid()}",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}

# Tests run with DEBUG off, so never in development mode: the fake provider needs a webhook
# secret of its own, as docs/wagtail.md ("Test settings") tells a site's test settings.
PAYWALL = {
    "PROVIDERS": {"fake": {"secret": "tests-webhook-secret"}},
    "DEFAULT_PROVIDER": "fake",
    "GRACE_DAYS": 3,
    "CACHE_TIMEOUT": 300,
}

# One process: a per-process cache is right here.
SILENCED_SYSTEM_CHECKS = ["wagtail_paywall.W001"]
