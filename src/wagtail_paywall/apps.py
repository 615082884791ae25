"""Django app configuration of the Wagtail paywall."""

from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WagtailPaywallConfig(AppConfig):
    name = "wagtail_paywall"
    label = "wagtail_paywall"
    verbose_name = _("Paywall")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Connecting signals and registering checks is import-time work Django expects here.
        from . import checks, signal_handlers  # noqa: F401
