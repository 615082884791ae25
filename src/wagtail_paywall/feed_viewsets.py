"""The Wagtail admin's "Feed tokens": members' private feed addresses, to revoke one.

Setting "revoked at" (or deleting the row) stops the address at once: the feed answers
404. The token itself is never listed. Importing this module registers it
(``wagtail_hooks`` imports it).
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from wagtail.admin.viewsets.model import ModelViewSet

from wagtail import hooks

from .feed_models import FeedToken


class FeedTokenViewSet(ModelViewSet):
    model = FeedToken
    name = "paywall_feed_tokens"
    icon = "link"
    menu_label = _("Feed tokens")
    menu_order = 252
    add_to_admin_menu = True
    list_display = ["member_id", "created_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["member_id"]
    form_fields = ["member_id", "revoked_at"]
    copy_view_enabled = False


@hooks.register("register_admin_viewset")
def register_feed_tokens() -> ModelViewSet:
    return FeedTokenViewSet()
