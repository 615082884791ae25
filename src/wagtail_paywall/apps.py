"""Django app configuration of the Wagtail paywall: ``ready()`` connects the signal
handlers, registers the system checks and the adapter's own plugins.

See ``docs/wagtail.md`` (Install).
"""

from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WagtailPaywallConfig(AppConfig):
    name = "wagtail_paywall"
    label = "wagtail_paywall"
    verbose_name = _("Paywall")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Connecting signals, registering checks and the adapter's own plugins is the
        # import-time work Django expects here, once every app is loaded.
        from . import checks, signal_handlers  # noqa: F401
        from .billing import emails
        from .program import adapter_plugins

        if emails not in adapter_plugins:
            adapter_plugins.append(emails)
