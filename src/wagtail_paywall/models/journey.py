"""The member's journey: why members cancel (:class:`CancellationFeedback`), and which
trials were reminded (:class:`TrialReminder`). See ``docs/journey.md``.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from .fields import member_id_field


class CancellationFeedback(models.Model):
    """A member's answer to "why are you leaving?", asked when they cancel.

    Kept apart from the membership so it survives the membership's changes, and so the
    publisher can read every answer in the Wagtail admin ("Paywall" > "Cancellations").
    """

    class Reason(models.TextChoices):
        TOO_EXPENSIVE = "too_expensive", _("It costs too much")
        NOT_ENOUGH_TIME = "not_enough_time", _("I don't have time to read it")
        CONTENT = "content", _("The content isn't what I hoped for")
        SWITCHING = "switching", _("I'm switching to another publication")
        TEMPORARY = "temporary", _("I only needed it for a while")
        TECHNICAL = "technical", _("Technical problems")
        OTHER = "other", _("Something else")

    membership_id = models.CharField(_("membership"), max_length=64, db_index=True)
    member_id = member_id_field(db_index=True)
    tier = models.CharField(_("tier"), max_length=64, blank=True)
    reason = models.CharField(_("reason"), max_length=32, choices=Reason.choices)
    comment = models.TextField(_("comment"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("cancellation feedback")
        verbose_name_plural = _("cancellation feedback")

    def __str__(self) -> str:
        return f"{self.get_reason_display()} ({self.tier})"


class TrialReminder(models.Model):
    """A trial whose member was told it ends soon: one row per membership and trial end,
    so the daily job reminds each trial once (a new trial end is a new trial)."""

    membership_id = models.CharField(_("membership"), max_length=64)
    trial_end = models.DateTimeField(_("trial end"))
    sent_at = models.DateTimeField(_("sent at"), auto_now_add=True)

    class Meta:
        verbose_name = _("trial reminder")
        verbose_name_plural = _("trial reminders")
        constraints = [
            models.UniqueConstraint(
                fields=["membership_id", "trial_end"], name="paywall_trial_reminded_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.membership_id} ({self.trial_end:%Y-%m-%d})"
