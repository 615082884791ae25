"""The read-only permission policy of the admin screens whose rows only the site writes
(cancellation feedback and declarations, usage periods)."""

from __future__ import annotations

from typing import Any

from django.db.models import Model
from wagtail.permission_policies import ModelPermissionPolicy


class ReadOnlyPolicy(ModelPermissionPolicy):
    """Staff with the model's ``view_`` permission read; nobody adds, changes or deletes."""

    def user_has_permission(self, user: Any, action: str) -> bool:
        if action in ("add", "change", "delete"):
            return False
        return bool(super().user_has_permission(user, action))

    def user_has_any_permission(self, user: Any, actions: Any) -> bool:
        return any(self.user_has_permission(user, action) for action in actions)


def read_only(model: type[Model]) -> ReadOnlyPolicy | None:
    """Make ``model`` read-only in the admin. Wagtail 8 registers the policy for every
    view asking for the model's (call this at import, from ``wagtail_hooks``): ``None``.
    Wagtail 7.4 cannot register one: the policy, for the viewset to carry as its
    ``permission_policy``."""
    try:
        from wagtail.permissions import register_permission_policy
    except ImportError:  # Wagtail 7.4
        return ReadOnlyPolicy(model)
    register_permission_policy(model, ReadOnlyPolicy(model))
    return None
