"""The cancellation button a site shows on every page (§312k BGB).

``{% load paywall_cancellation %}``, then ``{% paywall_cancellation_link %}`` in the site's
footer: a "Cancel contracts here" link to the paywall's no-login cancellation page while
``PAYWALL["CANCELLATION_BUTTON"]`` is on, nothing otherwise. The paywall's own pages show
it too. See ``docs/cancellation.md``.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import NoReverseMatch, reverse

from .. import conf

register = template.Library()


@register.inclusion_tag("wagtail_paywall/includes/cancellation_link.html")
def paywall_cancellation_link(footer: bool = False) -> dict[str, Any]:
    """The link to the cancellation page, or nothing when the setting is off.
    ``footer=True`` wraps it in a ``<footer>`` of its own (the paywall's pages do)."""
    url = ""
    if conf.get("CANCELLATION_BUTTON") is True:
        try:
            url = reverse("paywall:cancel_contract")
        except NoReverseMatch:  # the paywall's URLs are not included: nothing to link to
            url = ""
    return {"cancellation_url": url, "footer": footer}
