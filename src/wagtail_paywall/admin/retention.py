"""The "Retention offers" report: per offer type and cancellation reason, how often an
offer was shown, accepted and declined, and how many accepted offers saved the member
(still a member 30 days later, read from the membership as it is now). CSV export with
``?format=csv``. See ``docs/journey.md`` (Retention offers).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.translation import gettext_lazy
from wagtail.admin.menu import MenuItem

from membership_sdk.retention import SAVE_WINDOW, saved

from ..models import CancellationFeedback, Membership, RetentionAttempt
from ..program import get_program
from .views import PaywallScreen

PERMISSION = "wagtail_paywall.view_retentionattempt"


@dataclass
class Tally:
    """The figures of one offer type and reason."""

    kind: str
    reason: str
    shown: int = 0
    accepted: int = 0
    declined: int = 0
    saves: int = 0
    lost: int = 0
    pending: int = 0

    @property
    def save_rate(self) -> float | None:
        """Saves among accepted offers whose 30 days are over (or who left before)."""
        decided = self.saves + self.lost
        return self.saves / decided if decided else None


def tallies() -> list[Tally]:
    """Every (offer type, reason) with an offer shown, sorted by type then reason."""
    program = get_program()
    now = program.clock()
    rows = list(
        RetentionAttempt.objects.values_list(
            "kind", "reason", "outcome", "decided_at", "membership_id"
        )
    )
    accepted_ids = {m for _k, _r, o, _d, m in rows if o == RetentionAttempt.Outcome.ACCEPTED}
    memberships = {row.id: row.to_core() for row in Membership.objects.filter(id__in=accepted_ids)}
    figures: dict[tuple[str, str], Tally] = {}
    for kind, reason, outcome, decided_at, membership_id in rows:
        tally = figures.setdefault((kind, reason), Tally(kind, reason))
        tally.shown += 1
        if outcome == RetentionAttempt.Outcome.DECLINED:
            tally.declined += 1
        elif outcome == RetentionAttempt.Outcome.ACCEPTED and decided_at is not None:
            tally.accepted += 1
            verdict = saved(memberships.get(membership_id), decided_at, now)
            if verdict is None:
                tally.pending += 1
            elif verdict:
                tally.saves += 1
            else:
                tally.lost += 1
    return [figures[key] for key in sorted(figures)]


def _labels() -> tuple[dict[str, str], dict[str, str]]:
    kinds = {str(k): str(v) for k, v in RetentionAttempt.Kind.choices}
    reasons = {str(k): str(v) for k, v in CancellationFeedback.Reason.choices}
    return kinds, reasons


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.1%}"


class RetentionReportView(PaywallScreen):
    """The report, or its CSV with ``?format=csv``."""

    permission = PERMISSION
    template_name = "wagtail_paywall/admin/retention_report.html"
    page_title = gettext_lazy("Retention offers")
    header_icon = "tag"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.GET.get("format") == "csv":
            return self.csv()
        return super().get(request, *args, **kwargs)

    def csv(self) -> HttpResponse:
        kinds, reasons = _labels()
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="retention-offers.csv"'
        writer = csv.writer(response)
        writer.writerow(
            [
                "offer_type",
                "reason",
                "shown",
                "accepted",
                "declined",
                "saves_30_days",
                "lost",
                "too_early",
                "save_rate",
            ]
        )
        for t in tallies():
            writer.writerow(
                [
                    kinds.get(t.kind, t.kind),
                    reasons.get(t.reason, t.reason),
                    t.shown,
                    t.accepted,
                    t.declined,
                    t.saves,
                    t.lost,
                    t.pending,
                    "" if t.save_rate is None else f"{t.save_rate:.4f}",
                ]
            )
        return response

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        kinds, reasons = _labels()
        context.update(
            days=SAVE_WINDOW.days,
            rows=[
                {
                    "kind": kinds.get(t.kind, t.kind),
                    "reason": reasons.get(t.reason, t.reason),
                    "tally": t,
                    "save_rate": _percent(t.save_rate),
                }
                for t in tallies()
            ],
        )
        return context


class RetentionMenuItem(MenuItem):
    """Shown to those who may view the retention offers."""

    def is_shown(self, request: Any) -> bool:
        return bool(request.user.has_perm(PERMISSION))
