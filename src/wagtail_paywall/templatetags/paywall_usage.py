"""The account page's usage section.

``{% load paywall_usage %}``, then ``{% paywall_account_usage %}`` where the section goes
(``wagtail_paywall/includes/account_usage.html`` does, on the account page): a line per
usage-based add-on the signed-in member's membership includes ("Dataset downloads: 12 of
10 included, 2 extra x €0.50 = €1.00 so far; the period ends on 10 April 2026"). It
reads the memberships the account page holds already, so it asks the database nothing for
a member without an add-on and one query for one with. See ``docs/usage.md``.
"""

from __future__ import annotations

from typing import Any

from django import template

from ..access import member_id_for
from ..formats import money
from ..usage import usage_summaries

register = template.Library()


@register.inclusion_tag("wagtail_paywall/includes/account_usage_section.html", takes_context=True)
def paywall_account_usage(context: Any) -> dict[str, Any]:
    """The use this period of the member of the page's ``request`` (nothing when signed
    out, or without an add-on)."""
    request = context.get("request")
    member_id = member_id_for(request) if request is not None else None
    if member_id is None:
        return {}
    rows = context.get("current")
    memberships = [row["membership"] for row in rows] if rows is not None else None
    meters = [
        {
            "summary": s,
            "unit_price": money(s.unit_amount, s.currency),
            "amount": money(s.amount, s.currency),
        }
        for s in usage_summaries(member_id, memberships)
    ]
    return {"usage_meters": meters}
