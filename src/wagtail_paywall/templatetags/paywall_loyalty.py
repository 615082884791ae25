"""The account page's loyalty section: ``{% load paywall_loyalty %}`` then
``{% paywall_loyalty as loyalty %}`` in a template whose context holds the account page's
membership rows (``current`` and ``past``, see
:func:`wagtail_paywall.views.account.account_data`) and the signed-in ``request``.

``loyalty`` is ``None`` for someone who never paid (no query then), else a dict with the
member's ``tenure`` ("Member since March 2024 · 31 paid months"), the rewards
``received`` (each with its ``award``: the personal coupon code, or the entitlement's
end; for a code its ``use``: where it can be used, see
:func:`~wagtail_paywall.billing.loyalty.code_uses`, and the ``membership`` the button puts
it on) and the ``standing`` (its ``next`` reward and ``months_to_next``); two queries
(the rewards, the member's awards) and one more for a member with a personal code (its
redemption). See ``docs/loyalty.md``.
"""

from __future__ import annotations

from typing import Any

from django import template

from ..billing.loyalty import code_uses, member_standing

register = template.Library()


@register.simple_tag(takes_context=True)
def paywall_loyalty(context: template.Context) -> dict[str, Any] | None:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    rows = [*context.get("current", ()), *context.get("past", ())]
    memberships = [row["membership"] for row in rows]
    found = member_standing(str(user.pk), memberships)
    if found is None:
        return None
    standing, rewards = found
    uses = code_uses(str(user.pk), standing.received, memberships)
    received = [
        {
            "award": award,
            "reward": rewards.get(award.reward),
            **uses.get(award.coupon_code, {}),
        }
        for award in standing.received
    ]
    return {"standing": standing, "tenure": standing.tenure, "received": received}
