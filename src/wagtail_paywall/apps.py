"""Django app configuration of the Wagtail paywall: ``ready()`` connects the signal
handlers, registers the system checks, the adapter's own plugins and the paywalled
substitute of Wagtail's stock pages API (served by ``PaywallMiddleware``).

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
        from .billing import gifts

        if gifts not in adapter_plugins:
            adapter_plugins.append(gifts)
        from .billing import dunning

        if dunning not in adapter_plugins:
            adapter_plugins.append(dunning)
        from . import privacy

        if privacy not in adapter_plugins:
            adapter_plugins.append(privacy)
        from .billing import cancellation

        if cancellation not in adapter_plugins:
            adapter_plugins.append(cancellation)
        from .billing import attribution

        if attribution not in adapter_plugins:
            adapter_plugins.append(attribution)
        from .billing import referrals

        if referrals not in adapter_plugins:
            adapter_plugins.append(referrals)
        from .reports import ledger

        if ledger not in adapter_plugins:
            adapter_plugins.append(ledger)
        self.substitute_stock_views()

    def substitute_stock_views(self) -> None:
        """Let ``PaywallMiddleware`` serve Wagtail's stock pages API through the paywall
        (only where Django REST framework, which the API needs, is installed)."""
        from .middleware import VIEW_SUBSTITUTES

        try:
            from .channels.api import paywalled_stock_view
        except ImportError:  # no REST framework: no API to protect
            return
        if paywalled_stock_view not in VIEW_SUBSTITUTES:
            VIEW_SUBSTITUTES.append(paywalled_stock_view)
