"""Members' reading activity: one :class:`ReadingActivity` row per member and day read.

Written by :mod:`wagtail_paywall.billing.activity` at most once per member per day, never
on a warm page view; read by the at-risk job (:mod:`wagtail_paywall.billing.at_risk`).
See ``docs/at-risk.md`` (Reading activity).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from .fields import member_id_field


class ReadingActivity(models.Model):
    """A day on which a member read gated content.

    ``reads`` is what was recorded for that day: the tracker writes 1 (a day read) with
    one write per member and day; an import or a seeded history may carry more. Queries
    sum it, so "reads" in the at-risk settings count days read for tracked members.
    """

    member_id = member_id_field()
    day = models.DateField(_("day"))
    reads = models.PositiveIntegerField(_("reads"), default=1)

    class Meta:
        verbose_name = _("reading activity")
        verbose_name_plural = _("reading activity")
        constraints = [
            # Also the index of "a member's last read" and "a member's reads since a day".
            models.UniqueConstraint(fields=["member_id", "day"], name="paywall_activity_day")
        ]
        # "Who read in a window", across members.
        indexes = [models.Index(fields=["day"], name="paywall_activity_by_day")]

    def __str__(self) -> str:
        return f"{self.member_id} {self.day}: {self.reads}"
