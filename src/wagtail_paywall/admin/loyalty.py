"""Loyalty rewards in the Wagtail admin (Paywall → Loyalty rewards): what members get
after how many paid months, and how many received each. See ``docs/loyalty.md``."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from wagtail.admin.ui.tables import Column
from wagtail.admin.viewsets.model import ModelViewSet

from ..models import LoyaltyAward, LoyaltyReward


def received_count(reward: LoyaltyReward) -> int:
    return LoyaltyAward.objects.filter(reward=reward.key).count()


class LoyaltyRewardViewSet(ModelViewSet):
    """Rewards for tenure: after N paid months an entitlement (for some days or for
    good) or a personal single-use coupon code. The model's ``clean`` refuses what the
    core would (both or neither, a bad entitlement, coupon terms that do not add up)."""

    model = LoyaltyReward
    name = "paywall_loyalty"
    icon = "pick"
    menu_label = _("Loyalty rewards")
    form_fields = [
        "key",
        "name",
        "after_months",
        "entitlement",
        "days",
        "coupon_prefix",
        "percent_off",
        "amount_off",
        "currency",
        "duration",
        "months",
        "active",
    ]
    list_display = [
        "name",
        "key",
        "after_months",
        "entitlement",
        "coupon_prefix",
        Column("received", label=_("Received"), accessor=received_count),
        "active",
    ]
    list_filter = ["active"]
    search_fields = ["name", "key"]
    copy_view_enabled = False
