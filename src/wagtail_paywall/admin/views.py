"""Views of the paywall's Wagtail admin: members and their grants, inbox retries, and
the "Membership metrics" report.

They act through the site's :class:`~membership_sdk.MembershipProgram`, so every comp,
extension and revocation fires the same hooks (and drops the same cached access) as one
made in code. See ``docs/publisher-guide.md``.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Cast, Coalesce
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import TemplateView
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin

from membership_sdk import GrantKind, MembershipError
from membership_sdk.membership import GRANTING

from ..billing import inbox
from ..formats import money
from ..models import Grant, Membership, WebhookEvent
from ..program import get_program
from ..reports import cache as report_cache
from ..reports import charts
from ..reports import membership as membership_reports
from . import report_panel, segments, staff

VIEW_PERMISSION = "wagtail_paywall.view_grant"
CHANGE_PERMISSION = "wagtail_paywall.change_grant"


def require(request: HttpRequest, permission: str) -> None:
    """Refuse (403; Wagtail turns it into a redirect with a message) a user without
    ``permission``."""
    if not request.user.has_perm(permission):  # type: ignore[union-attr]
        raise PermissionDenied


class PaywallScreen(WagtailAdminTemplateMixin, TemplateView):
    """A Paywall admin screen: opened only with :attr:`permission`, titled in its header."""

    permission = VIEW_PERMISSION

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        require(request, self.permission)
        return super().dispatch(request, *args, **kwargs)

    def get_breadcrumbs_items(self) -> list[dict[str, Any]]:
        # The header shows the last breadcrumb: this screen's title, not "Home".
        return [*super().get_breadcrumbs_items(), {"url": "", "label": self.page_title}]


# -- forms ----------------------------------------------------------------------------------
class CompForm(forms.Form):
    """Give a member a tier for free, for a number of days."""

    tier = forms.ChoiceField(label=gettext_lazy("Tier"))
    days = forms.IntegerField(label=gettext_lazy("Days"), min_value=1, max_value=3660, initial=30)
    note = forms.CharField(
        label=gettext_lazy("Note"),
        required=False,
        max_length=500,
        help_text=gettext_lazy("Why this member gets access, for other editors."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tier"].choices = [  # type: ignore[attr-defined]
            (t.slug, t.name) for t in get_program().catalog.tiers
        ]


class ExtendForm(forms.Form):
    days = forms.IntegerField(label=gettext_lazy("Days"), min_value=1, max_value=3660, initial=30)


# -- members --------------------------------------------------------------------------------
def live_subscriptions() -> QuerySet[Membership]:
    """Memberships that will charge again: live (trialing, active, past due), with a
    provider subscription, not set to cancel. The core's rule for
    ``membership_duplicate_subscription``; a member with two of them paid twice."""
    return (
        Membership.objects.filter(status__in=[str(s) for s in GRANTING], cancel_at_period_end=False)
        .exclude(provider_subscription_id__isnull=True)
        .exclude(provider_subscription_id="")
    )


class MemberIndexView(PaywallScreen):
    """Users who hold (or held) a membership or grant; ``?q=`` searches all users, and
    ``?duplicates=1`` lists those paying for more than one live subscription."""

    template_name = "wagtail_paywall/admin/member_index.html"
    page_title = gettext_lazy("Members")
    header_icon = "group"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        User = get_user_model()
        query = self.request.GET.get("q", "").strip()
        member_key = Cast(OuterRef("pk"), output_field=Membership._meta.get_field("member_id"))
        live = (
            live_subscriptions()
            .filter(member_id=member_key)
            .order_by()
            .values("member_id")
            .annotate(n=Count("pk"))
            .values("n")
        )
        users = User.objects.annotate(
            has_membership=Exists(Membership.objects.filter(member_id=member_key)),
            has_grant=Exists(Grant.objects.filter(member_id=member_key)),
            live_subscriptions=Coalesce(Subquery(live), 0),
        ).order_by(User.USERNAME_FIELD)
        duplicates = self.request.GET.get("duplicates") == "1"
        if duplicates:
            users = users.filter(live_subscriptions__gt=1)
        if query:
            users = users.filter(
                Q(**{f"{User.USERNAME_FIELD}__icontains": query}) | Q(email__icontains=query)
            )
        elif not duplicates:
            users = users.filter(Q(has_membership=True) | Q(has_grant=True))
        # A segment (filters, count, CSV export) lists memberships instead of users.
        context.update(segments.context(self.request))
        if context["segment_asked"]:
            return context
        page = Paginator(users, 50).get_page(self.request.GET.get("p"))
        context.update(page=page, query=query, duplicates=duplicates)
        return context


class MemberDetailView(WagtailAdminTemplateMixin, TemplateView):
    """One member: memberships, grants (extend, revoke) and a form to comp a tier."""

    template_name = "wagtail_paywall/admin/member_detail.html"
    header_icon = "user"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        require(request, VIEW_PERMISSION)
        User = get_user_model()
        try:
            self.member = get_object_or_404(User, pk=kwargs["member_id"])
        except (ValueError, ValidationError):  # /abc/ for an integer primary key
            raise Http404(f"no member {kwargs['member_id']!r}") from None
        self.member_id = str(self.member.pk)
        return super().dispatch(request, *args, **kwargs)

    def get_page_title(self) -> str:
        return _("Member %(name)s") % {"name": self.member.get_username()}

    def get_breadcrumbs_items(self) -> list[dict[str, Any]]:
        return [
            *super().get_breadcrumbs_items(),
            {"url": reverse("paywall_members:index"), "label": _("Members")},
            {"url": "", "label": self.member.get_username()},
        ]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        require(request, CHANGE_PERMISSION)
        form = CompForm(request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(comp_form=form))
        data = form.cleaned_data
        grant = get_program().grant(
            self.member_id, GrantKind.COMP, tier=data["tier"], days=data["days"], note=data["note"]
        )
        staff.record(
            request,
            self.member,
            "comp",
            f"{data['tier']} for {data['days']} days",
            reason=data["note"],
            grant=grant.id,
        )
        messages.success(
            request,
            _("%(member)s now holds %(tier)s for %(days)d days.")
            % {"member": self.member.get_username(), "tier": data["tier"], "days": data["days"]},
        )
        return HttpResponseRedirect(request.path)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        now = timezone.now()
        grants = list(Grant.objects.filter(member_id=self.member_id).order_by("-starts_at"))
        for grant in grants:
            grant.is_active = grant.to_core().active(now)  # type: ignore[attr-defined]
        context.update(
            member=self.member,
            memberships=Membership.objects.filter(member_id=self.member_id).order_by("-started_at"),
            live_subscriptions=live_subscriptions().filter(member_id=self.member_id).count(),
            grants=grants,
            comp_form=kwargs.get("comp_form") or CompForm(),
            extend_form=ExtendForm(),
            can_change=self.request.user.has_perm(CHANGE_PERMISSION),
            access=get_program().context(self.member_id),
        )
        context.update(staff.context(self.request, self.member, grants))
        context.update(billing_country=segments.billing_country(self.member_id))
        return context


def _grant_or_404(grant_id: str) -> Grant:
    return get_object_or_404(Grant, pk=grant_id)


def extend_grant(request: HttpRequest, grant_id: str) -> HttpResponse:
    """POST: push a grant's end ``days`` further."""
    require(request, CHANGE_PERMISSION)
    if request.method != "POST":
        raise Http404
    grant = _grant_or_404(grant_id)
    form = ExtendForm(request.POST)
    detail = reverse("paywall_members:detail", args=[grant.member_id])
    if not form.is_valid():
        messages.error(request, _("Extend by a number of days from 1 to 3660."))
        return HttpResponseRedirect(detail)
    try:
        extended = get_program().extend_grant(grant.pk, form.cleaned_data["days"])
    except MembershipError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("Grant extended until %(date)s.")
            % {"date": timezone.localtime(extended.ends_at).strftime("%Y-%m-%d %H:%M")},
        )
    return HttpResponseRedirect(detail)


def revoke_grant(request: HttpRequest, grant_id: str) -> HttpResponse:
    """POST: end a grant now."""
    require(request, CHANGE_PERMISSION)
    if request.method != "POST":
        raise Http404
    grant = _grant_or_404(grant_id)
    get_program().revoke_grant(grant.pk)
    messages.success(request, _("Grant revoked."))
    return HttpResponseRedirect(reverse("paywall_members:detail", args=[grant.member_id]))


# -- metrics -------------------------------------------------------------------------------
class MetricsPeriodForm(forms.Form):
    """The report's period: one of :data:`.reports.membership.PERIODS` months."""

    months = forms.TypedChoiceField(
        label=gettext_lazy("Over the last"), coerce=int, initial=membership_reports.PERIODS[0]
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["months"].choices = [  # type: ignore[attr-defined]
            (n, _("%(months)d months") % {"months": n}) for n in membership_reports.PERIODS
        ]


def metrics_period(request: HttpRequest) -> tuple[MetricsPeriodForm, int]:
    """The period the request asks for; an invalid one is the default (the form says so)."""
    form = MetricsPeriodForm(request.GET or None)
    months = form.cleaned_data["months"] if form.is_valid() else membership_reports.PERIODS[0]
    return form, months


class MetricsReportView(WagtailAdminTemplateMixin, TemplateView):
    """The membership report: headline figures and every chart, each with its data
    table and CSV export (see :mod:`wagtail_paywall.reports` and ``docs/metrics.md``).
    The figures are cached until the ledger changes, for a few minutes at most."""

    template_name = "wagtail_paywall/admin/metrics_report.html"
    page_title = gettext_lazy("Membership metrics")
    header_icon = "table"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        require(request, VIEW_PERMISSION)
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        form, months = metrics_period(self.request)
        moves = membership_reports.movements(months)
        context.update(
            form=form,
            months=months,
            as_of=moves.as_of,
            cache_minutes=report_cache.TTL // 60,
            headline=report_panel.headline(moves, membership_reports.members_now()),
            trial_rate=_percent(moves.trial_conversion),
            trials_ended=sum(t for t, _c in moves.trials.values()),
            trials_converted=sum(c for _t, c in moves.trials.values()),
            ltv=[
                {
                    "currency": v.currency,
                    "arpu": money(v.arpu, v.currency),
                    "churn": _percent(v.revenue_churn),
                    "ltv": money(v.ltv, v.currency) if v.ltv is not None else "—",
                }
                for v in membership_reports.lifetime_value(moves)
            ],
            realised=[
                {
                    "month": c.month,
                    "size": c.size,
                    "realised": ", ".join(money(a, code) for code, a in c.realised.items()),
                }
                for c in membership_reports.cohorts(months).cohorts
            ],
            charts=charts.all_charts(months),
        )
        return context


def metrics_csv(request: HttpRequest, chart: str) -> HttpResponse:
    """GET: one chart's data table of the membership report as ``text/csv``."""
    require(request, VIEW_PERMISSION)
    _form, months = metrics_period(request)
    for found in charts.all_charts(months):
        if found.slug == chart:
            response = HttpResponse(found.csv(), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = (
                f'attachment; filename="membership-{found.slug}-{months}m.csv"'
            )
            return response
    raise Http404(f"no chart {chart!r} in the membership report")


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.1%}"


# -- webhook inbox --------------------------------------------------------------------------
def retry_webhook(request: HttpRequest, pk: int) -> HttpResponse:
    """POST: process a failed, dead (or still received) webhook event again."""
    if not request.user.has_perm("wagtail_paywall.change_webhookevent"):  # type: ignore[union-attr]
        raise PermissionDenied
    if request.method != "POST":
        raise Http404
    row = get_object_or_404(WebhookEvent, pk=pk)
    back = reverse("paywall_webhooks:inspect", args=[row.pk])
    if row.status == WebhookEvent.Status.CONFLICT:
        messages.warning(
            request,
            _("Event %(event)s is a conflicting body, kept for inspection: it is never applied.")
            % {"event": row.event_id},
        )
        return HttpResponseRedirect(back)
    if row.status not in inbox.RETRYABLE:
        messages.warning(
            request, _("Event %(event)s was already processed.") % {"event": row.event_id}
        )
        return HttpResponseRedirect(back)
    row = inbox.process(row)
    if row.status in (WebhookEvent.Status.FAILED, WebhookEvent.Status.DEAD):
        messages.error(
            request,
            _("Event %(event)s failed again: %(error)s")
            % {"event": row.event_id, "error": row.last_error},
        )
    else:
        messages.success(
            request,
            _("Event %(event)s is now %(status)s.")
            % {"event": row.event_id, "status": row.get_status_display()},
        )
    return HttpResponseRedirect(back)
