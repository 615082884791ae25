"""Settings of the paywall demo site: safe development defaults, overridable from the environment.

``make demo`` runs it with these defaults: SQLite next to this file, the ``fake`` payment
provider, e-mail printed to the console, tasks run in-process. ``demo_site.production``
builds on this module and reads everything that matters from the environment instead.

Environment variables read here (all optional):

``DJANGO_SECRET_KEY``   the secret key (default: a public development-only key)
``DJANGO_DEBUG``        ``1``/``0`` (default ``1``)
``DJANGO_ALLOWED_HOSTS`` comma-separated (default: loopback names)
``DATABASE_URL``        e.g. ``sqlite:////tmp/demo.sqlite3`` or ``postgres://...``
``DEMO_MEDIA_ROOT``     where uploaded documents go (default ``media/`` next to this file)
``DEMO_FAKE_STATE_FILE`` the fake payment service's state (default next to this file)
``FAKE_WEBHOOK_SECRET`` the fake provider's webhook secret; without it, its published
                        development secret, accepted only while ``DEBUG`` is on
                        (``PAYWALL["DEVELOPMENT_MODE"]``)
``MANUAL_WEBHOOK_SECRET`` the same for the ``manual`` provider (bank transfers)
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name, "")
    return [item.strip() for item in value.split(",") if item.strip()] or default


# Development only: this key is public. demo_site.production refuses to start without its own.
SECRET_KEY = os.environ.get(
    "DJANGO_SECRET_KEY", "django-insecure-demo-only-key-never-use-in-production"
)
DEBUG = env_bool("DJANGO_DEBUG", True)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])

INSTALLED_APPS = [
    "demo",
    "wagtail_paywall",
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
    "allauth",
    "allauth.account",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Each visitor in their language: the switcher's cookie, else the browser's
    # Accept-Language (docs/i18n.md).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "wagtail_paywall.middleware.PaywallMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
]

ROOT_URLCONF = "demo_site.urls"
WSGI_APPLICATION = "demo_site.wsgi.application"

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

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=0,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several visitors at once (runserver serves each request in a thread): readers never
    # block the writer (WAL), a transaction takes the write lock when it begins instead of
    # failing to upgrade to it mid-way (IMMEDIATE), and a writer waits up to 20 s for
    # another to finish rather than failing at once with "database is locked".
    # See docs/deployment.md (SQLite).
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# One process serves the demo, so a per-process cache is enough (wagtail_paywall.W001).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SILENCED_SYSTEM_CHECKS = ["wagtail_paywall.W001"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

LANGUAGE_CODE = "en"
# The languages wagtail_paywall ships catalogues for; the footer's switcher offers them.
LANGUAGES = [
    ("en", "English"),
    ("de", "Deutsch"),
    ("nl", "Nederlands"),
    ("pl", "Polski"),
    ("da", "Dansk"),
]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = os.environ.get("DEMO_STATIC_ROOT", str(BASE_DIR / "static"))
MEDIA_URL = "/media/"
MEDIA_ROOT = os.environ.get("DEMO_MEDIA_ROOT", str(BASE_DIR / "media"))

# -- accounts: django-allauth, e-mail only -------------------------------------------------
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_USER_MODEL_USERNAME_FIELD = "username"  # filled in by allauth, never asked for
# The demo sends a confirmation mail (to the console) but never waits for it.
ACCOUNT_EMAIL_VERIFICATION = "optional"
ACCOUNT_LOGOUT_ON_GET = False
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = "The Paywall Post <newsroom@example.com>"

# -- Wagtail -------------------------------------------------------------------------------
WAGTAIL_SITE_NAME = "The Paywall Post"
WAGTAILADMIN_BASE_URL = os.environ.get("WAGTAILADMIN_BASE_URL", "http://127.0.0.1:8000")
WAGTAILDOCS_DOCUMENT_MODEL = "demo.DemoDocument"
# Every download passes the paywall's before_serve_document hook (check wagtail_paywall.E002).
WAGTAILDOCS_SERVE_METHOD = "serve_view"
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}

# Background tasks (Wagtail's reference index, the paywall's webhook processing) run
# in-process, at once: the demo needs no worker.
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}

# -- the paywall ---------------------------------------------------------------------------
_fake_provider: dict[str, str] = {
    # The simulated payment service's subscriptions survive a restart of the demo.
    "state_file": os.environ.get(
        "DEMO_FAKE_STATE_FILE", str(BASE_DIR / "fake-provider-state.json")
    ),
}
if os.environ.get("FAKE_WEBHOOK_SECRET"):
    _fake_provider["secret"] = os.environ["FAKE_WEBHOOK_SECRET"]
# Bank transfer against an invoice (docs/manual.md): the reader gets a reference and these
# (made-up) bank details; staff mark the transfer received under Paywall -> Bank transfers.
# Its invoices live in the demo's database.
_manual_provider: dict[str, str] = {
    "account_holder": "The Paywall Post (demo, do not pay)",
    "iban": "DE89 3704 0044 0532 0130 00",
    "bic": "COBADEFFXXX",
    "reference_prefix": "PP-",
}
if os.environ.get("MANUAL_WEBHOOK_SECRET"):
    _manual_provider["secret"] = os.environ["MANUAL_WEBHOOK_SECRET"]
PAYWALL = {
    # The fake provider simulates a card payment page; nobody pays anything. The pricing
    # page offers both: "Card (test payment)" or "Bank transfer".
    "PROVIDERS": {"fake": _fake_provider, "manual": _manual_provider},
    "DEFAULT_PROVIDER": "fake",
    "GRACE_DAYS": 3,
    # Without FAKE_WEBHOOK_SECRET (MANUAL_WEBHOOK_SECRET) the fake (manual) provider signs
    # with its published development secret, which the paywall accepts only in development
    # mode, and development mode counts only while DEBUG is on: with DJANGO_DEBUG=0,
    # `manage.py check` stops the demo (wagtail_paywall.E001) until both are set.
    "DEVELOPMENT_MODE": True,
    # Retention offers in the cancel flow (docs/journey.md, "Retention offers"): the first
    # offer for the member's reason that their provider can honour is shown, with a
    # one-click "No thanks, cancel my membership".
    "RETENTION_OFFERS": {
        "take-a-break": {
            "kind": "pause",
            "reasons": ["temporary", "not_enough_time"],
            "months": 3,
        },
        "stay-for-less": {
            "kind": "discount",
            "reasons": ["temporary", "not_enough_time"],
            "percent_off": 50,
            "months": 3,
        },
        "smaller-plan": {"kind": "cheaper_plan", "reasons": ["content"]},
    },
    # The "Cancel contracts here" button and its no-login page (§312k BGB; see
    # docs/cancellation.md, which is not legal advice).
    "CANCELLATION_BUTTON": True,
    # Referrals (docs/referrals.md): a friend who subscribes through a member's link gets
    # 50% off the first month (the FRIEND coupon, seeded); the member a free month once the
    # friend has paid past the 14-day window, three a month at most.
    "REFERRALS": {"FRIEND_COUPON": "FRIEND", "MONTHLY_CAP": 3},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"wagtail_paywall": {"handlers": ["console"], "level": "INFO"}},
}
