"""The "Payment recovery" report: failed-payment episodes per month (of the first
failure) and provider: how many failed, were recovered, were lost or are still open,
the revenue recovered and the recovery rate (recovered among the ended episodes). CSV
export with ``?format=csv``. See ``docs/dunning.md``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils import timezone
from django.utils.translation import gettext_lazy
from wagtail.admin.menu import MenuItem

from membership_sdk.dunning import EpisodeState, recovery_rate

from ..formats import money
from ..models import PaymentRecovery
from .views import PaywallScreen

PERMISSION = "wagtail_paywall.view_paymentrecovery"


@dataclass
class RecoveryFigures:
    """The episodes of one month and provider (``provider`` ``""``: every provider)."""

    month: str
    provider: str
    failed: int = 0
    recovered: int = 0
    lost: int = 0
    open: int = 0
    #: Revenue recovered in minor units, by currency.
    revenue: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float | None:
        """Recovered among the episodes that ended (open ones are not decided yet)."""
        return recovery_rate(self.recovered, self.lost)

    def add(self, state: str, amount: int, currency: str) -> None:
        self.failed += 1
        if state == EpisodeState.RECOVERED:
            self.recovered += 1
            if currency:
                self.revenue[currency] = self.revenue.get(currency, 0) + amount
        elif state == EpisodeState.LOST:
            self.lost += 1
        else:
            self.open += 1

    def revenue_text(self) -> str:
        return ", ".join(money(amount, code) for code, amount in sorted(self.revenue.items()))


def recovery_figures() -> tuple[list[RecoveryFigures], RecoveryFigures]:
    """One row per month and provider, newest month first, and the totals."""
    rows: dict[tuple[str, str], RecoveryFigures] = {}
    total = RecoveryFigures("", "")
    episodes = PaymentRecovery.objects.values_list(
        "failed_at", "provider", "state", "recovered_amount", "currency"
    )
    for failed_at, provider, state, amount, currency in episodes.iterator():
        month = f"{timezone.localtime(failed_at):%Y-%m}"
        rows.setdefault((month, provider), RecoveryFigures(month, provider)).add(
            state, amount, currency
        )
        total.add(state, amount, currency)
    ordered = sorted(rows.values(), key=lambda r: r.provider)
    ordered.sort(key=lambda r: r.month, reverse=True)
    return ordered, total


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.1%}"


class RecoveryReportView(PaywallScreen):
    """The report, or its CSV with ``?format=csv``."""

    permission = PERMISSION
    template_name = "wagtail_paywall/admin/recovery_report.html"
    page_title = gettext_lazy("Payment recovery")
    header_icon = "warning"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.GET.get("format") == "csv":
            return self.csv()
        return super().get(request, *args, **kwargs)

    def csv(self) -> HttpResponse:
        rows, _total = recovery_figures()
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="payment-recovery.csv"'
        writer = csv.writer(response)
        # One line per month and provider, so counts add up; revenue in minor units, a
        # column per currency recovered in any month.
        currencies = sorted({currency for row in rows for currency in row.revenue})
        writer.writerow(
            ["month", "provider", "failed", "recovered", "lost", "open"]
            + [f"revenue_recovered_{currency}" for currency in currencies]
            + ["recovery_rate"]
        )
        for row in rows:
            writer.writerow(
                [row.month, row.provider, row.failed, row.recovered, row.lost, row.open]
                + [row.revenue.get(currency, 0) for currency in currencies]
                + ["" if row.rate is None else f"{row.rate:.4f}"]
            )
        return response

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        rows, total = recovery_figures()
        context.update(
            rows=[
                {"figures": r, "revenue": r.revenue_text(), "rate": _percent(r.rate)} for r in rows
            ],
            total={"figures": total, "revenue": total.revenue_text(), "rate": _percent(total.rate)},
        )
        return context


class RecoveryMenuItem(MenuItem):
    """Shown to those who may view the payment recoveries."""

    def is_shown(self, request: Any) -> bool:
        return bool(request.user.has_perm(PERMISSION))
