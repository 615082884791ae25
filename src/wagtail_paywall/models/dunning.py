"""Dunning: one :class:`PaymentRecovery` row per failed-payment episode of a membership,
from the first failure to its recovery or loss. :mod:`wagtail_paywall.billing.dunning`
keeps them (driven by the lifecycle hooks) and the "Payment recovery" report sums them
up. See ``docs/dunning.md``.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from membership_sdk.dunning import EpisodeState

from .fields import choices_of, member_id_field


class PaymentRecovery(models.Model):
    """A failed-payment episode: opened at the first failure, then ``recovered`` when a
    payment arrives or ``lost`` when the membership ends unpaid. A membership has at most
    one open episode (a constraint), so duplicated or reordered webhooks open it once."""

    State = choices_of(
        EpisodeState,
        {
            EpisodeState.OPEN: _("Open"),
            EpisodeState.RECOVERED: _("Recovered"),
            EpisodeState.LOST: _("Lost"),
        },
        qualname="PaymentRecovery.State",
    )

    membership_id = models.CharField(_("membership"), max_length=64, db_index=True)
    member_id = member_id_field()
    provider = models.CharField(_("provider"), max_length=64)
    tier = models.CharField(_("tier"), max_length=64, blank=True)
    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=EpisodeState.OPEN.value
    )
    failed_at = models.DateTimeField(_("failed at"), db_index=True)
    #: Retries (fake) or reminders (manual) made so far on the retry schedule.
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_attempt_at = models.DateTimeField(_("last attempt at"), null=True, blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    #: What a period costs the member (minor units, after discounts), at the failure.
    amount = models.PositiveIntegerField(_("amount due"), default=0)
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    #: What the recovering payment brought in (minor units); 0 unless recovered.
    recovered_amount = models.PositiveIntegerField(_("amount recovered"), default=0)

    class Meta:
        verbose_name = _("payment recovery")
        verbose_name_plural = _("payment recoveries")
        ordering = ["-failed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["membership_id"],
                condition=models.Q(state="open"),
                name="paywall_one_open_recovery_per_membership",
            )
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="paywall_recovery_due")]

    def __str__(self) -> str:
        return f"{self.membership_id} ({self.state}, failed {self.failed_at:%Y-%m-%d})"
