"""The account page's "Your deliveries" section: ``{% load paywall_deliveries %}``, then
``{% paywall_deliveries as deliveries %}`` gives the upcoming issues of what the member's
membership ships and their address (an empty dict for anyone who gets no deliveries).
See ``docs/deliveries.md``.
"""

from __future__ import annotations

from typing import Any

from django import template

from membership_sdk.deliveries import delivery_keys

from ..access import member_context
from ..program import get_program
from ..views.deliveries import account_deliveries

register = template.Library()


@register.simple_tag(takes_context=True)
def paywall_deliveries(context: template.Context) -> dict[str, Any]:
    """What the signed-in member of the page's request gets delivered; nothing for an
    anonymous visitor or a site that ships nothing (no query then)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if request is None or user is None or not user.is_authenticated:
        return {}
    if not delivery_keys(get_program().catalog):
        return {}  # the site ships nothing
    return account_deliveries(str(user.pk), member_context(request).entitlements)
