"""Gift memberships: the "Give a gift" page (to the normal checkout), the redeem page, and
what the account page shows of gifts. The gift itself is made when the purchase's event
arrives (:mod:`membership_sdk.gifts`); its emails are :mod:`wagtail_paywall.billing.gifts`.
See ``docs/gifts.md``.
"""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from membership_sdk import GrantKind, Price, UnknownPrice
from membership_sdk import gifts as core

from .. import conf
from ..billing.manual import session_instructions
from ..program import get_program
from .base import ErrorPage, amount, member_required, provider_errors

#: What the buyer may write to the recipient.
MESSAGE_LENGTH = 1000


class GiftForm(forms.Form):
    """What the "Give a gift" page posts."""

    price = forms.ChoiceField(label=gettext_lazy("Gift"), widget=forms.RadioSelect)
    recipient_email = forms.EmailField(
        label=gettext_lazy("Recipient's email (optional)"),
        required=False,
        help_text=gettext_lazy("Leave empty to pass the code on yourself."),
    )
    send_on = forms.DateField(
        label=gettext_lazy("Email it on (optional)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=gettext_lazy("Empty: as soon as you have paid."),
    )
    message = forms.CharField(
        label=gettext_lazy("Message (optional)"),
        max_length=MESSAGE_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    # A nonce per rendered form: a double click retries one checkout, never starts two.
    attempt = forms.CharField(max_length=64, required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, prices: list[Price], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        catalog = get_program().catalog
        self.fields["price"].choices = [
            (
                p.id,
                ngettext(
                    "%(tier)s for %(months)d month: %(amount)s",
                    "%(tier)s for %(months)d months: %(amount)s",
                    p.gift_months or 0,
                )
                % {
                    "tier": catalog.tier(p.tier or "").name,
                    "months": p.gift_months,
                    "amount": amount(p),
                },
            )
            for p in prices
        ]

    def clean_send_on(self) -> Any:
        send_on = self.cleaned_data["send_on"]
        if send_on is not None and send_on < timezone.localdate():
            raise forms.ValidationError(_("Choose today or a later day."))
        return send_on

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("send_on") and not data.get("recipient_email"):
            self.add_error(
                "recipient_email", _("Give the recipient's email, so we can send it on that day.")
            )
        return data


class RedeemForm(forms.Form):
    """What the redeem page posts."""

    code = forms.CharField(
        label=gettext_lazy("Gift code"),
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )


def _gift_prices() -> dict[str, tuple[Price, str]]:
    """Gift prices some configured provider sells, each with the provider to sell it
    (the default provider when it does)."""
    program = get_program()
    default = str(conf.get("DEFAULT_PROVIDER"))
    sellers = [name for name in conf.providers() if name in program.providers]
    found: dict[str, tuple[Price, str]] = {}
    for price in program.catalog.gift_prices():
        names = sorted((p for p in sellers if p in price.provider_ids), key=lambda p: p != default)
        if names:
            found[price.id] = (price, names[0])
    return found


@never_cache
@require_http_methods(["GET", "POST"])
@member_required()
def give(request: HttpRequest) -> HttpResponseBase:
    """Choose a gift (tier and months), whom to email the code and when, and a message;
    then pay for it through the normal checkout. Grants nothing: the gift is made when
    the payment's event arrives."""
    on_sale = _gift_prices()
    prices = [price for price, _provider in on_sale.values()]
    if request.method != "POST":
        form = GiftForm(
            prices=prices,
            initial={"attempt": uuid.uuid4().hex, "price": request.GET.get("price", "")},
        )
        return render(request, "wagtail_paywall/gift_give.html", {"form": form}, status=200)
    form = GiftForm(request.POST, prices=prices)
    if not form.is_valid():
        return render(request, "wagtail_paywall/gift_give.html", {"form": form}, status=400)
    data = form.cleaned_data
    price, provider = on_sale[data["price"]]
    user: Any = request.user
    with provider_errors(
        f"gift checkout with {provider}",
        _("We could not start the checkout. Nothing was charged; please try again later."),
    ):
        try:
            session = get_program().start_gift_checkout(
                str(user.pk),
                price.id,
                provider=provider,
                success_url=request.build_absolute_uri(reverse("paywall:account") + "#gifts"),
                cancel_url=request.build_absolute_uri(reverse("paywall:gift_give")),
                recipient_email=data["recipient_email"],
                send_on=data["send_on"],
                message=data["message"],
                email=getattr(user, "email", None) or None,
                attempt=data["attempt"],
            )
        except (UnknownPrice, core.GiftError) as exc:
            # The catalog changed under the form (an archived price, say).
            raise ErrorPage(404, _("This gift is not for sale"), str(exc)) from None
    if session.url:
        return HttpResponseRedirect(session.url)
    return render(
        request,
        "wagtail_paywall/checkout_instructions.html",
        {
            "session": session,
            "instructions": session_instructions(session),
            "price": price,
            "amount": amount(price),
            "next": reverse("paywall:account"),
        },
    )


#: What the redeem page says for each refusal.
REFUSALS: dict[type[core.GiftError], Any] = {
    core.UnknownGift: gettext_lazy("No gift has this code. Check it for typos."),
    core.GiftAlreadyRedeemed: gettext_lazy("This gift code was already redeemed."),
    core.GiftRefunded: gettext_lazy("This gift was refunded, so its code no longer works."),
}


@never_cache
@require_http_methods(["GET", "POST"])
@member_required()
def redeem(request: HttpRequest) -> HttpResponseBase:
    """Redeem a gift code: the member gets the gift's tier for its months. A bad code is
    a form error saying why (unknown, already redeemed, refunded) and changes nothing."""
    if request.method != "POST":
        form = RedeemForm(initial={"code": request.GET.get("code", "")[:64]})
        return render(request, "wagtail_paywall/gift_redeem.html", {"form": form})
    form = RedeemForm(request.POST)
    if form.is_valid():
        try:
            grant = get_program().redeem_gift(form.cleaned_data["code"], str(request.user.pk))
        except core.GiftError as exc:
            form.add_error("code", str(REFUSALS.get(type(exc), exc)))
        else:
            tier = get_program().catalog.tier(grant.tier or "").name
            messages.success(
                request,
                _("Gift redeemed: you have %(tier)s until %(date)s.")
                % {
                    "tier": tier,
                    "date": date_format(timezone.localtime(grant.ends_at).date(), "DATE_FORMAT")
                    if grant.ends_at
                    else "",
                },
                fail_silently=True,
            )
            return HttpResponseRedirect(reverse("paywall:account"))
    return render(request, "wagtail_paywall/gift_redeem.html", {"form": form}, status=400)


def account_gifts(member_id: str) -> dict[str, Any]:
    """The account page's gifts: those ``member_id`` bought (with their codes) and those
    they hold (with when each ends)."""
    program = get_program()
    try:
        store = program.gifts
    except core.GiftError:
        return {"gifts_bought": [], "gifts_held": [], "held_sources": set(), "gifts_on_sale": False}
    catalog = program.catalog
    now = program.clock()

    def tier_name(slug: str) -> str:
        try:
            return catalog.tier(slug).name
        except LookupError:
            return slug

    grants = {
        g.source: g for g in program.store.grants.for_member(member_id) if g.kind is GrantKind.GIFT
    }
    held = []
    for gift in store.redeemed_by(member_id):
        grant = grants.get(gift.source)
        if grant is not None and grant.active(now):
            held.append({"gift": gift, "tier_name": tier_name(gift.tier), "ends_at": grant.ends_at})
    bought = [
        {"gift": gift, "tier_name": tier_name(gift.tier)} for gift in store.bought_by(member_id)
    ]
    return {
        "gifts_bought": bought,
        "gifts_held": held,
        "held_sources": {row["gift"].source for row in held},
        "gifts_on_sale": bool(catalog.gift_prices()),
    }
