"""The "Referrals" report: every referral with its referrer, friend, status, dates and the
revenue the friend brought, with totals; a CSV of the same with ``?format=csv``.

Open to those who may view referrals (``wagtail_paywall.view_referral``; superusers).
The revenue is read from the membership ledger (:class:`~wagtail_paywall.models.LedgerEntry`):
each stretch the friend's membership was paid, the periods of its price begun in it
(calendar months or years from the stretch's start: 1 Jan to 1 Feb is one monthly period,
a partial period begun counts once), each at the MRR the ledger records for it times the
months of a period; a referral rejected as refunded brought nothing. See ``docs/referrals.md``.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.translation import gettext_lazy
from wagtail.admin.menu import MenuItem

from membership_sdk import Interval
from membership_sdk.providers.simulated import add_interval

from ..formats import money
from ..models import LedgerEntry, Membership, Referral
from ..program import get_program
from .views import PaywallScreen

PERMISSION = "wagtail_paywall.view_referral"
PER_PAGE = 50


class ReferralFilter(forms.Form):
    """The report's filter; an invalid value is a form error, never a 500."""

    status = forms.ChoiceField(
        label=gettext_lazy("Status"),
        required=False,
        choices=[("", gettext_lazy("Any status")), *Referral.Status.choices],
    )

    def referrals(self) -> QuerySet[Referral]:
        rows = Referral.objects.all()
        data = self.cleaned_data if self.is_valid() else {}
        if data.get("status"):
            rows = rows.filter(status=data["status"])
        return rows.order_by("-created_at", "-id")


def revenue(referrals: Iterable[Referral], now: datetime) -> dict[str, tuple[str, int]]:
    """Referral id -> (currency, minor units) its friend's membership paid so far, from
    the ledger (two queries whatever the number of referrals)."""
    chosen = [r for r in referrals if r.reason != "refunded"]
    ids = {r.membership_id for r in chosen}
    if not ids:
        return {}
    catalog = get_program().catalog
    months: dict[str, int] = {}
    for mid, price_id in Membership.objects.filter(pk__in=ids).values_list("pk", "price_id"):
        price = next((p for p in catalog.prices if p.id == price_id), None)
        months[str(mid)] = 12 if price is not None and price.interval is Interval.YEAR else 1
    entries: dict[str, list[LedgerEntry]] = defaultdict(list)
    for entry in LedgerEntry.objects.filter(membership_id__in=ids).order_by("at", "seq"):
        entries[entry.membership_id].append(entry)
    paid: dict[str, tuple[str, int]] = {}
    for membership_id, rows in entries.items():
        period = months.get(membership_id, 1)
        total, currency = 0, ""
        for row, after in zip(rows, [*rows[1:], None], strict=True):
            if row.state_after != LedgerEntry.State.PAID or row.mrr_after <= 0:
                continue
            end = after.at if after is not None else now
            total += periods_begun(row.at, end, period) * row.mrr_after * period
            currency = row.currency or currency
        paid[membership_id] = (currency, total)
    return {r.id: paid[r.membership_id] for r in chosen if r.membership_id in paid}


def periods_begun(start: datetime, end: datetime, months: int) -> int:
    """The billing periods of ``months`` calendar months each (1 or 12) begun from
    ``start`` until ``end``: at least one, and one more for each period start (``start``
    plus whole periods, as the providers step them: 31 January + 1 month = 28/29
    February) before ``end``. So 1 January to 1 February is one monthly period, and a
    leap year one yearly period."""
    interval = Interval.YEAR if months == 12 else Interval.MONTH
    step = 12 if months == 12 else 1
    # Whole calendar steps as a first guess, then correct it by the real period starts.
    count = max(((end.year - start.year) * 12 + end.month - start.month) // step, 0)
    while count > 0 and add_interval(start, interval, count) >= end:
        count -= 1
    while add_interval(start, interval, count + 1) < end:
        count += 1
    return count + 1


def _users(member_ids: Iterable[str]) -> dict[str, Any]:
    model = get_user_model()
    keys = []
    for member_id in set(member_ids):
        try:
            keys.append(model._meta.pk.to_python(member_id))  # type: ignore[union-attr]
        except ValidationError:
            continue
    return {str(u.pk): u for u in model._default_manager.filter(pk__in=keys)}


def _totals(rows: QuerySet[Referral], now: datetime) -> dict[str, Any]:
    counts = dict.fromkeys(("pending", "qualified", "rewarded", "rejected"), 0)
    for status, n in rows.order_by().values_list("status").annotate(n=Count("id")):
        counts[status] = n
    by_currency: dict[str, int] = defaultdict(int)
    for currency, amount in revenue(rows, now).values():
        if currency:
            by_currency[currency] += amount
    return {
        "counts": counts,
        "all": sum(counts.values()),
        "revenue": ", ".join(money(a, c) for c, a in sorted(by_currency.items())),
        "revenue_minor": dict(by_currency),
    }


class ReferralReportView(PaywallScreen):
    """The report, or its CSV with ``?format=csv``."""

    permission = PERMISSION
    template_name = "wagtail_paywall/admin/referrals_report.html"
    page_title = gettext_lazy("Referrals")
    header_icon = "group"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.GET.get("format") == "csv":
            return self.csv(ReferralFilter(request.GET).referrals())
        return super().get(request, *args, **kwargs)

    def csv(self, rows: QuerySet[Referral]) -> HttpResponse:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="referrals.csv"'
        writer = csv.writer(response)
        writer.writerow(
            [
                "referrer_id",
                "friend_id",
                "status",
                "reason",
                "joined_at",
                "decided_at",
                "rewarded_at",
                "currency",
                "revenue",
            ]
        )
        listed = list(rows)
        paid = revenue(listed, get_program().clock())
        for r in listed:
            currency, amount = paid.get(r.id, ("", 0))
            writer.writerow(
                [
                    r.referrer_id,
                    r.friend_id,
                    r.status,
                    r.reason,
                    r.created_at.isoformat(),
                    r.decided_at.isoformat() if r.decided_at else "",
                    r.rewarded_at.isoformat() if r.rewarded_at else "",
                    currency,
                    amount,
                ]
            )
        return response

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        form = ReferralFilter(self.request.GET or None)
        rows = form.referrals()
        now = get_program().clock()
        page = Paginator(rows, PER_PAGE).get_page(self.request.GET.get("p"))
        paid = revenue(page, now)
        users = _users([r.referrer_id for r in page] + [r.friend_id for r in page])
        query = self.request.GET.copy()
        query.pop("p", None)
        context.update(
            form=form,
            page=page,
            rows=[
                {
                    "referral": r,
                    "referrer": users.get(r.referrer_id),
                    "friend": users.get(r.friend_id),
                    "revenue": money(paid[r.id][1], paid[r.id][0])
                    if r.id in paid and paid[r.id][0]
                    else "",
                }
                for r in page
            ],
            totals=_totals(rows, now),
            query=query.urlencode(),
        )
        return context


class ReferralMenuItem(MenuItem):
    """Shown to those who may view referrals."""

    def is_shown(self, request: Any) -> bool:
        return bool(request.user.has_perm(PERMISSION))
