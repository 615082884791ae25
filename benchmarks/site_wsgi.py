"""The WSGI application of the gunicorn benchmark's site (settings: :mod:`site_settings`)."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_settings")
application = get_wsgi_application()

if settings.PAYWALL_OFF:
    from wagtail import hooks

    from wagtail_paywall.wagtail_hooks import paywall_before_serve_page

    hooks.search_for_hooks()  # import every wagtail_hooks module first, then drop the gate
    registered = hooks._hooks["before_serve_page"]
    registered[:] = [e for e in registered if e[0] is not paywall_before_serve_page]
