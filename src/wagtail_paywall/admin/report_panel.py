"""The membership panel on the Wagtail admin's home page: the headline figures of the
membership report and a small MRR chart, for users who may view members (registered in
:mod:`wagtail_paywall.wagtail_hooks`, ``construct_homepage_panels``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest
from wagtail.admin.ui.components import Component

from ..formats import money
from ..reports import charts
from ..reports import membership as reports


def headline(moves: reports.Movements, members: reports.MembersNow) -> dict[str, Any]:
    """MRR per currency and members now, formatted for the panel and the report."""
    return {
        "mrr": [
            {"currency": code, "amount": money(amount, code)} for code, amount in moves.mrr.items()
        ],
        "members": members,
    }


class MembershipPanel(Component):
    """Headline numbers and the MRR movements of the report's default period, linking to
    the report."""

    name = "paywall_membership"
    order = 150
    template_name = "wagtail_paywall/admin/home_panel.html"

    def get_context_data(self, parent_context: Mapping[str, Any] | None = None) -> dict[str, Any]:
        moves = reports.movements(reports.PERIODS[0])  # the report's: cached for both
        currency = next(iter(moves.mrr), None)
        return {
            "months": reports.PERIODS[0],
            "headline": headline(moves, reports.members_now()),
            "chart": charts.mrr_chart(moves, currency) if currency else None,
        }


def add_panel(request: HttpRequest, panels: list[Any], permission: str) -> None:
    """Add the panel for a user holding ``permission``; others see nothing of it."""
    if request.user.has_perm(permission):  # type: ignore[union-attr]
        panels.append(MembershipPanel())
