"""The account page's services section.

``{% load paywall_services %}``, then ``{% paywall_account_services %}`` where the section
goes (``wagtail_paywall/includes/account_services.html`` does, on the account page): a
line per service the signed-in member holds ("Consultation: 1 of 2 left this month"), and
their open requests. One query for a member holding services; none for anyone else. See
``docs/services.md``.
"""

from __future__ import annotations

from typing import Any

from django import template

from ..access import member_context, member_id_for
from ..views.services import account_services

register = template.Library()


@register.inclusion_tag(
    "wagtail_paywall/includes/account_services_section.html", takes_context=True
)
def paywall_account_services(context: Any) -> dict[str, Any]:
    """The services of the member of the page's ``request`` (nothing when signed out)."""
    request = context.get("request")
    member_id = member_id_for(request) if request is not None else None
    if member_id is None:
        return {}
    return account_services(member_id, member_context(request))
