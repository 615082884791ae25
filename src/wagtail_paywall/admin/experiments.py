"""The A/B tests of the paywall and content attribution in the Wagtail admin.

- :class:`PaywallTestViewSet`: the tests and their variants, a snippet (Paywall A/B tests);
- :class:`ABTestReportView` ("Paywall A/B tests" report): each variant's exposures,
  conversions, rate with its 95 % Wilson interval, and the z-test against the control;
  the editor ends a running test there and keeps its winner. CSV with ``?format=csv``;
- :class:`PageConversionsView` ("Pages by conversions"): per page, checkouts started,
  conversions, first payments and MRR. CSV with ``?format=csv``.

See ``docs/experiments.md``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.db.models import Count, Q, Sum
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from wagtail.admin.menu import MenuItem
from wagtail.snippets.views.snippets import SnippetViewSet

from membership_sdk.experiments import VariantResult, compare

from ..exports import safe_cell
from ..formats import money
from ..models import Attribution, PaywallExposure, PaywallTest, PaywallVariant
from ..models.experiments import setup_changed
from .views import PaywallScreen, require

TEST_PERMISSION = "wagtail_paywall.view_paywalltest"
END_PERMISSION = "wagtail_paywall.change_paywalltest"
ATTRIBUTION_PERMISSION = "wagtail_paywall.view_attribution"


class PaywallTestViewSet(SnippetViewSet):  # type: ignore[misc]
    """Paywall A/B tests and their variants, edited as a snippet."""

    model = PaywallTest
    icon = "resubmit"
    menu_label = gettext_lazy("Paywall A/B tests")
    list_display = ["name", "status", "started_at", "ended_at"]
    list_filter = ["status"]
    add_to_admin_menu = False


# -- the A/B test report --------------------------------------------------------------------
@dataclass
class VariantRow:
    variant: PaywallVariant
    result: VariantResult

    @property
    def rate(self) -> str:
        return _percent(self.result.rate)

    @property
    def interval(self) -> str:
        if not self.result.exposures:
            return "—"
        return f"{self.result.low:.1%} to {self.result.high:.1%}"

    @property
    def p_value(self) -> str:
        test = self.result.versus_control
        return "—" if test is None else f"{test.p_value:.4f}"

    @property
    def z(self) -> str:
        test = self.result.versus_control
        return "—" if test is None else f"{test.z:+.2f}"

    @property
    def significant(self) -> bool:
        test = self.result.versus_control
        return test is not None and test.significant()


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.2%}"


def variant_rows(test: PaywallTest) -> list[VariantRow]:
    """Each variant of ``test`` (the control first) with its figures: two aggregate
    queries, whatever the number of visitors."""
    variants = list(test.variants.all())
    exposures = dict(
        PaywallExposure.objects.filter(test=test)
        .values("variant_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("variant_id", "n")
    )
    conversions = dict(
        Attribution.objects.filter(variant__test=test, converted_at__isnull=False)
        .values("variant_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("variant_id", "n")
    )
    results = compare([(exposures.get(v.pk, 0), conversions.get(v.pk, 0)) for v in variants])
    return [VariantRow(v, r) for v, r in zip(variants, results, strict=True)]


class ABTestReportView(PaywallScreen):
    """Every test with its variants' figures; POST ``end`` (with a ``winner``) ends one."""

    permission = TEST_PERMISSION
    template_name = "wagtail_paywall/admin/ab_test_report.html"
    page_title = gettext_lazy("Paywall A/B tests")
    header_icon = "resubmit"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.GET.get("format") == "csv":
            return self.csv()
        return super().get(request, *args, **kwargs)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """End a running test, keeping the chosen winner's settings for everyone."""
        require(request, END_PERMISSION)
        test = get_object_or_404(PaywallTest, pk=request.POST.get("test") or 0)
        back = HttpResponseRedirect(reverse("paywall_ab_tests"))
        if test.status != PaywallTest.Status.RUNNING:
            messages.error(request, _("“%(name)s” is not running.") % {"name": test.name})
            return back
        raw = request.POST.get("winner", "")
        winner = None
        if raw:
            winner = test.variants.filter(pk=raw if raw.isdigit() else 0).first()
            if winner is None:
                messages.error(
                    request,
                    _("Variant %(id)r is not one of “%(name)s”'s: nothing was changed.")
                    % {"id": raw, "name": test.name},
                )
                return back
        test.status = PaywallTest.Status.ENDED
        test.ended_at = timezone.now()
        test.winner = winner
        test.save(update_fields=["status", "ended_at", "winner"])
        setup_changed()
        if winner is not None:
            messages.success(
                request,
                _("“%(name)s” ended; every visitor now sees “%(winner)s”.")
                % {"name": test.name, "winner": winner.name},
            )
        else:
            messages.success(
                request,
                _("“%(name)s” ended; visitors see the default paywall.") % {"name": test.name},
            )
        return back

    def csv(self) -> HttpResponse:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="paywall-ab-tests.csv"'
        writer = csv.writer(response)
        writer.writerow(
            [
                "test",
                "status",
                "variant",
                "exposures",
                "conversions",
                "rate",
                "ci95_low",
                "ci95_high",
                "z_vs_control",
                "p_value",
            ]
        )
        for test in PaywallTest.objects.prefetch_related("variants"):
            for row in variant_rows(test):
                r = row.result
                vs = r.versus_control
                writer.writerow(
                    [
                        safe_cell(test.name),
                        safe_cell(test.status),
                        safe_cell(row.variant.name),
                        r.exposures,
                        r.conversions,
                        "" if r.rate is None else f"{r.rate:.4f}",
                        f"{r.low:.4f}",
                        f"{r.high:.4f}",
                        "" if vs is None else f"{vs.z:.4f}",
                        "" if vs is None else f"{vs.p_value:.4f}",
                    ]
                )
        return response

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(
            tests=[
                {"test": t, "rows": variant_rows(t)}
                for t in PaywallTest.objects.prefetch_related("variants")
            ],
            can_end=self.request.user.has_perm(END_PERMISSION),
            add_url=reverse("wagtailsnippets_wagtail_paywall_paywalltest:add"),
        )
        return context


# -- pages by conversions -------------------------------------------------------------------
@dataclass
class PageRow:
    page_id: int | None
    title: str
    url: str
    currency: str
    started: int
    conversions: int
    revenue: int
    mrr: int

    @property
    def revenue_display(self) -> str:
        return money(self.revenue, self.currency) if self.currency else "—"

    @property
    def mrr_display(self) -> str:
        return money(self.mrr, self.currency) if self.currency else "—"


def page_rows() -> list[PageRow]:
    """Per page and currency: checkouts started, conversions, first payments and MRR, by
    conversions (then revenue) descending. One aggregate query and one for the titles."""
    converted = Q(converted_at__isnull=False)
    figures = list(
        Attribution.objects.values("page_id", "currency")
        .annotate(
            started=Count("id"),
            conversions=Count("id", filter=converted),
            revenue=Sum("amount", filter=converted),
            mrr_sum=Sum("mrr", filter=converted),
        )
        .order_by()
    )
    from wagtail.models import Page

    pages = {
        p.pk: p for p in Page.objects.filter(pk__in={f["page_id"] for f in figures if f["page_id"]})
    }
    rows = []
    for f in figures:
        page = pages.get(f["page_id"])
        rows.append(
            PageRow(
                page_id=f["page_id"],
                title=page.title if page is not None else _("(page deleted)"),
                url=reverse("wagtailadmin_pages:edit", args=[page.pk]) if page is not None else "",
                currency=f["currency"],
                started=f["started"],
                conversions=f["conversions"],
                revenue=f["revenue"] or 0,
                mrr=f["mrr_sum"] or 0,
            )
        )
    rows.sort(key=lambda r: (-r.conversions, -r.revenue, r.title))
    return rows


class PageConversionsView(PaywallScreen):
    """The "Pages by conversions" report, or its CSV with ``?format=csv``."""

    permission = ATTRIBUTION_PERMISSION
    template_name = "wagtail_paywall/admin/page_conversions.html"
    page_title = gettext_lazy("Pages by conversions")
    header_icon = "doc-full"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.GET.get("format") == "csv":
            return self.csv()
        return super().get(request, *args, **kwargs)

    def csv(self) -> HttpResponse:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="pages-by-conversions.csv"'
        writer = csv.writer(response)
        writer.writerow(
            [
                "page_id",
                "page",
                "currency",
                "checkouts_started",
                "conversions",
                "first_payments_minor",
                "mrr_minor",
            ]
        )
        for r in page_rows():
            writer.writerow(
                [
                    r.page_id or "",
                    safe_cell(r.title),
                    safe_cell(r.currency),
                    r.started,
                    r.conversions,
                    r.revenue,
                    r.mrr,
                ]
            )
        return response

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["rows"] = page_rows()
        return context


class PermissionMenuItem(MenuItem):
    """A report's menu entry, shown to those holding its ``permission``."""

    def __init__(self, *args: Any, permission: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.permission = permission

    def is_shown(self, request: Any) -> bool:
        return bool(request.user.has_perm(self.permission))
