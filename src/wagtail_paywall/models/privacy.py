"""Erasures (see :mod:`wagtail_paywall.privacy`): one :class:`Erasure` per erased member,
kept under a pseudonym, and :class:`ErasedCustomer`, the keyed digests of their provider
customers, read by :class:`DjangoErasures` (the core's
:class:`~membership_sdk.privacy.ErasureLedger`) so a later webhook of such a customer
never re-creates the member's data. See ``docs/privacy.md``.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from membership_sdk.privacy import customer_digest, pseudonym

from .fields import member_id_field


def erasure_key() -> bytes:
    """The key of the pseudonyms and digests, derived from ``SECRET_KEY`` (a rotated
    ``SECRET_KEY`` gives new pseudonyms; see ``docs/privacy.md``)."""
    return hashlib.sha256(b"wagtail_paywall.privacy:" + settings.SECRET_KEY.encode()).digest()


def member_pseudonym(member_id: str) -> str:
    return pseudonym(member_id, erasure_key())


class Erasure(models.Model):
    """A member's erasure: ``pending`` while a provider could not cancel their
    subscription yet (``member_id`` and ``emails`` are kept so it can be retried),
    ``done`` once every row of theirs was deleted or anonymised (both are then cleared)."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending: a subscription is still to be canceled")
        DONE = "done", _("Done")

    class Source(models.TextChoices):
        MEMBER = "member", _("Asked by the member")
        STAFF = "staff", _("Done by staff")
        USER_DELETED = "user_deleted", _("The user was deleted")
        COMMAND = "command", _("Management command")

    pseudonym = models.CharField(_("pseudonym"), max_length=64, unique=True)
    member_id = member_id_field(blank=True, db_index=True)
    source = models.CharField(_("asked by"), max_length=16, choices=Source.choices)
    state = models.CharField(
        _("state"), max_length=8, choices=State.choices, default=State.PENDING, db_index=True
    )
    requested_at = models.DateTimeField(_("requested at"))
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    #: The member's email addresses, kept only while pending (a deleted user's can no
    #: longer be read, and a retry must find the rows made under them); cleared once done.
    emails = models.JSONField(_("email addresses"), default=list, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        verbose_name = _("erasure")
        verbose_name_plural = _("erasures")

    def __str__(self) -> str:
        return f"{self.pseudonym} ({self.state})"


class ErasedCustomer(models.Model):
    """The keyed digest of a provider customer of an erased member (never the id)."""

    digest = models.CharField(_("digest"), max_length=64, unique=True)
    erased_at = models.DateTimeField(_("erased at"), auto_now_add=True)

    class Meta:
        verbose_name = _("erased customer")
        verbose_name_plural = _("erased customers")

    def __str__(self) -> str:
        return self.digest[:12]


class DjangoErasures:
    """The core's :class:`~membership_sdk.privacy.ErasureLedger` on :class:`ErasedCustomer`."""

    def is_erased(self, provider: str, customer_id: str) -> bool:
        digest = customer_digest(provider, customer_id, erasure_key())
        return ErasedCustomer.objects.filter(digest=digest).exists()

    def record(self, provider: str, customer_id: str) -> None:
        digest = customer_digest(provider, customer_id, erasure_key())
        ErasedCustomer.objects.get_or_create(digest=digest)
