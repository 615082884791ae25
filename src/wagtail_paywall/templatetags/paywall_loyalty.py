"""The account page's loyalty section: ``{% load paywall_loyalty %}`` then
``{% paywall_loyalty as loyalty %}`` in a template whose context holds the account page's
membership rows (``current`` and ``past``, see
:func:`wagtail_paywall.views.account.account_data`) and the signed-in ``request``.

``loyalty`` is ``None`` for someone who never paid (no query then), else a dict with the
member's ``tenure`` ("Member since March 2024 · 31 paid months"), the rewards
``received`` (each with its ``award``: the personal coupon code to use at checkout, or
the entitlement's end) and the ``standing`` (its ``next`` reward and ``months_to_next``);
two queries (the rewards, the member's awards). See ``docs/loyalty.md``.
"""

from __future__ import annotations

from typing import Any

from django import template

from ..billing.loyalty import member_standing

register = template.Library()


@register.simple_tag(takes_context=True)
def paywall_loyalty(context: template.Context) -> dict[str, Any] | None:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    rows = [*context.get("current", ()), *context.get("past", ())]
    found = member_standing(str(user.pk), [row["membership"] for row in rows])
    if found is None:
        return None
    standing, rewards = found
    received = [
        {"award": award, "reward": rewards.get(award.reward)} for award in standing.received
    ]
    return {"standing": standing, "tenure": standing.tenure, "received": received}
