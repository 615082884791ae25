"""Members at risk: :class:`AtRisk`, one mark per membership and reason while it lasts.

Made and resolved by the at-risk job (:mod:`wagtail_paywall.billing.at_risk`); listed in
the admin's "Members at risk". See ``docs/at-risk.md``.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from .fields import member_id_field
from .members import Membership


class AtRisk(models.Model):
    """A membership found deviating for one :class:`Reason`, and how that ended.

    At most one *open* mark per membership and reason exists (a partial unique index), so
    re-running the job adds nothing; a mark is closed as ``saved`` when the reason no longer
    applies and the membership goes on, ``churned`` when the membership ended.
    """

    class Reason(models.TextChoices):
        SLEEPER = "sleeper", _("Paying, not reading")
        PAYMENT_FAILED = "payment_failed", _("Payment failed")
        CANCELING = "canceling", _("Cancels at period end")
        QUIET_TRIAL = "quiet_trial", _("Trial with little reading")
        DOWNGRADE = "downgrade", _("Downgraded")
        BELOW_COHORT = "below_cohort", _("Reads far below their cohort")

    class Outcome(models.TextChoices):
        OPEN = "open", _("Open")
        SAVED = "saved", _("Saved")
        CHURNED = "churned", _("Churned")

    member_id = member_id_field()
    membership = models.ForeignKey(
        Membership,
        verbose_name=_("membership"),
        on_delete=models.CASCADE,
        related_name="at_risk_marks",
    )
    reason = models.CharField(_("reason"), max_length=16, choices=Reason.choices)
    detected_at = models.DateTimeField(_("detected at"))
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    outcome = models.CharField(
        _("outcome"), max_length=8, choices=Outcome.choices, default=Outcome.OPEN
    )
    # When the ``membership_at_risk`` hook was called for it; NULL: not yet (retried).
    notified_at = models.DateTimeField(_("notified at"), null=True, blank=True)

    class Meta:
        ordering = ["-detected_at", "pk"]
        verbose_name = _("member at risk")
        verbose_name_plural = _("members at risk")
        constraints = [
            models.UniqueConstraint(
                fields=["membership", "reason"],
                condition=models.Q(outcome="open"),
                name="paywall_at_risk_open_once",
            )
        ]
        indexes = [
            models.Index(fields=["outcome", "reason"], name="paywall_at_risk_outcome"),
            models.Index(fields=["member_id"], name="paywall_at_risk_member"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.get_reason_display()} ({self.outcome})"
