"""The member's journey: pricing, checkout, account, webhooks, and the fake payment page.

Every page needs only ``django.contrib.auth``: a visitor is a member when
``request.user`` is authenticated, and the member id is ``str(user.pk)``.

Nothing here grants access. A checkout only starts the provider's payment page; access
comes from the provider's events, received by :func:`webhook` and applied in a task.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from membership_sdk import (
    Catalog,
    InvalidTransition,
    MalformedEvent,
    Price,
    ProviderError,
    SignatureError,
    Status,
    UnknownPrice,
)
from membership_sdk import membership as core
from membership_sdk.currency import format_amount
from membership_sdk.events import SubscriptionSnapshot
from membership_sdk.providers.fake import FakeProvider

from . import conf
from .access import member_context, member_id_for
from .forms import CancelForm, ChangePlanForm, CheckoutForm, MembershipForm, PortalForm
from .journey_models import CancellationFeedback
from .models import Membership as MembershipRow
from .program import get_program
from .tasks import deliver

logger = logging.getLogger(__name__)

ERROR_TEMPLATE = "wagtail_paywall/error.html"
_LIVE = (Status.TRIALING, Status.ACTIVE, Status.PAST_DUE, Status.PAUSED, Status.INCOMPLETE)
_CANCELABLE = (Status.TRIALING, Status.ACTIVE, Status.PAST_DUE)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@runtime_checkable
class PlanChanges(Protocol):
    """A provider that moves a subscription to another price (optional capability).

    Not part of the core :class:`~membership_sdk.providers.Provider` contract, so third-party
    providers without plan changes stay valid; the account page offers a plan change only
    for providers that have this method (the Stripe provider does).
    """

    def change_plan(
        self,
        subscription_id: str,
        price: str,
        *,
        proration_date: int | None = None,
        idempotency_key: str | None = None,
    ) -> SubscriptionSnapshot: ...


# -- helpers ----------------------------------------------------------------------------------
def safe_next(request: HttpRequest, candidate: str | None, fallback: str) -> str:
    """``candidate`` when it points at this site (an allowed host; https when the request
    is secure), else ``fallback``."""
    hosts = {request.get_host()}
    # ALLOWED_HOSTS entries that are exact names; "*" and ".example.com" are patterns.
    hosts.update(h for h in settings.ALLOWED_HOSTS if h and h != "*" and not h.startswith("."))
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts=hosts, require_https=request.is_secure()
    ):
        return candidate
    return fallback


def _error(request: HttpRequest, status: int, title: str, message: str) -> HttpResponse:
    return render(
        request,
        ERROR_TEMPLATE,
        {"title": title, "message": message, "pricing_url": reverse("paywall:pricing")},
        status=status,
    )


def _provider_down(
    request: HttpRequest, exc: ProviderError, action: str, message: str
) -> HttpResponse:
    """The page a member gets when the payment provider failed during ``action``: a 502
    saying nothing was done (the provider's own words go to the log, never the page)."""
    logger.warning("%s failed: %s (%s)", action, exc, exc.code)
    return _error(request, 502, _("The payment service is not answering"), message)


def _configured(provider: str) -> bool:
    """Whether ``provider`` is configured for this site (the program registers only
    those; see :func:`wagtail_paywall.program.get_program`)."""
    return provider in get_program().providers


def _amount(price: Price) -> str:
    return format_amount(price.amount, price.currency)


def _owned_membership(request: HttpRequest, membership_id: str) -> core.Membership:
    membership = get_program().store.memberships.get(membership_id)
    if membership is None or membership.member_id != member_id_for(request):
        # Someone else's membership looks exactly like one that does not exist.
        raise Http404(_("No such membership."))
    return membership


def _account_redirect(request: HttpRequest, message: str | None = None) -> HttpResponseRedirect:
    if message:
        messages.info(request, message, fail_silently=True)
    return HttpResponseRedirect(reverse("paywall:account"))


# -- pricing ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class PriceOption:
    price: Price
    amount: str
    selected: bool
    name: str = ""


@dataclass(frozen=True)
class TierColumn:
    slug: str
    name: str
    description: str
    entitlements: tuple[str, ...]
    prices: tuple[PriceOption, ...]
    held: bool
    free: bool


def _choose(value: str, options: Sequence[str], default: str) -> str:
    return value if value in options else default


def _pricing_context(request: HttpRequest) -> dict[str, Any]:
    catalog: Catalog = get_program().catalog
    ctx = member_context(request)
    for_sale = [p for p in catalog.prices if not p.archived]
    wanted = request.GET.get("price", "")
    highlighted = next((p for p in for_sale if p.id == wanted), None)

    currencies = sorted({p.currency for p in for_sale})
    preferred = highlighted.currency if highlighted else ("EUR" if "EUR" in currencies else "")
    currency = _choose(
        request.GET.get("currency", "").upper(),
        currencies,
        preferred or (currencies[0] if currencies else ""),
    )
    recurring = [p for p in for_sale if p.recurring and p.tier and p.currency == currency]
    intervals = [i for i in ("month", "year") if any(p.interval == i for p in recurring)]
    default_interval = (
        highlighted.interval.value
        if highlighted is not None and highlighted.recurring
        else (intervals[0] if intervals else "month")
    )
    interval = _choose(request.GET.get("interval", ""), intervals, default_interval)

    priced = {p.tier for p in catalog.prices if p.tier}
    held_rank = ctx.rank if ctx.authenticated else None
    columns = []
    for tier in catalog.tiers:
        options = tuple(
            PriceOption(p, _amount(p), p is highlighted)
            for p in recurring
            if p.tier == tier.slug and p.interval == interval
        )
        free = tier.slug not in priced
        if not options and not free:
            continue  # not sold in this currency and interval
        columns.append(
            TierColumn(
                slug=tier.slug,
                name=tier.name,
                description=tier.description,
                entitlements=tuple(str(e) for e in tier.entitlements),
                prices=options,
                held=held_rank is not None and tier.slug in ctx.tiers and tier.rank == held_rank,
                free=free,
            )
        )
    items = [
        PriceOption(p, _amount(p), p is highlighted, catalog.items.get(p.item, "") or p.item)
        for p in for_sale
        if p.item and p.currency == currency
    ]
    # This page without its ``next``: where to come back to when ``next`` is not ours.
    params = request.GET.copy()
    params.pop("next", None)
    here = request.path + (f"?{params.urlencode()}" if params else "")
    return {
        "currencies": currencies,
        "currency": currency,
        "intervals": intervals,
        "interval": interval,
        "tiers": columns,
        "items": items,
        "purchased": ctx.purchases,
        "authenticated": ctx.authenticated,
        "next": safe_next(request, request.GET.get("next"), here),
        "attempt": uuid.uuid4().hex,
        "login_url": f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': here})}",
    }


@require_GET
def pricing(request: HttpRequest) -> HttpResponse:
    """Tiers side by side with their entitlements and prices, for one currency and
    interval (``?currency=PLN&interval=year``); the tier the member holds is marked."""
    response = render(request, "wagtail_paywall/pricing.html", _pricing_context(request))
    if request.user.is_authenticated:
        response["Cache-Control"] = "private"
    return response


# -- checkout ---------------------------------------------------------------------------------
@require_POST
def checkout(request: HttpRequest) -> HttpResponseBase:
    """Start the provider's checkout for a price (a membership or a one-off purchase).

    Stores nothing; access comes from the provider's event. Answers 404 for an unknown
    or archived price or an unconfigured provider, 502 when the provider fails.
    """
    pricing_url = reverse("paywall:pricing")
    if not request.user.is_authenticated:
        return redirect_to_login(pricing_url)
    form = CheckoutForm(request.POST)
    if not form.is_valid():
        return _error(
            request,
            400,
            _("Checkout could not start"),
            _("Choose a plan on the pricing page to start a checkout."),
        )
    data = form.cleaned_data
    program = get_program()
    provider = data["provider"] or conf.get("DEFAULT_PROVIDER")
    if not _configured(provider):
        return _error(
            request,
            404,
            _("Checkout could not start"),
            _("There is no payment provider named “%(provider)s” on this site.")
            % {"provider": provider},
        )
    next_url = safe_next(request, data["next"], pricing_url)
    back = urlencode({"next": next_url})
    user: Any = request.user
    try:
        price = program.catalog.price(data["price"])
        if price.recurring and _has_live_membership(
            program.store.memberships.for_member(str(user.pk))
        ):
            return _account_redirect(
                request, _("You already have a membership. Change your plan here instead.")
            )
        session = program.start_checkout(
            str(user.pk),
            price.id,
            provider=provider,
            success_url=request.build_absolute_uri(f"{reverse('paywall:checkout_success')}?{back}"),
            cancel_url=request.build_absolute_uri(f"{reverse('paywall:checkout_cancel')}?{back}"),
            email=getattr(user, "email", None) or None,
            coupon=data["coupon"] or None,
            attempt=data["attempt"],
        )
    except UnknownPrice:
        return _error(
            request,
            404,
            _("This price is not for sale"),
            _("The price “%(price)s” is unknown or no longer offered. Nothing was charged.")
            % {"price": data["price"]},
        )
    except ProviderError as exc:
        return _provider_down(
            request,
            exc,
            f"checkout with {provider}",
            _("We could not start the checkout. Nothing was charged; please try again later."),
        )
    if session.url:
        return HttpResponseRedirect(session.url)
    return render(
        request,
        "wagtail_paywall/checkout_instructions.html",
        {"session": session, "price": price, "amount": _amount(price), "next": next_url},
    )


def _has_live_membership(memberships: Iterable[core.Membership]) -> bool:
    return any(m.status in _CANCELABLE for m in memberships)


@never_cache
@require_GET
def checkout_success(request: HttpRequest) -> HttpResponse:
    """Thank the member and show what they hold *now*. It grants nothing: whatever the
    query string says (a session id, forged or someone else's), only the provider's
    events change access, so this page reads stored state and nothing else."""
    next_url = safe_next(request, request.GET.get("next"), reverse("paywall:pricing"))
    context: dict[str, Any] = {"next": next_url, "memberships": [], "purchases": []}
    if request.user.is_authenticated:
        account = _account_data(str(request.user.pk))
        context["memberships"] = [m for m in account["current"] if m["giving_access"]]
        context["purchases"] = account["purchases"][:3]
    context["confirmed"] = bool(context["memberships"] or context["purchases"])
    context["check_again_url"] = f"{request.path}?{urlencode({'next': next_url})}"
    return render(request, "wagtail_paywall/checkout_success.html", context)


@require_GET
def checkout_cancel(request: HttpRequest) -> HttpResponseRedirect:
    """The visitor left the provider's checkout: back to where they were (``next``, when
    it points at this site), else to the pricing page."""
    messages.info(request, _("Checkout canceled. Nothing was charged."), fail_silently=True)
    return HttpResponseRedirect(
        safe_next(request, request.GET.get("next"), reverse("paywall:pricing"))
    )


# -- account ----------------------------------------------------------------------------------
def _account_data(member_id: str) -> dict[str, Any]:
    program = get_program()
    catalog = program.catalog
    memberships = sorted(
        program.store.memberships.for_member(member_id),
        key=lambda m: m.started_at or _EPOCH,
        reverse=True,
    )
    grants = program.store.grants.for_member(member_id)
    now = program.clock()

    def tier_name(slug: str | None) -> str:
        if not slug:
            return ""
        try:
            return catalog.tier(slug).name
        except LookupError:
            return slug

    current, past = [], []
    for m in memberships:
        provider = program.providers.get(m.provider)
        row = {
            "membership": m,
            "tier_name": tier_name(m.tier),
            "status": m.status.value,
            "status_label": _status_label(m.status.value),
            "giving_access": m.status in _CANCELABLE,
            "can_cancel": m.status in _CANCELABLE and not m.cancel_at_period_end,
            "can_resume": m.status in _CANCELABLE and m.cancel_at_period_end,
            "plans": _other_plans(catalog, m) if isinstance(provider, PlanChanges) else [],
            "has_portal": provider is not None and _may_have_portal(provider),
        }
        (current if m.status in _LIVE else past).append(row)
    purchases = [
        {
            "grant": g,
            "name": catalog.items.get(g.item or "", "") or g.item or tier_name(g.tier),
            "refunded": g.revoked_at is not None,
        }
        for g in sorted(grants, key=lambda g: g.starts_at, reverse=True)
        if g.kind is core.GrantKind.PURCHASE
    ]
    other_access = [
        {"grant": g, "tier_name": tier_name(g.tier), "kind": g.kind.value}
        for g in grants
        if g.kind is not core.GrantKind.PURCHASE and g.active(now)
    ]
    return {
        "current": current,
        "past": past,
        "purchases": purchases,
        "other_access": other_access,
    }


def _status_label(value: str) -> str:
    labels = dict(MembershipRow.Status.choices)
    return str(labels.get(value, value))


def _other_plans(catalog: Catalog, membership: core.Membership) -> list[dict[str, Any]]:
    return [
        {"price": p, "amount": _amount(p), "tier_name": catalog.tier(p.tier).name if p.tier else ""}
        for p in catalog.prices
        if p.recurring
        and not p.archived
        and p.tier
        and p.id != membership.price_id
        and membership.provider in p.provider_ids
    ]


def _may_have_portal(provider: object) -> bool:
    # The simulated providers say so (``portal`` is their configured address); for any
    # other provider only asking tells, which for Stripe creates a session: ask on click.
    return getattr(provider, "portal", True) is not None


@never_cache
@require_GET
def account(request: HttpRequest) -> HttpResponseBase:
    """The member's memberships (renewal date, cancel, resume, change plan, billing
    portal), other access they hold, and their purchase history."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    data = _account_data(str(request.user.pk))
    providers = sorted(
        {
            row["membership"].provider
            for row in data["current"] + data["past"]
            if row["has_portal"] and _configured(row["membership"].provider)
        }
    )
    data["portal_providers"] = providers
    data["cancel_form"] = CancelForm()
    return render(request, "wagtail_paywall/account.html", data)


def _member_form(
    request: HttpRequest, form_class: type[MembershipForm]
) -> MembershipForm | HttpResponseBase:
    """The bound form of an account action, or the way to the login page."""
    if not request.user.is_authenticated:
        return redirect_to_login(reverse("paywall:account"))
    return form_class(request.POST)


@require_POST
def cancel(request: HttpRequest) -> HttpResponseBase:
    """Cancel at the end of the paid period and keep the member's answer to the survey."""
    form = _member_form(request, CancelForm)
    if isinstance(form, HttpResponseBase):
        return form
    if not form.is_valid():
        data = _account_data(str(request.user.pk))
        data.update(cancel_form=form, portal_providers=[])
        return render(request, "wagtail_paywall/account.html", data, status=400)
    membership = _owned_membership(request, form.cleaned_data["membership"])
    reason = form.cleaned_data["reason"]
    try:
        after = get_program().cancel(membership.id, reason=reason, at_period_end=True)
    except InvalidTransition:
        return _error(
            request,
            409,
            _("This membership has already ended"),
            _("There is nothing left to cancel."),
        )
    except ProviderError as exc:
        return _provider_down(
            request,
            exc,
            f"cancel of {membership.id}",
            _("Your membership was not canceled; please try again later."),
        )
    CancellationFeedback.objects.create(
        membership_id=membership.id,
        member_id=membership.member_id,
        tier=membership.tier,
        reason=reason,
        comment=form.cleaned_data["comment"],
    )
    if after.current_period_end is not None and after.status in _CANCELABLE:
        message = _("Your membership is canceled. You keep access until %(date)s.") % {
            "date": after.current_period_end.date().isoformat()
        }
    else:
        message = _("Your membership is canceled.")
    return _account_redirect(request, message)


@require_POST
def resume(request: HttpRequest) -> HttpResponseBase:
    """Undo a cancellation that has not taken effect yet."""
    form = _member_form(request, MembershipForm)
    if isinstance(form, HttpResponseBase):
        return form
    if not form.is_valid():
        return _error(request, 400, _("Nothing to resume"), _("Choose a membership to resume."))
    membership = _owned_membership(request, form.cleaned_data["membership"])
    try:
        get_program().resume(membership.id)
    except InvalidTransition:
        return _error(
            request,
            409,
            _("Nothing to resume"),
            _("This membership is not set to end, or has already ended."),
        )
    except ProviderError as exc:
        return _provider_down(
            request,
            exc,
            f"resume of {membership.id}",
            _("Your membership was not resumed; please try again later."),
        )
    return _account_redirect(request, _("Welcome back: your membership continues."))


@require_POST
def change_plan(request: HttpRequest) -> HttpResponseBase:
    """Move a membership to another recurring price, through providers that can."""
    form = _member_form(request, ChangePlanForm)
    if isinstance(form, HttpResponseBase):
        return form
    if not form.is_valid():
        return _error(request, 400, _("Plan not changed"), _("Choose a new plan."))
    membership = _owned_membership(request, form.cleaned_data["membership"])
    program = get_program()
    provider = program.providers.get(membership.provider)
    if not isinstance(provider, PlanChanges) or membership.provider_subscription_id is None:
        return _error(
            request,
            400,
            _("Plan not changed"),
            _("Plans of this membership cannot be changed here; cancel it and choose another."),
        )
    price_id = form.cleaned_data["price"]
    plans = {row["price"].id: row["price"] for row in _other_plans(program.catalog, membership)}
    price = plans.get(price_id)
    if price is None:
        return _error(
            request,
            404,
            _("This price is not for sale"),
            _("The price “%(price)s” is unknown or no longer offered. Nothing was changed.")
            % {"price": price_id},
        )
    try:
        provider.change_plan(
            membership.provider_subscription_id,
            price.provider_ids[membership.provider],
            idempotency_key=f"change-{membership.id}-{price.id}-{membership.version[0]}",
        )
    except ProviderError as exc:
        return _provider_down(
            request,
            exc,
            f"plan change of {membership.id}",
            _("Your plan was not changed; please try again later."),
        )
    # The provider's event brings the new plan; this page shows it once it has arrived.
    return _account_redirect(request, _("Your plan change is being confirmed."))


@require_POST
def portal(request: HttpRequest) -> HttpResponseBase:
    """Send the member to the provider's billing portal (cards, invoices, address)."""
    if not request.user.is_authenticated:
        return redirect_to_login(reverse("paywall:account"))
    form = PortalForm(request.POST)
    name = form.cleaned_data["provider"] if form.is_valid() else ""
    program = get_program()
    customer = (
        program.store.customers.customer_for(name, str(request.user.pk))
        if _configured(name)
        else None
    )
    if customer is None:
        raise Http404(_("You have no billing account with this payment provider."))
    try:
        url = program.providers[name].portal_url(
            customer, request.build_absolute_uri(reverse("paywall:account"))
        )
    except ProviderError as exc:
        return _provider_down(
            request,
            exc,
            f"portal of {name}",
            _("We could not open your billing portal; please try again later."),
        )
    if url is None:
        return _account_redirect(request, _("This payment provider has no billing portal."))
    return HttpResponseRedirect(url)


# -- webhooks ---------------------------------------------------------------------------------
@csrf_exempt
@require_POST
def webhook(request: HttpRequest, provider: str) -> JsonResponse:
    """A provider's webhook: verified and stored in the inbox, answered at once, applied
    by a task. 400 for a bad signature or an unreadable body (nothing is stored); 413 for
    a body over ``PAYWALL["WEBHOOK_MAX_BYTES"]``; 404 for a provider this site does not
    use; 200 for an event type that is ignored."""
    if not _configured(provider):
        return JsonResponse({"error": f"unknown provider {provider!r}"}, status=404)
    limit = int(conf.get("WEBHOOK_MAX_BYTES"))
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return JsonResponse({"error": "unreadable Content-Length"}, status=400)
    if length > limit:
        return JsonResponse({"error": f"body over {limit} bytes"}, status=413)
    headers: Mapping[str, str] = dict(request.headers)
    try:
        row = deliver(provider, headers, request.body)
    except SignatureError as exc:
        return JsonResponse({"error": "bad signature", "detail": str(exc)}, status=400)
    except MalformedEvent as exc:
        return JsonResponse({"error": "malformed event", "detail": str(exc)}, status=400)
    return JsonResponse({"received": row.event_id, "status": row.status})


# -- the fake provider's payment page ---------------------------------------------------------
def _fake_provider() -> FakeProvider:
    provider = get_program().providers.get("fake") if _configured("fake") else None
    if not isinstance(provider, FakeProvider):
        raise Http404(_("The fake payment provider is not configured."))
    return provider


@never_cache
@require_http_methods(["GET", "POST"])
def fake_checkout(request: HttpRequest, session_id: str) -> HttpResponseBase:
    """The fake provider's payment page, for demos and tests: "Pay" or "Decline".

    Either button completes the session at the fake service, which sends its signed
    webhook to this site's own webhook handling, as a real provider would.
    """
    fake = _fake_provider()
    try:
        session = fake.checkout(session_id)
    except ProviderError:
        raise Http404(_("No such checkout session.")) from None
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if session.member_id != str(request.user.pk):
        raise Http404(_("No such checkout session."))
    price = get_program().catalog.price_for_provider("fake", session.price)
    context: dict[str, Any] = {
        "session": session,
        "price": price,
        "amount": format_amount(session.amount, session.currency),
        "declined": False,
    }
    if request.method == "GET":
        return render(request, "wagtail_paywall/fake_checkout.html", context)
    action = request.POST.get("action")
    if action not in ("pay", "decline"):
        return _error(request, 400, _("Payment not sent"), _("Choose “Pay” or “Decline”."))
    if session.state != "open":
        return render(request, "wagtail_paywall/fake_checkout.html", context, status=409)
    hook = fake.complete_checkout(session.id, succeed=action == "pay")
    deliver("fake", hook.headers, hook.body)
    if action == "pay":
        return HttpResponseRedirect(session.success_url)
    context["declined"] = True
    return render(request, "wagtail_paywall/fake_checkout.html", context)
