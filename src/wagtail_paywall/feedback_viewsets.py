"""The Wagtail admin's "Cancellations" listing: why members left, for the publisher.

Read-only (answers are the members' own words): filter by reason or tier, search the
comments, inspect one, or export the list. Importing this module registers it
(``wagtail_hooks`` imports it).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from wagtail.admin.viewsets.model import ModelViewSet
from wagtail.permission_policies import ModelPermissionPolicy

from wagtail import hooks

from .journey_models import CancellationFeedback


class ReadOnlyPolicy(ModelPermissionPolicy):
    """Anyone allowed to view the answers may read them; nobody adds, edits or deletes."""

    def user_has_permission(self, user: Any, action: str) -> bool:
        if action in ("add", "change", "delete"):
            return False
        return bool(super().user_has_permission(user, action))

    def user_has_any_permission(self, user: Any, actions: Any) -> bool:
        return any(self.user_has_permission(user, action) for action in actions)


try:
    from wagtail.permissions import register_permission_policy
except ImportError:  # Wagtail 7.4: the viewset carries the policy itself (see below)
    REGISTERED = False
else:
    # Registered at import (wagtail_hooks), before any view asks for the model's policy.
    register_permission_policy(CancellationFeedback, ReadOnlyPolicy(CancellationFeedback))
    REGISTERED = True


class CancellationFeedbackViewSet(ModelViewSet):
    model = CancellationFeedback
    name = "paywall_cancellations"
    icon = "comment"
    menu_label = _("Cancellations")
    menu_order = 251  # just below the "Paywall" menu
    add_to_admin_menu = True
    list_display = ["created_at", "reason", "tier", "member_id", "comment"]
    list_filter = ["reason", "tier"]
    search_fields = ["comment", "member_id"]
    list_export = ["created_at", "reason", "tier", "member_id", "membership_id", "comment"]
    export_filename = "cancellation-feedback"
    inspect_view_enabled = True
    inspect_view_fields = ["created_at", "reason", "comment", "tier", "member_id", "membership_id"]
    form_fields = ["reason", "comment"]  # required by ModelViewSet; the policy refuses edits
    copy_view_enabled = False
    if not REGISTERED:
        permission_policy = ReadOnlyPolicy(CancellationFeedback)


@hooks.register("register_admin_viewset")
def register_cancellation_feedback() -> ModelViewSet:
    return CancellationFeedbackViewSet()
