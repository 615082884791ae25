"""The "Bank transfers" screen of the paywall's admin: open invoices of the ``manual``
provider, and "Mark as received" when a reader's transfer shows up on the bank account.

Marking an invoice received confirms the payment at the provider, which reports it as
its signed webhook; the webhook is stored in the inbox in the same transaction and then
applied like any other (:mod:`wagtail_paywall.billing.manual`). Marking an invoice twice
produces one event: the second attempt is refused, naming the invoice. Viewing needs
``wagtail_paywall.view_manualinvoice``, marking ``wagtail_paywall.change_manualinvoice``.
See ``docs/publisher-guide.md`` (Bank transfers).
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from wagtail.admin.menu import MenuItem
from wagtail.admin.viewsets.base import ViewSet

from membership_sdk import Catalog, ProviderError
from membership_sdk.providers.manual import InvoiceError

from .. import conf
from ..billing import manual as billing
from ..formats import money
from ..models import ManualInvoice
from ..program import get_program
from ..tasks import deliver
from .views import PaywallScreen, require

VIEW_PERMISSION = "wagtail_paywall.view_manualinvoice"
CHANGE_PERMISSION = "wagtail_paywall.change_manualinvoice"


class ReceivedForm(forms.Form):
    """The day the transfer arrived (today when left empty): a period paid for starts then.

    It cannot be in the future, nor before ``invoice`` was issued (a transfer quoting its
    reference cannot have arrived before the reader was given it, and a date years back
    would start, and end, the period then)."""

    received_on = forms.DateField(
        label=gettext_lazy("Received on"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def __init__(self, *args: Any, invoice: ManualInvoice | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.invoice = invoice

    def clean_received_on(self) -> Any:
        day = self.cleaned_data["received_on"]
        if day is not None and day > timezone.localdate():
            raise forms.ValidationError(_("A transfer cannot arrive in the future."))
        if day is not None and self.invoice is not None:
            issued = timezone.localdate(self.invoice.issued_at)
            if day < issued:
                raise forms.ValidationError(
                    _(
                        "The invoice was issued on %(issued)s; a transfer quoting it cannot "
                        "have arrived on %(day)s."
                    )
                    % {"issued": issued.isoformat(), "day": day.isoformat()}
                )
        return day

    def paid_at(self) -> datetime | None:
        day = self.cleaned_data.get("received_on")
        if day is None or day == timezone.localdate():
            return None  # now
        paid = timezone.make_aware(datetime.combine(day, time(12, 0)))
        if self.invoice is not None:
            paid = max(paid, self.invoice.issued_at)  # on the day it was issued: not earlier
        return paid


class BankTransferIndexView(PaywallScreen):
    """Open invoices, the longest overdue first; ``?q=`` finds a reference or a member."""

    template_name = "wagtail_paywall/admin/bank_transfers.html"
    page_title = gettext_lazy("Bank transfers")
    header_icon = "doc-full"
    permission = VIEW_PERMISSION

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        query = self.request.GET.get("q", "").strip()
        invoices = ManualInvoice.objects.filter(state=ManualInvoice.State.OPEN).order_by(
            "due_at", "year", "number"
        )
        User = get_user_model()
        if query:
            members = User.objects.filter(
                Q(**{f"{User.USERNAME_FIELD}__icontains": query}) | Q(email__icontains=query)
            ).values_list("pk", flat=True)[:200]
            invoices = invoices.filter(
                Q(reference__icontains=query) | Q(member_id__in=[str(pk) for pk in members])
            )
        page = Paginator(invoices, 50).get_page(self.request.GET.get("p"))
        users = User.objects.in_bulk([i.member_id for i in page.object_list])
        now = timezone.now()
        catalog = get_program().catalog
        rows = [
            {
                "invoice": invoice,
                "price": _price_label(catalog, invoice.price),
                "member": users.get(_user_key(User, invoice.member_id)),
                "amount": money(invoice.amount, invoice.currency),
                "overdue": now >= invoice.due_at,
                "form": ReceivedForm(prefix=invoice.reference),
            }
            for invoice in page.object_list
        ]
        context.update(
            page=page,
            rows=rows,
            query=query,
            configured=billing.PROVIDER in conf.providers(),
            can_change=self.request.user.has_perm(CHANGE_PERMISSION),
            today=timezone.localdate(),
        )
        return context


def _price_label(catalog: Catalog, provider_price: str) -> str:
    """The catalog's name for the price an invoice is for (its provider id if none)."""
    price = catalog.price_for_provider(billing.PROVIDER, provider_price)
    if price is None:
        return provider_price
    return price.nickname or price.id


def _user_key(User: Any, member_id: str) -> Any:
    try:
        return User._meta.pk.to_python(member_id)
    except Exception:
        return member_id


@require_POST
def mark_received(request: HttpRequest, reference: str) -> HttpResponse:
    """POST: the transfer for ``reference`` arrived. Confirms it at the provider and has
    its event applied; an invoice paid or voided already is refused with a message."""
    require(request, CHANGE_PERMISSION)
    index = reverse("paywall_bank_transfers:index")
    invoice = ManualInvoice.objects.filter(reference=reference.strip()).first()
    form = ReceivedForm(request.POST, prefix=reference, invoice=invoice)
    if not form.is_valid():
        for error in form.errors.get("received_on", []):
            messages.error(request, f"{reference}: {error}")
        return HttpResponseRedirect(index)
    try:
        row = billing.mark_received(reference, form.paid_at())
    except billing.NotConfigured as exc:
        messages.error(request, str(exc))
        return HttpResponseRedirect(index)
    except (InvoiceError, ProviderError) as exc:
        messages.error(request, str(exc))
        return HttpResponseRedirect(index)
    row = deliver(row.provider, row.headers, bytes(row.body))
    messages.success(
        request,
        _("Transfer for %(reference)s recorded; its event is %(status)s in the webhook inbox.")
        % {"reference": reference, "status": str(row.get_status_display()).lower()},
    )
    return HttpResponseRedirect(index)


class BankTransfersMenuItem(MenuItem):
    """Shown when the site takes bank transfers, to those who may see the invoices."""

    def is_shown(self, request: Any) -> bool:
        return billing.PROVIDER in conf.providers() and bool(request.user.has_perm(VIEW_PERMISSION))


class BankTransferViewSet(ViewSet):
    name = "paywall_bank_transfers"
    icon = "doc-full"
    menu_label = gettext_lazy("Bank transfers")
    menu_item_class = BankTransfersMenuItem

    def get_urlpatterns(self) -> list[Any]:
        return [
            path("", BankTransferIndexView.as_view(), name="index"),
            # <path:>: a reference stored with a "/" in it still gets a working URL.
            path("<path:reference>/received/", mark_received, name="mark_received"),
        ]
