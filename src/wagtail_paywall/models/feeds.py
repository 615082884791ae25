"""A member's private feed address: :class:`FeedToken`, of which only a digest is stored.

See ``docs/channels.md`` (Feeds).
"""

from __future__ import annotations

import hashlib
import secrets

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .fields import member_id_field


def new_token() -> str:
    """An unguessable token (256 bits), safe in a URL path."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """The SHA-256 hex digest of ``token``: what the database keeps instead of it.

    A fast hash is enough: the token is 256 random bits, so there is nothing to guess
    (unlike a password, which needs a slow hash).
    """
    return hashlib.sha256(token.encode()).hexdigest()


def unheld_digest() -> str:
    """The digest of a token nobody holds: a row made without :meth:`FeedToken.issue`
    (say, in the admin) opens no feed."""
    return token_digest(new_token())


class FeedToken(models.Model):
    """The secret in a member's feed URL (``/paywall/feeds/member/<token>/rss/``).

    Only the token's digest is stored: whoever reads the database cannot open a feed,
    and the token itself is known only to :meth:`issue`'s caller, once.

    The feed it opens carries full text only for what the member may read *now*: the
    token names the member, never their access. A revoked token, or one never issued,
    finds no feed (404). A member holds at most one live token; issuing a new one
    revokes the old.
    """

    member_id = member_id_field(db_index=True)
    token_digest = models.CharField(
        _("token digest"), max_length=64, unique=True, default=unheld_digest, editable=False
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
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
    def find(cls, token: str) -> FeedToken | None:
        """The live row ``token`` opens, or ``None`` (revoked, never issued, or forged).

        Looked up by the digest's unique index: a digest pasted into a URL is hashed
        again and finds nothing.
        """
        return cls.objects.filter(token_digest=token_digest(token), revoked_at__isnull=True).first()

    @classmethod
    def issue(cls, member_id: str) -> tuple[FeedToken, str]:
        """A fresh row for ``member_id`` and its token; any earlier live one is revoked.

        The token is returned here and nowhere else: only its digest is saved, so show
        it to the member now or never.
        """
        cls.objects.filter(member_id=member_id, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        token = new_token()
        return cls.objects.create(member_id=member_id, token_digest=token_digest(token)), token
