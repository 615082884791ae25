"""Cancellation declarations received through the cancellation button (§312k BGB) or the
withdrawal button (Art. 11a Consumer Rights Directive), kept as evidence of what was
declared and when. See ``docs/cancellation.md``.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from .fields import member_id_field


class CancellationDeclaration(models.Model):
    """One declaration as the reader sent it, with the time it was received and what was
    done about it. Rows are evidence: the paywall never changes what was declared."""

    class Kind(models.TextChoices):
        ORDINARY = "ordinary", _("Ordinary cancellation")
        EXTRAORDINARY = "extraordinary", _("Extraordinary cancellation (for cause)")
        WITHDRAWAL = "withdrawal", _("Withdrawal from the contract")

    class Outcome(models.TextChoices):
        #: Matching memberships were set to end (the confirmation went to the account).
        APPLIED = "applied", _("applied")
        #: The end date wished for lies after the current period: applied at a renewal.
        PENDING = "pending", _("waiting for the wished date")
        #: No running membership belongs to the address given: for the staff to review.
        NO_MATCH = "no_match", _("no matching contract")
        #: The provider failed; for the staff to carry out.
        FAILED = "failed", _("failed: for the staff")

    received_at = models.DateTimeField(_("received at"), db_index=True)
    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("email address"), db_index=True)
    member_number = models.CharField(_("member number"), max_length=64, blank=True)
    contract = models.CharField(_("contract"), max_length=64, blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    reason = models.TextField(_("reason given"), blank=True)
    wished_date = models.DateField(_("wished end date"), null=True, blank=True)
    via_account = models.BooleanField(_("declared while signed in"), default=False)
    member_id = member_id_field(blank=True, db_index=True)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)
    #: ``[{"membership": id, "ends_at": ISO time or "", "tier": slug}]``: what was ended when.
    memberships = models.JSONField(_("memberships"), default=list, blank=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name = _("cancellation declaration")
        verbose_name_plural = _("cancellation declarations")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.email} {self.received_at:%Y-%m-%d %H:%M}"
