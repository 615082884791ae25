"""Deliveries for members: the shipping-address page (``/paywall/account/address/``) and
what the account page shows of upcoming issues (:func:`account_deliveries`, read by the
``{% paywall_deliveries %}`` tag). Who receives an issue is the core's
(:func:`membership_sdk.deliveries.decide_delivery`); a frozen manifest is read as it
is, an issue before its cut-off is a forecast from the member's current state.
See ``docs/deliveries.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from membership_sdk import deliveries as core

from .. import conf
from ..models import DeliveryIssue, DeliveryRecipient
from ..models.deliveries import address_history, keep_address, tier_history
from ..program import get_program
from .base import member_required

#: Issues shown per product on the account page.
UPCOMING = 3

#: Names of the countries most often shipped to; others show their ISO code.
COUNTRY_NAMES: dict[str, Any] = {
    "AT": gettext_lazy("Austria"),
    "BE": gettext_lazy("Belgium"),
    "BG": gettext_lazy("Bulgaria"),
    "CH": gettext_lazy("Switzerland"),
    "CY": gettext_lazy("Cyprus"),
    "CZ": gettext_lazy("Czechia"),
    "DE": gettext_lazy("Germany"),
    "DK": gettext_lazy("Denmark"),
    "EE": gettext_lazy("Estonia"),
    "ES": gettext_lazy("Spain"),
    "FI": gettext_lazy("Finland"),
    "FR": gettext_lazy("France"),
    "GB": gettext_lazy("United Kingdom"),
    "GR": gettext_lazy("Greece"),
    "HR": gettext_lazy("Croatia"),
    "HU": gettext_lazy("Hungary"),
    "IE": gettext_lazy("Ireland"),
    "IS": gettext_lazy("Iceland"),
    "IT": gettext_lazy("Italy"),
    "LI": gettext_lazy("Liechtenstein"),
    "LT": gettext_lazy("Lithuania"),
    "LU": gettext_lazy("Luxembourg"),
    "LV": gettext_lazy("Latvia"),
    "MT": gettext_lazy("Malta"),
    "NL": gettext_lazy("Netherlands"),
    "NO": gettext_lazy("Norway"),
    "PL": gettext_lazy("Poland"),
    "PT": gettext_lazy("Portugal"),
    "RO": gettext_lazy("Romania"),
    "SE": gettext_lazy("Sweden"),
    "SI": gettext_lazy("Slovenia"),
    "SK": gettext_lazy("Slovakia"),
    "US": gettext_lazy("United States"),
}


def shipped_to() -> list[str]:
    """The countries the publisher ships to (``DELIVERY_COUNTRIES``; empty: the named
    ones), as ISO codes."""
    chosen = [str(c).upper() for c in conf.get("DELIVERY_COUNTRIES") or ()]
    return chosen or sorted(COUNTRY_NAMES)


def country_name(code: str) -> str:
    return str(COUNTRY_NAMES.get(code, code))


class AddressForm(forms.Form):
    """The member's shipping address; the core validates and normalises it."""

    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    line1 = forms.CharField(label=gettext_lazy("Street and number"), max_length=200)
    line2 = forms.CharField(
        label=gettext_lazy("Address line 2 (optional)"), max_length=200, required=False
    )
    postcode = forms.CharField(label=gettext_lazy("Postcode"), max_length=16, required=False)
    city = forms.CharField(label=gettext_lazy("City"), max_length=100)
    country = forms.ChoiceField(label=gettext_lazy("Country"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = sorted(((c, country_name(c)) for c in shipped_to()), key=lambda c: c[1])
        self.fields["country"].choices = choices  # type: ignore[attr-defined]
        self.address: core.ShippingAddress | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        try:
            self.address = core.ShippingAddress.create(
                name=data["name"],
                line1=data["line1"],
                line2=data.get("line2", ""),
                postcode=data.get("postcode", ""),
                city=data["city"],
                country=data["country"],
                countries=shipped_to(),
            )
        except core.AddressError as exc:
            for name in exc.errors:
                self.add_error(name if name in self.fields else None, _problem(name, data))
        return data


def _problem(name: str, data: dict[str, Any]) -> str:
    """What the form says of a field the core refused, in the reader's language."""
    if name == "postcode":
        country = str(data.get("country", ""))
        known = core.POSTCODE_FORMATS.get(country)
        if known is not None:
            return _("This is not a postcode of %(country)s; write it like %(example)s.") % {
                "country": country_name(country),
                "example": known[1],
            }
        return _("Enter a postcode of letters and digits, or leave it empty.")
    if name == "country":
        return _("Choose a country we ship to.")
    return _("Please check this field: no tabs or line breaks.")


# -- upcoming issues ----------------------------------------------------------------------------
@dataclass(frozen=True)
class IssueRow:
    """One upcoming issue as a member sees it."""

    issue: DeliveryIssue
    status: str
    frozen: bool
    #: When the pause ends (paused) or the membership ends (ended), if known.
    when: datetime | None = None

    @property
    def receives(self) -> bool:
        return self.status == core.DeliveryStatus.RECEIVES

    @property
    def locked(self) -> bool:
        """The cut-off passed: changes apply from the next issue."""
        return self.frozen or self.issue.cutoff <= timezone.now()


def upcoming(
    member_id: str,
    keys: set[str] | None = None,
    history: list[core.ShippingAddress] | None = None,
) -> list[IssueRow]:
    """The issues not shipped yet of the products ``keys`` (``None``: every product the
    member has a manifest line of), the next :data:`UPCOMING` of each, with whether the
    member gets each one: the frozen manifest's line, else a forecast. ``history``: the
    member's addresses, when the caller has read them."""
    program = get_program()
    today = timezone.localdate()
    line = DeliveryRecipient.objects.filter(issue=OuterRef("pk"), member_id=member_id)
    issues = (
        DeliveryIssue.objects.filter(ships_on__gte=today)
        .select_related("product")
        .annotate(line_status=Subquery(line.values("status")[:1]))
        .order_by("ships_on", "pk")
    )
    if keys is not None:
        issues = issues.filter(product__key__in=keys)
    else:
        issues = issues.filter(recipients__member_id=member_id)
    found = list(issues[: UPCOMING * 10])
    if not found:
        return []
    unfrozen = [i for i in found if i.frozen_at is None]
    memberships = grants = addresses = None
    if unfrozen:
        memberships = list(program.store.memberships.for_member(member_id))
        grants = list(program.store.grants.for_member(member_id))
        addresses = address_history(member_id) if history is None else history
    shown: dict[int, int] = {}
    rows = []
    for issue in found:
        if shown.get(issue.product_id, 0) >= UPCOMING:
            continue
        shown[issue.product_id] = shown.get(issue.product_id, 0) + 1
        if issue.frozen_at is not None:
            status = getattr(issue, "line_status", None) or core.DeliveryStatus.NOT_ENTITLED
            rows.append(IssueRow(issue, str(status), True))
            continue
        decision = core.decide_delivery(
            issue.to_core(),
            program.catalog,
            memberships=memberships or (),
            grants=grants or (),
            addresses=addresses or (),
            grace=program.grace,
            # A plan change after a passed cut-off (no query unless there is one).
            tier_history=tier_history(memberships or (), issue.cutoff),
            now=program.clock(),
        )
        rows.append(
            IssueRow(issue, decision.status.value, False, decision.resumes or decision.until)
        )
    return rows


def account_deliveries(member_id: str, held: frozenset[str]) -> dict[str, Any]:
    """The account page's deliveries: the upcoming issues of the products the member
    holds (``held``: their current entitlements) or has a manifest line of, and their
    address. Nothing (no query) on a site that ships nothing; one query for a member who
    holds no delivery product."""
    keys = core.delivery_keys(get_program().catalog)
    if not keys:
        return {}
    mine = {k for k in held if k in keys}
    if not mine:  # one query: lines of frozen issues (say, canceled after a cut-off)
        rows = upcoming(member_id, None)
        if not rows:
            return {}
    history = address_history(member_id)
    if mine:
        rows = upcoming(member_id, mine, history)
    return {
        "delivery_rows": rows,
        "delivery_address": history[0] if history else None,
        "delivery_country": country_name(history[0].country) if history else "",
    }


# -- the address page ---------------------------------------------------------------------------
@never_cache
@require_http_methods(["GET", "POST"])
@member_required()
def address(request: HttpRequest) -> HttpResponseBase:
    """Show and change the member's shipping address. A change counts from now: an
    issue whose cut-off has passed still goes to the address valid then, and the member
    is told so."""
    member_id = str(request.user.pk)
    history = address_history(member_id)
    current = history[0] if history else None
    if request.method != "POST":
        initial = {}
        if current is not None:
            initial = {f: getattr(current, f) for f in ("name", "line1", "line2", "postcode")}
            initial.update(city=current.city, country=current.country)
        form = AddressForm(initial=initial)
        return render(
            request, "wagtail_paywall/delivery_address.html", {"form": form, "current": current}
        )
    form = AddressForm(request.POST)
    if not form.is_valid() or form.address is None:
        return render(
            request,
            "wagtail_paywall/delivery_address.html",
            {"form": form, "current": current},
            status=400,
        )
    now = timezone.now()
    if not keep_address(member_id, form.address, now):
        messages.info(request, _("Your shipping address is unchanged."), fail_silently=True)
        return HttpResponseRedirect(reverse("paywall:account") + "#deliveries")
    messages.success(request, _("Your shipping address was saved."), fail_silently=True)
    for row in upcoming(member_id, core.delivery_keys(get_program().catalog) or None):
        if row.issue.cutoff > now:
            continue
        values = {
            "issue": f"{row.issue.product.name}, {row.issue.title}",
            "date": date_format(row.issue.ships_on, "DATE_FORMAT"),
        }
        if row.receives:
            text = _(
                "%(issue)s (shipping on %(date)s) still goes to your previous address: its "
                "cut-off has passed. Your new address applies from the next issue."
            )
        elif row.status == core.DeliveryStatus.MISSING_ADDRESS:
            text = _(
                "%(issue)s (shipping on %(date)s) cannot be sent: we had no address at its "
                "cut-off. Your address applies from the next issue."
            )
        else:
            continue
        messages.info(request, text % values, fail_silently=True)
    return HttpResponseRedirect(reverse("paywall:account") + "#deliveries")
