"""Segments of the Members screen: memberships filtered by tier, status, currency, billing
country, join cohort (month), source page, paywall variant and at-risk reason, counted,
paged and exported as CSV.

Every filter is a ``WHERE`` (or ``EXISTS``) in the database, so the list stays one indexed
query and a ``COUNT`` at a million memberships; the CSV is streamed, never built in memory.
See ``docs/publisher-guide.md`` (Segments).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Page, Paginator
from django.db import models
from django.db.models import Exists, OuterRef, QuerySet
from django.http import (
    HttpRequest,
    HttpResponseBase,
    HttpResponseForbidden,
    HttpResponseRedirect,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST
from wagtail.admin.widgets import AdminPageChooser
from wagtail.models import Page as WagtailPage

from ..models import MemberCountry, Membership, SavedSegment
from ..models.at_risk import AtRisk
from ..models.attribution import Attribution
from ..models.experiments import PaywallVariant
from ..models.segments import country_code
from ..program import get_program

VIEW_PERMISSION = "wagtail_paywall.view_grant"
#: Saving and deleting named segments, shared by all staff, needs more than seeing them.
SAVE_PERMISSION = "wagtail_paywall.change_grant"
PER_PAGE = 50
#: The query-string keys of a segment; any of them set turns the Members screen into it.
FIELDS = ("tier", "status", "currency", "country", "cohort", "page", "variant", "at_risk")
_MONTH = re.compile(r"(\d{4})-(\d{2})")


class PageChooser(AdminPageChooser):
    """Wagtail's page chooser, which shows no page (rather than failing) when given a
    page id that is not a number: the form then says the choice is not valid."""

    def get_instance(self, value: Any) -> Any:
        try:
            return super().get_instance(value)
        except (ValueError, TypeError, ValidationError):
            return None


class SegmentForm(forms.Form):
    """The filters of a segment; each blank one matches everything."""

    tier = forms.ChoiceField(label=_("Tier"), required=False)
    status = forms.ChoiceField(label=_("Status"), required=False)
    currency = forms.ChoiceField(label=_("Currency"), required=False)
    country = forms.CharField(
        label=_("Billing country"),
        required=False,
        max_length=64,  # a longer value is refused by name, not by its length
        help_text=_("Two letters, such as DE."),
    )
    cohort = forms.CharField(
        label=_("Joined in"),
        required=False,
        max_length=64,  # a longer value is refused by name, not by its length
        help_text=_("A month, as 2026-01."),
        widget=forms.TextInput(attrs={"placeholder": "2026-01"}),
    )
    page = forms.ModelChoiceField(
        label=_("Source page"),
        required=False,
        queryset=WagtailPage.objects.all(),
        widget=PageChooser(),
        help_text=_("The page the member's checkout started from."),
    )
    variant = forms.ModelChoiceField(
        label=_("Paywall variant"),
        required=False,
        queryset=PaywallVariant.objects.select_related("test").order_by("test__name", "sort_order"),
    )
    at_risk = forms.ChoiceField(label=_("At risk because"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        catalog = get_program().catalog
        blank = [("", _("Any"))]
        self.fields["tier"].choices = blank + [(t.slug, t.name) for t in catalog.tiers]  # type: ignore[attr-defined]
        self.fields["status"].choices = blank + list(Membership.Status.choices)  # type: ignore[attr-defined]
        currencies = sorted({p.currency for p in _prices()})
        self.fields["currency"].choices = blank + [(c, c) for c in currencies]  # type: ignore[attr-defined]
        self.fields["at_risk"].choices = blank + list(AtRisk.Reason.choices)  # type: ignore[attr-defined]
        variant: Any = self.fields["variant"]
        variant.empty_label = _("Any")
        variant.label_from_instance = lambda v: f"{v.test.name}: {v.name}"

    def clean_country(self) -> str:
        value: str = self.cleaned_data.get("country", "")
        if not value:
            return ""
        code = country_code(value)
        if code is None:
            raise forms.ValidationError(
                _("“%(value)s” is not a two-letter country code such as DE or US."),
                params={"value": value},
                code="country",
            )
        return code

    def clean_cohort(self) -> tuple[datetime, datetime] | None:
        value: str = self.cleaned_data.get("cohort", "").strip()
        if not value:
            return None
        match = _MONTH.fullmatch(value)
        if match is None or not 1 <= int(match[2]) <= 12 or not 1900 <= int(match[1]) <= 2999:
            raise forms.ValidationError(
                _("“%(value)s” is not a month such as 2026-01."),
                params={"value": value},
                code="cohort",
            )
        year, month = int(match[1]), int(match[2])
        start = timezone.make_aware(datetime(year, month, 1))
        end = datetime(year + 1, 1, 1) if month == 12 else datetime(year, month + 1, 1)
        return start, timezone.make_aware(end)

    def segment(self) -> QuerySet[Membership]:
        """The memberships matching every filter given, newest first (call after
        :meth:`is_valid`)."""
        return memberships(self.cleaned_data)


def _prices() -> Iterable[Any]:
    """Every price of the catalog, archived ones too (members may still hold them)."""
    return get_program().catalog.prices


def memberships(filters: dict[str, Any]) -> QuerySet[Membership]:
    """The memberships matching ``filters`` (a :class:`SegmentForm`'s cleaned data; blank
    ones match everything), newest first. One query: each filter is a ``WHERE`` on an
    indexed column or an ``EXISTS``."""
    rows = Membership.objects.all()
    if filters.get("tier"):
        rows = rows.filter(tier=filters["tier"])
    if filters.get("status"):
        rows = rows.filter(status=filters["status"])
    if filters.get("currency"):
        # Memberships record the catalog price; its currency is the catalog's.
        prices = [p.id for p in _prices() if p.currency == filters["currency"]]
        rows = rows.filter(price_id__in=prices)
    if filters.get("country"):
        rows = rows.filter(
            member_id__in=MemberCountry.objects.filter(country=filters["country"]).values(
                "member_id"
            )
        )
    if filters.get("cohort"):
        start, end = filters["cohort"]
        rows = rows.filter(started_at__gte=start, started_at__lt=end)
    if filters.get("page") is not None:
        rows = rows.filter(
            Exists(Attribution.objects.filter(membership_id=OuterRef("pk"), page=filters["page"]))
        )
    if filters.get("variant") is not None:
        rows = rows.filter(
            Exists(
                Attribution.objects.filter(membership_id=OuterRef("pk"), variant=filters["variant"])
            )
        )
    if filters.get("at_risk"):
        rows = rows.filter(
            Exists(
                AtRisk.objects.filter(
                    membership=OuterRef("pk"),
                    reason=filters["at_risk"],
                    outcome=AtRisk.Outcome.OPEN,
                )
            )
        )
    return rows.order_by("-started_at", "-pk")


def billing_country(member_id: str) -> MemberCountry | None:
    """The billing country kept for ``member_id`` (shown on the member's page), if any."""
    return MemberCountry.objects.filter(member_id=member_id).first()


def requested(query: QueryDict) -> bool:
    """Whether the query string asks for a segment (any filter set, even a bad one)."""
    return any(query.get(name, "").strip() for name in FIELDS)


def _members(member_ids: Iterable[str]) -> dict[str, Any]:
    """The users behind ``member_ids``, by member id (one query)."""
    User = get_user_model()
    pks = []
    field = User._meta.pk
    for member_id in set(member_ids):
        try:
            pks.append(field.to_python(member_id))  # type: ignore[union-attr]
        except ValidationError:  # a member id that is no user's pk: shown bare
            continue
    return {str(u.pk): u for u in User.objects.filter(pk__in=pks)}


def _countries(member_ids: Iterable[str]) -> dict[str, str]:
    return dict(
        MemberCountry.objects.filter(member_id__in=set(member_ids)).values_list(
            "member_id", "country"
        )
    )


def rows_of(memberships: Iterable[Membership]) -> list[dict[str, Any]]:
    """What the list and the CSV show of each membership (two queries per batch)."""
    batch = list(memberships)
    ids = [m.member_id for m in batch]
    users, countries = _members(ids), _countries(ids)
    currency = {p.id: p.currency for p in _prices()}
    out = []
    for m in batch:
        user = users.get(m.member_id)
        out.append(
            {
                "membership": m,
                "member_id": m.member_id,
                "user": user,
                "username": user.get_username() if user is not None else "",
                "email": getattr(user, "email", "") if user is not None else "",
                "tier": m.tier,
                "status": m.status,
                "status_label": m.get_status_display(),
                "currency": currency.get(m.price_id, ""),
                "country": countries.get(m.member_id, ""),
                "started_at": m.started_at,
                "provider": m.provider,
            }
        )
    return out


def context(request: HttpRequest) -> dict[str, Any]:
    """The Members screen's segment: its form, and when a filter is set, the page of
    matching memberships, their count and the CSV export's URL. A form error shows next
    to its field and the list stays empty."""
    asked = requested(request.GET)
    form = SegmentForm(request.GET if asked else None)
    out: dict[str, Any] = {
        "segment_form": form,
        "segment_asked": asked,
        "saved_segments": SavedSegment.objects.all(),
        "can_save_segments": request.user.has_perm(SAVE_PERMISSION),  # type: ignore[union-attr]
    }
    if not asked:
        return out
    if not form.is_valid():
        out.update(segment_invalid=True, segment_count=0)
        return out
    page: Page[Membership] = Paginator(form.segment(), PER_PAGE).get_page(request.GET.get("p"))
    query = request.GET.copy()
    query.pop("p", None)
    out.update(
        segment_page=page,
        segment_rows=rows_of(page.object_list),
        segment_count=page.paginator.count,
        segment_query=query.urlencode(),
        segment_export_url=f"{reverse('paywall_members:export')}?{query.urlencode()}",
        segment_filters=canonical(form),
    )
    return out


def canonical(form: SegmentForm) -> str:
    """A valid form's filters as a query string: only the filters set, in a fixed order,
    as cleaned (``country=de`` → ``country=DE``)."""
    query = QueryDict(mutable=True)
    for name in FIELDS:
        value = form.cleaned_data.get(name)
        if name == "cohort" and value:
            query[name] = form.data[name].strip()
        elif isinstance(value, models.Model):
            query[name] = str(value.pk)
        elif value:
            query[name] = str(value)
    return query.urlencode()


# -- saved segments ---------------------------------------------------------------------------
class SaveSegmentForm(forms.Form):
    name = forms.CharField(label=_("Save this segment as"), max_length=120)
    filters = forms.CharField(max_length=2000, required=False, widget=forms.HiddenInput)

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"].strip()
        if SavedSegment.objects.filter(name=name).exists():
            raise forms.ValidationError(
                _("A segment named “%(name)s” exists already: choose another name."),
                params={"name": name},
                code="duplicate",
            )
        return name

    def clean_filters(self) -> str:
        segment = SegmentForm(QueryDict(self.cleaned_data["filters"]))
        if not requested(segment.data) or not segment.is_valid():
            raise forms.ValidationError(
                _("Only a segment with valid filters can be saved."), code="filters"
            )
        return canonical(segment)


def _members_url(query: str = "") -> str:
    url = reverse("paywall_members:index")
    return f"{url}?{query}" if query else url


@require_POST
def save_segment(request: HttpRequest) -> HttpResponseBase:
    """POST ``name`` and ``filters``: keep the segment under that name, then show it. A
    taken name or bad filters are refused with a message, and nothing is saved."""
    if not request.user.has_perm(SAVE_PERMISSION):  # type: ignore[union-attr]
        raise PermissionDenied
    form = SaveSegmentForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
        return HttpResponseRedirect(_members_url(request.POST.get("filters", "")[:2000]))
    saved = SavedSegment.objects.create(
        name=form.cleaned_data["name"],
        query=form.cleaned_data["filters"],
        created_by=request.user.get_username(),  # type: ignore[union-attr]
    )
    messages.success(request, _("Segment “%(name)s” saved.") % {"name": saved.name})
    return HttpResponseRedirect(_members_url(saved.query))


@require_POST
def delete_segment(request: HttpRequest, segment_id: int) -> HttpResponseBase:
    """POST: forget a saved segment (its members are not touched)."""
    if not request.user.has_perm(SAVE_PERMISSION):  # type: ignore[union-attr]
        raise PermissionDenied
    segment = get_object_or_404(SavedSegment, pk=segment_id)
    segment.delete()
    messages.success(request, _("Segment “%(name)s” deleted.") % {"name": segment.name})
    return HttpResponseRedirect(_members_url())


# -- CSV --------------------------------------------------------------------------------------
#: A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = (
    ("member_id", _("Member id")),
    ("username", _("User")),
    ("email", _("Email")),
    ("tier", _("Tier")),
    ("status", _("Status")),
    ("currency", _("Currency")),
    ("country", _("Billing country")),
    ("started_at", _("Joined")),
    ("provider", _("Provider")),
)


def cell(value: object) -> str:
    """``value`` as a CSV cell a spreadsheet shows as text: one starting with ``=``, ``+``,
    ``-``, ``@``, a tab or a carriage return gets a leading ``'`` (OWASP's advice)."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return f"'{text}" if text.startswith(_FORMULA) else text


class _Echo:
    """A file whose ``write`` returns what it was given, for :func:`csv.writer`."""

    def write(self, value: str) -> str:
        return value


def csv_lines(rows: QuerySet[Membership], chunk: int = 2000) -> Iterator[str]:
    """The segment as CSV lines, header first, reading ``chunk`` memberships at a time."""
    writer = csv.writer(_Echo())
    yield writer.writerow([str(label) for _key, label in CSV_COLUMNS])
    batch: list[Membership] = []
    for membership in rows.iterator(chunk_size=chunk):
        batch.append(membership)
        if len(batch) == chunk:
            yield from (_line(writer, row) for row in rows_of(batch))
            batch = []
    if batch:
        yield from (_line(writer, row) for row in rows_of(batch))


def _line(writer: Any, row: dict[str, Any]) -> str:
    line: str = writer.writerow([cell(row[key]) for key, _label in CSV_COLUMNS])
    return line


def export_csv(request: HttpRequest) -> HttpResponseBase:
    """GET: the segment the query string describes, as a streamed CSV (``members.csv``).
    403 without the Members screen's permission (a download, not a page: no redirect);
    400 for a bad filter, naming it."""
    if not request.user.has_perm(VIEW_PERMISSION):  # type: ignore[union-attr]
        return HttpResponseForbidden(
            _("You may not export members."), content_type="text/plain; charset=utf-8"
        )
    form = SegmentForm(request.GET)
    if not form.is_valid():
        errors = "; ".join(f"{name}: {' '.join(e)}" for name, e in form.errors.items())
        response = StreamingHttpResponse(
            [errors], status=400, content_type="text/plain; charset=utf-8"
        )
        return response
    response = StreamingHttpResponse(csv_lines(form.segment()), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="members.csv"'
    response["Cache-Control"] = "private, no-store"
    return response
