"""The referral sections of the account and pricing pages.

``{% load paywall_referrals %}``, then:

- ``{% paywall_account_referrals %}`` (``wagtail_paywall/includes/account_referrals.html``
  does, on the account page): the signed-in member's referral link, how many friends
  joined through it, and their rewards received and waiting. Two queries (three the first
  time, when the member's code is made); none while referrals are off.
- ``{% paywall_referral_offer %}`` (on the pricing page): what a visitor who followed a
  referral link gets. Nothing, and no query, for a visitor without one.

See ``docs/referrals.md``.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from ..access import member_id_for
from ..billing import referrals
from ..models import DjangoReferrals

register = template.Library()


@register.inclusion_tag(
    "wagtail_paywall/includes/referrals_account_section.html", takes_context=True
)
def paywall_account_referrals(context: Any) -> dict[str, Any]:
    """The member's link and counts (nothing when signed out or referrals are off)."""
    request = context.get("request")
    member_id = member_id_for(request) if request is not None else None
    if member_id is None or not referrals.enabled():
        return {}
    rules = referrals.policy()
    assert rules is not None
    store = referrals.store()
    code = store.code_for(member_id)
    counts = DjangoReferrals.summary(member_id)
    coupon = None
    if rules.friend_coupon:
        from ..program import get_program

        coupon = get_program().catalog.coupon(rules.friend_coupon)
    return {
        "referral_link": request.build_absolute_uri(reverse("paywall:referral_link", args=[code])),
        "referral_code": code,
        "joined": counts["pending"] + counts["qualified"] + counts["rewarded"],
        "rewarded": counts["rewarded"],
        "waiting": counts["pending"] + counts["qualified"],
        "reward_months": rules.reward_months,
        "reward_percent_off": rules.reward_percent_off,
        "qualify_days": rules.qualify_days,
        "monthly_cap": rules.monthly_cap,
        "friend_offer": referrals.describe(coupon) if coupon is not None else "",
    }


@register.inclusion_tag("wagtail_paywall/includes/referral_offer.html", takes_context=True)
def paywall_referral_offer(context: Any) -> dict[str, Any]:
    """The referred visitor's offer (nothing for anyone else)."""
    request = context.get("request")
    found = referrals.offer(request) if request is not None else None
    return {"referral_offer": found}
