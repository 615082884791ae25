"""A member's private feed address: :class:`FeedToken`.

Imported at the end of :mod:`wagtail_paywall.models`, so Django finds it in the app.
"""

from __future__ import annotations

import secrets

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

MEMBER_ID_LENGTH = 64

__all__ = ["FeedToken"]


def new_token() -> str:
    """An unguessable token (256 bits), safe in a URL path."""
    return secrets.token_urlsafe(32)


class FeedToken(models.Model):
    """The secret in a member's feed URL (``/paywall/feeds/member/<token>/rss/``).

    The feed it opens carries full text only for what the member may read *now*: the
    token names the member, never their access. A revoked token, or one never issued,
    finds no feed (404). A member holds at most one live token; issuing a new one
    revokes the old.
    """

    member_id = models.CharField(_("member"), max_length=MEMBER_ID_LENGTH, db_index=True)
    token = models.CharField(_("token"), max_length=64, unique=True, default=new_token)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        app_label = "wagtail_paywall"
        ordering = ["-created_at"]
        verbose_name = _("feed token")
        verbose_name_plural = _("feed tokens")

    def __str__(self) -> str:
        return f"feed of member {self.member_id}"

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])

    @classmethod
    def live_for(cls, member_id: str) -> FeedToken | None:
        return cls.objects.filter(member_id=member_id, revoked_at__isnull=True).first()

    @classmethod
    def issue(cls, member_id: str) -> FeedToken:
        """A fresh token for ``member_id``; any earlier live one is revoked."""
        cls.objects.filter(member_id=member_id, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        return cls.objects.create(member_id=member_id)
