"""The membership ledger: one :class:`LedgerEntry` per stored change of a membership that
matters for money or counts, so the metrics are sums in the database, never a loop over
members.

Rows are written by :mod:`wagtail_paywall.reports.ledger` (from the core's
``membership_changed`` hook, and by the ``paywall_backfill_ledger`` command for
memberships stored before the ledger existed). See ``docs/metrics.md``.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from .fields import member_id_field


class LedgerEntry(models.Model):
    """A membership moved from one state to another at ``at``.

    ``mrr_before`` and ``mrr_after`` are the membership's monthly recurring revenue in
    minor units of ``currency``: what is paid (see
    :func:`membership_sdk.metrics.monthly_recurring`), so trials, 100%-off periods and
    pauses count 0. Summing ``mrr_after - mrr_before`` over the rows up to an instant gives
    the MRR at that instant; summing ``paid``, ``trialing`` and ``unpaid`` the same way
    gives member counts.
    """

    class Kind(models.TextChoices):
        NEW = "new", _("New")
        EXPANSION = "expansion", _("Expansion")
        CONTRACTION = "contraction", _("Contraction")
        CHURNED = "churned", _("Churned")
        REACTIVATED = "reactivated", _("Reactivated")
        CHANGED = "changed", _("Status change")

    class State(models.TextChoices):
        PAID = "paid", _("Paid")
        TRIALING = "trialing", _("Trialing")
        UNPAID = "unpaid", _("Paying nothing")
        NONE = "none", _("Not a member")

    membership_id = models.CharField(_("membership"), max_length=64)
    # The membership's n-th entry: unique with membership_id, so two writers racing to
    # record the same change cannot both succeed.
    seq = models.PositiveIntegerField(_("sequence"))
    member_id = member_id_field(db_index=True)
    at = models.DateTimeField(_("at"))
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    tier = models.CharField(_("tier"), max_length=64, blank=True)
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    status_before = models.CharField(_("status before"), max_length=16, blank=True)
    status_after = models.CharField(_("status after"), max_length=16)
    state_before = models.CharField(_("state before"), max_length=8, choices=State.choices)
    state_after = models.CharField(_("state after"), max_length=8, choices=State.choices)
    mrr_before = models.BigIntegerField(_("MRR before"), default=0)
    mrr_after = models.BigIntegerField(_("MRR after"), default=0)
    # The first day of the month the member first paid: their retention cohort.
    cohort = models.DateField(_("cohort"), null=True, blank=True)
    # Derived when written, so the reports sum plain integers grouped by plain columns:
    # the first day of ``at``'s month, and -1, 0 or +1 for each state left or entered.
    month = models.DateField(_("month"))
    paid = models.SmallIntegerField(_("paid change"), default=0)
    trialing = models.SmallIntegerField(_("trialing change"), default=0)
    unpaid = models.SmallIntegerField(_("paying-nothing change"), default=0)
    cancel_reason = models.TextField(_("cancel reason"), blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        constraints = [
            models.UniqueConstraint(
                fields=["membership_id", "seq"], name="paywall_ledger_unique_seq"
            )
        ]
        # Churn by reason reads the churned rows of a period.
        indexes = [models.Index(fields=["kind", "at"], name="paywall_ledger_kind_at")]

    def __str__(self) -> str:
        return f"{self.membership_id} #{self.seq}: {self.kind}"
