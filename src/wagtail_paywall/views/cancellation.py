"""Lawful cancellation pages (``docs/cancellation.md``; not legal advice).

- :func:`cancel_contract`: the page the "Cancel contracts here" button leads to (§312k
  BGB), with no login: it asks only what the law allows and confirms with "Cancel now".
  Every valid declaration gets the same answer, whether or not the address holds a
  membership; the confirmation goes by email to the account's own address.
- :func:`withdraw`: the account page's withdrawal button (Art. 11a Consumer Rights
  Directive), for a membership within its 14 days.
- :func:`withdraw_confirm`: the link a withdrawal declared without a login mails to the
  account's address, which carries it out.
"""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.http import Http404, HttpRequest, HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from membership_sdk.cancellation import (
    OutsideWithdrawalPeriod,
    can_withdraw,
    withdrawal_deadline,
)

from .. import conf
from ..billing.cancellation import (
    Kind,
    allow_declaration,
    allow_mail,
    declare,
    read_withdrawal_token,
    withdraw_membership,
)
from ..forms import MembershipForm
from ..models import CancellationDeclaration
from ..program import get_program
from .base import (
    ErrorPage,
    account_redirect,
    member_required,
    owned_membership,
    provider_errors,
    shows_error_pages,
)

logger = logging.getLogger("wagtail_paywall.views")

FORM_TEMPLATE = "wagtail_paywall/cancel_contract.html"
RECEIVED_TEMPLATE = "wagtail_paywall/cancel_contract_received.html"
WITHDRAW_TEMPLATE = "wagtail_paywall/withdraw_confirm.html"


def _kinds() -> list[tuple[str, Any]]:
    kinds: list[tuple[str, Any]] = [
        (Kind.ORDINARY, gettext_lazy("Ordinary cancellation")),
        (Kind.EXTRAORDINARY, gettext_lazy("Extraordinary cancellation (for cause)")),
    ]
    if conf.get("WITHDRAWAL_BUTTON") is True:
        kinds.append((Kind.WITHDRAWAL, gettext_lazy("Withdrawal (within 14 days of the start)")))
    return kinds


class CancelContractForm(forms.Form):
    """What §312k (2) BGB lets the page ask: who, which contract, which kind, and when."""

    WHEN_EARLIEST = "earliest"
    WHEN_DATE = "date"

    name = forms.CharField(label=gettext_lazy("Your name"), max_length=200)
    email = forms.EmailField(
        label=gettext_lazy("The email address of your membership"),
        help_text=gettext_lazy("The confirmation is sent to the address of your account."),
    )
    member_number = forms.CharField(
        label=gettext_lazy("Member or customer number (optional)"),
        max_length=64,
        required=False,
    )
    contract = forms.ChoiceField(label=gettext_lazy("Which contract"), required=False)
    kind = forms.ChoiceField(label=gettext_lazy("Kind of cancellation"), widget=forms.RadioSelect)
    reason = forms.CharField(
        label=gettext_lazy("Reason (for an extraordinary cancellation)"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    when = forms.ChoiceField(
        label=gettext_lazy("End of the contract"),
        choices=[
            (WHEN_EARLIEST, pgettext_lazy("cancellation date", "At the earliest possible date")),
            (WHEN_DATE, gettext_lazy("On this date")),
        ],
        initial=WHEN_EARLIEST,
        widget=forms.RadioSelect,
    )
    wished_date = forms.DateField(
        label=gettext_lazy("Date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tiers = get_program().catalog.tiers
        self.fields["contract"].choices = [
            ("", _("All my contracts")),
            *((t.slug, t.name) for t in tiers if t.rank > 0),
        ]
        self.fields["kind"].choices = _kinds()
        self.fields["kind"].initial = Kind.ORDINARY

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        when = data.get("when")
        wished = data.get("wished_date")
        if when == self.WHEN_DATE:
            if wished is None:
                self.add_error("wished_date", _("Give the date the contract should end on."))
            elif wished < timezone.localdate():
                self.add_error("wished_date", _("The date %(date)s has passed.") % {"date": wished})
        else:
            data["wished_date"] = None
        if data.get("kind") == Kind.EXTRAORDINARY and not (data.get("reason") or "").strip():
            self.add_error("reason", _("Say why you cancel for cause."))
        return data


def _enabled() -> None:
    if conf.get("CANCELLATION_BUTTON") is not True:
        raise Http404(_("This site has no cancellation page."))


def client_address(request: HttpRequest) -> str:
    """The client's address as the server saw it (a proxy's header is not trusted: set
    ``REMOTE_ADDR`` from it in your proxy middleware if you run behind one)."""
    return str(request.META.get("REMOTE_ADDR", ""))


@never_cache
@require_http_methods(["GET", "POST"])
@shows_error_pages
def cancel_contract(request: HttpRequest) -> HttpResponseBase:
    """The cancellation page: the form, and on "Cancel now" the same receipt for every
    valid declaration. Signed-in members get their address filled in."""
    _enabled()
    if request.method == "GET":
        initial: dict[str, Any] = {}
        user = request.user
        if user.is_authenticated:
            initial = {
                "email": getattr(user, "email", ""),
                "name": user.get_full_name() if hasattr(user, "get_full_name") else "",
                "member_number": str(user.pk),
            }
        return render(request, FORM_TEMPLATE, {"form": CancelContractForm(initial=initial)})
    form = CancelContractForm(request.POST)
    if not form.is_valid():
        return render(request, FORM_TEMPLATE, {"form": form}, status=400)
    data = form.cleaned_data
    if not allow_declaration(client_address(request), data["email"]):
        return render(
            request,
            FORM_TEMPLATE,
            {
                "form": form,
                "rate_limited": True,
            },
            status=429,
        )
    declaration = declare(
        name=data["name"],
        email=data["email"],
        kind=data["kind"],
        member_number=data["member_number"],
        contract=data["contract"] or "",
        reason=data["reason"],
        wished_date=data["wished_date"],
        mail=allow_mail(data["email"]),
    )
    return render(request, RECEIVED_TEMPLATE, _receipt(declaration, form))


def _receipt(declaration: CancellationDeclaration, form: CancelContractForm) -> dict[str, Any]:
    """What the receipt page shows: the declaration as sent and when it was received;
    never what it matched (that goes to the account's address alone)."""
    contracts = dict(form.fields["contract"].choices)
    return {
        "declaration": declaration,
        "received_at": timezone.localtime(declaration.received_at),
        "contract_label": contracts.get(declaration.contract, declaration.contract),
        "kind_label": dict(_kinds()).get(declaration.kind, declaration.kind),
    }


@require_POST
@member_required("paywall:account")
def withdraw(request: HttpRequest) -> HttpResponseBase:
    """Withdraw from a membership within its withdrawal period: it ends now and its
    payment is refunded where the provider can (else the staff refunds it)."""
    if conf.get("WITHDRAWAL_BUTTON") is not True:
        raise Http404(_("This site has no withdrawal button."))
    form = MembershipForm(request.POST)
    if not form.is_valid():
        raise ErrorPage(400, _("Nothing to withdraw from"), _("Choose a membership."))
    membership = owned_membership(request, form.cleaned_data["membership"])
    return account_redirect(request, _withdraw(membership, None))


def _withdraw(membership: Any, declaration: CancellationDeclaration | None) -> str:
    with provider_errors(
        f"withdrawal of {membership.id}",
        _("Your withdrawal was not carried out; please try again later."),
    ):
        try:
            done = withdraw_membership(membership, declaration=declaration)
        except OutsideWithdrawalPeriod:
            raise ErrorPage(
                409,
                _("The withdrawal period is over"),
                _("You can still cancel: the membership then ends with the paid period."),
            ) from None
    if done.refund is not None:
        return _(
            "You withdrew from the contract. It has ended, and your payment is being refunded."
        )
    if done.refund_note == "trial":
        return _("You withdrew from the contract. It has ended; nothing was charged.")
    return _("You withdrew from the contract. It has ended; we refund your payment within 14 days.")


@never_cache
@require_http_methods(["GET", "POST"])
@shows_error_pages
def withdraw_confirm(request: HttpRequest, token: str) -> HttpResponseBase:
    """The link mailed for a withdrawal declared without a login: shows what it
    withdraws from and, on the button, carries it out."""
    if conf.get("WITHDRAWAL_BUTTON") is not True:
        raise Http404(_("This site has no withdrawal button."))
    found = read_withdrawal_token(token)
    declaration = (
        CancellationDeclaration.objects.filter(pk=found[0]).first() if found is not None else None
    )
    membership = get_program().store.memberships.get(found[1]) if found is not None else None
    declared = declaration is not None and any(
        entry.get("membership") == found[1] for entry in declaration.memberships if found
    )
    if declaration is None or membership is None or not declared:
        raise ErrorPage(
            404,
            _("This withdrawal link does not work"),
            _("It is wrong or has expired. Sign in and use your account page instead."),
        )
    context = {
        "membership": membership,
        "tier_name": _tier_name(membership.tier),
        "declaration": declaration,
        # Declared in time is in time, however late the link is followed.
        "can_withdraw": can_withdraw(membership, declaration.received_at),
    }
    if request.method == "GET":
        return render(request, WITHDRAW_TEMPLATE, context)
    context["done"] = _withdraw(membership, declaration)
    return render(request, WITHDRAW_TEMPLATE, context)


def withdrawal_row(program: Any, membership: Any) -> dict[str, Any]:
    """What the account page shows of a membership's withdrawal: ``can_withdraw`` (the
    setting is on and the 14 days have not passed) and ``withdrawal_deadline``."""
    if conf.get("WITHDRAWAL_BUTTON") is not True:
        return {"can_withdraw": False, "withdrawal_deadline": None}
    return {
        "can_withdraw": can_withdraw(membership, program.clock()),
        "withdrawal_deadline": withdrawal_deadline(membership),
    }


def _tier_name(slug: str | None) -> str:
    try:
        return get_program().catalog.tier(slug or "").name
    except LookupError:
        return slug or ""
