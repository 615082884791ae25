"""Production settings: everything that matters comes from the environment.

``DJANGO_SETTINGS_MODULE=demo_site.production``. Required: ``DJANGO_SECRET_KEY``,
``DJANGO_ALLOWED_HOSTS`` and ``DATABASE_URL``; the process refuses to start without them.
Optional: ``REDIS_URL`` (a shared cache; without it ``wagtail_paywall.W001`` warns),
SMTP settings (``EMAIL_HOST``, ``EMAIL_PORT``, ``EMAIL_HOST_USER``,
``EMAIL_HOST_PASSWORD``), ``DEFAULT_FROM_EMAIL``, ``WAGTAILADMIN_BASE_URL``, and the payment
provider: ``STRIPE_API_KEY`` + ``STRIPE_WEBHOOK_SECRET`` for Stripe, else the ``manual``
provider (invoices settled by staff), which then needs ``MANUAL_WEBHOOK_SECRET``. The
``fake`` provider is never configured here.

``python manage.py check --deploy --settings=demo_site.production`` is clean with these set.
"""

from __future__ import annotations

import os

import dj_database_url

from .settings import *  # noqa: F403
from .settings import env_bool, env_list


def required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"demo_site.production needs the environment variable {name}")
    return value


SECRET_KEY = required("DJANGO_SECRET_KEY")
DEBUG = False
ALLOWED_HOSTS = [h.strip() for h in required("DJANGO_ALLOWED_HOSTS").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

DATABASES = {"default": dj_database_url.parse(required("DATABASE_URL"), conn_max_age=60)}

if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
        }
    }
# Several processes serve production: warn when their caches are not shared.
SILENCED_SYSTEM_CHECKS: list[str] = []

# -- HTTPS and cookies ---------------------------------------------------------------------
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", str(60 * 60 * 24 * 365)))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"

# -- mail: real SMTP, and members confirm their address ------------------------------------
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "webmaster@localhost")
ACCOUNT_EMAIL_VERIFICATION = "mandatory"

WAGTAILADMIN_BASE_URL = os.environ.get("WAGTAILADMIN_BASE_URL", f"https://{ALLOWED_HOSTS[0]}")

# -- the paywall: a real provider, never the fake one --------------------------------------
if os.environ.get("STRIPE_API_KEY"):
    PAYWALL = {
        "PROVIDERS": {
            "stripe": {
                "api_key": os.environ["STRIPE_API_KEY"],
                "webhook_secret": required("STRIPE_WEBHOOK_SECRET"),
            }
        },
        "DEFAULT_PROVIDER": "stripe",
    }
else:
    # Staff confirm bank transfers as signed webhooks: the secret keeps anyone else from
    # posting a "confirmed" transfer.
    PAYWALL = {
        "PROVIDERS": {"manual": {"secret": required("MANUAL_WEBHOOK_SECRET")}},
        "DEFAULT_PROVIDER": "manual",
    }
PAYWALL["GRACE_DAYS"] = int(os.environ.get("PAYWALL_GRACE_DAYS", "3"))
