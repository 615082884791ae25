"""Retention offers in the cancel flow: each offer shown to a cancelling member, and
their answer (:class:`RetentionAttempt`); the offers themselves are configured in
``PAYWALL["RETENTION_OFFERS"]`` (:func:`configured_offers`). See ``docs/journey.md``
(Retention offers).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from membership_sdk.retention import RetentionKind, RetentionOffer, parse_offers

from .. import conf
from .fields import member_id_field
from .journey import CancellationFeedback


def configured_offers() -> tuple[RetentionOffer, ...]:
    """The site's retention offers, in the order configured.

    :raises membership_sdk.retention.RetentionConfigError: the setting is wrong (system
        check ``wagtail_paywall.E014`` reports it at start-up).
    """
    return parse_offers(
        conf.get("RETENTION_OFFERS"), reasons=set(CancellationFeedback.Reason.values)
    )


class RetentionAttempt(models.Model):
    """One retention offer shown to a member who is cancelling, and what they answered.

    ``outcome`` starts as ``shown`` and becomes ``accepted`` or ``declined`` once. Whether
    an accepted offer *saved* the member is not stored: the "Retention offers" report
    reads it from the membership when it runs (see
    :func:`membership_sdk.retention.saved`).
    """

    class Outcome(models.TextChoices):
        SHOWN = "shown", _("Shown, no answer")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", _("Declined")

    class Kind(models.TextChoices):
        DISCOUNT = RetentionKind.DISCOUNT.value, _("Discount")
        PAUSE = RetentionKind.PAUSE.value, _("Pause")
        CHEAPER_PLAN = RetentionKind.CHEAPER_PLAN.value, _("Cheaper plan")

    membership_id = models.CharField(_("membership"), max_length=64, db_index=True)
    member_id = member_id_field(db_index=True)
    tier = models.CharField(_("tier"), max_length=64, blank=True)
    reason = models.CharField(
        _("reason"), max_length=32, choices=CancellationFeedback.Reason.choices
    )
    offer = models.CharField(_("offer"), max_length=64)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    outcome = models.CharField(
        _("outcome"), max_length=16, choices=Outcome.choices, default=Outcome.SHOWN
    )
    # What was taken, in words the report shows ("2 months", "supporter-monthly").
    detail = models.CharField(_("detail"), max_length=200, blank=True)
    shown_at = models.DateTimeField(_("shown at"))
    decided_at = models.DateTimeField(_("answered at"), null=True, blank=True)

    class Meta:
        ordering = ["-shown_at"]
        verbose_name = _("retention offer")
        verbose_name_plural = _("retention offers")
        indexes = [models.Index(fields=["outcome", "decided_at"], name="paywall_retention_outcome")]

    def __str__(self) -> str:
        return f"{self.offer} ({self.get_outcome_display()})"
