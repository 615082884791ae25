"""Retention offers in the cancel flow: after the member gave their reason, one offer
chosen by it (a discount, a pause or a cheaper plan), with a one-click way on to the
cancellation.

The cancel view (:func:`wagtail_paywall.views.account.cancel`) asks :func:`offer_step`
first: it returns the offer page, or ``None`` to cancel at once (no offer for the reason,
the provider cannot honour it, or the member just declined one). :func:`accept_offer`
carries an offer out. Every offer shown and every answer is a
:class:`~wagtail_paywall.models.RetentionAttempt`. See ``docs/journey.md`` (Retention
offers).
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from membership_sdk import MembershipError
from membership_sdk import membership as core
from membership_sdk.catalog import Interval
from membership_sdk.retention import (
    RetentionConfigError,
    RetentionKind,
    RetentionOffer,
    accept,
    can_honour,
    cheaper_price,
    offer_for,
)

from ..formats import local_date, money
from ..forms import CancelForm, RetentionOfferForm
from ..models import RetentionAttempt, configured_offers
from ..program import get_program
from .base import ErrorPage, account_redirect, member_required, owned_membership, provider_errors

logger = logging.getLogger("wagtail_paywall.views")

TEMPLATE = "wagtail_paywall/retention_offer.html"
#: The largest row id a database keeps (a bigger one is forged, and would not fit a query).
MAX_ID = 2**63 - 1


def _offers() -> tuple[RetentionOffer, ...]:
    try:
        return configured_offers()
    except RetentionConfigError as exc:
        # System check E014 reports it; a wrong setting never stands between a member and
        # their cancellation.
        logger.warning("retention offers skipped: %s", exc)
        return ()


def offer_step(
    request: HttpRequest, membership: core.Membership, form: CancelForm
) -> HttpResponse | None:
    """The retention offer for the reason in ``form`` (valid), or ``None``: cancel now.

    A form naming a declined offer records the answer and returns ``None``: the one
    click on "No thanks, cancel my membership" cancels.
    """
    program = get_program()
    reason = form.cleaned_data["reason"]
    declined = form.cleaned_data.get("declined") or ""
    if declined:
        if declined.isdigit() and int(declined) <= MAX_ID:
            RetentionAttempt.objects.filter(
                pk=int(declined),
                membership_id=membership.id,
                outcome=RetentionAttempt.Outcome.SHOWN,
            ).update(outcome=RetentionAttempt.Outcome.DECLINED, decided_at=program.clock())
        return None
    offer = offer_for(_offers(), reason, program, membership)
    if offer is None:
        return None
    attempt = RetentionAttempt.objects.create(
        membership_id=membership.id,
        member_id=membership.member_id,
        tier=membership.tier or "",
        reason=reason,
        offer=offer.id,
        kind=offer.kind.value,
        shown_at=program.clock(),
    )
    context = {
        "membership": membership,
        "attempt": attempt,
        "offer": offer,
        "reason": reason,
        "comment": form.cleaned_data["comment"],
        **describe(offer, membership),
    }
    return render(request, TEMPLATE, context)


def _per(price_interval: Interval) -> str:
    return _("a year") if price_interval is Interval.YEAR else _("a month")


def describe(offer: RetentionOffer, membership: core.Membership) -> dict[str, Any]:
    """What the offer page says of ``offer`` for ``membership``: ``headline`` and
    ``details``, and for a pause the lengths to choose from."""
    program = get_program()
    catalog = program.catalog
    try:
        current = catalog.price(membership.price_id or "", include_archived=True)
    except MembershipError:
        current = None
    if offer.kind is RetentionKind.DISCOUNT:
        if offer.percent_off is not None:
            off = f"{offer.percent_off}%"
        elif current is not None:
            off = money(offer.amount_off or 0, current.currency)
        else:
            off = str(offer.amount_off)
        if offer.months is None:
            headline = _("Stay with %(off)s off, for as long as you stay.") % {"off": off}
        else:
            headline = ngettext(
                "Stay with %(off)s off your next payment.",
                "Stay with %(off)s off for the next %(months)d payments.",
                offer.months,
            ) % {"off": off, "months": offer.months}
        details = ""
        if current is not None:
            reduced = (
                current.amount * (100 - offer.percent_off) // 100
                if offer.percent_off is not None
                else max(current.amount - (offer.amount_off or 0), 0)
            )
            details = _("You pay %(new)s %(per)s instead of %(old)s.") % {
                "new": money(reduced, current.currency),
                "old": money(current.amount, current.currency),
                "per": _per(current.interval),
            }
        return {"headline": headline, "details": details}
    if offer.kind is RetentionKind.PAUSE:
        top = offer.months or 1
        return {
            "headline": ngettext(
                "Take a break instead: pause your membership for a month.",
                "Take a break instead: pause your membership for up to %(months)d months.",
                top,
            )
            % {"months": top},
            "details": " ".join(
                (
                    _(
                        "You pay nothing while it is paused, and it starts again by itself; "
                        "you can still cancel at any time."
                    ),
                    _("You keep reading until the end of the period you paid for.")
                    if program.paused_access
                    else _("Members' articles are closed to you while it is paused."),
                )
            ),
            "pause_months": list(range(1, top + 1)),
        }
    price = cheaper_price(offer, catalog, membership)
    assert price is not None  # can_honour checked it
    tier = catalog.tier(price.tier).name if price.tier else price.id
    details = ""
    try:
        shown = program.preview_plan_change(membership.id, price.id)
    except MembershipError as exc:
        # The offer stands without its preview; accepting it asks the provider again.
        logger.info("plan change preview for %s failed: %s", membership.id, exc)
    else:
        if shown.amount_due > 0:
            details = _("You pay %(amount)s now for the rest of this period.") % {
                "amount": money(shown.amount_due, shown.currency),
            }
        elif shown.effective_at is not None:
            details = _("The new price applies from %(date)s.") % {
                "date": local_date(shown.effective_at)
            }
    return {
        "headline": _("Switch to %(tier)s for %(amount)s %(per)s instead.")
        % {
            "tier": tier,
            "amount": money(price.amount, price.currency),
            "per": _per(price.interval),
        },
        "details": details,
        "plan": price,
    }


@never_cache
@require_POST
@member_required("paywall:account")
def accept_offer(request: HttpRequest) -> HttpResponseBase:
    """Take the retention offer shown: the membership goes on, discounted, paused or on the
    cheaper plan, and is not canceled."""
    form = RetentionOfferForm(request.POST)
    if not form.is_valid():
        raise ErrorPage(400, _("Offer not accepted"), _("The offer form was incomplete."))
    data = form.cleaned_data
    membership = owned_membership(request, data["membership"])
    offer = next((o for o in _offers() if o.id == data["offer"]), None)
    if offer is None or data["reason"] not in offer.reasons:
        raise ErrorPage(
            400,
            _("This offer is not available"),
            _("There is no offer “%(offer)s” for this reason. Nothing was changed.")
            % {"offer": data["offer"]},
        )
    attempt = RetentionAttempt.objects.filter(
        pk=data["attempt"], membership_id=membership.id
    ).first()
    if attempt is None:
        raise ErrorPage(404, _("This offer is not available"), _("No such offer was made."))
    if attempt.offer != offer.id or attempt.reason != data["reason"]:
        raise ErrorPage(
            400,
            _("This offer is not available"),
            _("This is not the offer you were shown. Nothing was changed."),
        )
    program = get_program()
    if attempt.outcome != RetentionAttempt.Outcome.SHOWN or not can_honour(
        offer, program, membership
    ):
        raise ErrorPage(
            409,
            _("This offer is no longer available"),
            _("You have answered this offer already, or it no longer applies."),
        )
    months = data["months"] if offer.kind is RetentionKind.PAUSE else None
    if months is not None and not 1 <= months <= (offer.months or 1):
        raise ErrorPage(
            400,
            _("Offer not accepted"),
            _("Choose a pause of 1 to %(months)d months.") % {"months": offer.months or 1},
        )
    now = program.clock()
    detail = _detail(offer, membership, months)
    # Claimed before the provider is asked: a double click applies the offer once.
    claimed = RetentionAttempt.objects.filter(
        pk=attempt.pk, outcome=RetentionAttempt.Outcome.SHOWN
    ).update(outcome=RetentionAttempt.Outcome.ACCEPTED, decided_at=now, detail=detail)
    if not claimed:
        raise ErrorPage(
            409, _("This offer is no longer available"), _("You have answered this offer already.")
        )
    try:
        with provider_errors(
            f"retention offer {offer.id} for {membership.id}",
            _("The offer was not applied; please try again later."),
        ):
            after = accept(program, offer, membership, months=months, reason=data["reason"])
    except (ErrorPage, MembershipError) as exc:
        RetentionAttempt.objects.filter(pk=attempt.pk).update(
            outcome=RetentionAttempt.Outcome.SHOWN, decided_at=None, detail=""
        )
        if isinstance(exc, ErrorPage):
            raise
        raise ErrorPage(
            409,
            _("This offer is no longer available"),
            _("It no longer applies to your membership. Nothing was changed."),
        ) from exc
    return account_redirect(request, _accepted_message(offer, after, detail))


def _detail(offer: RetentionOffer, membership: core.Membership, months: int | None) -> str:
    if offer.kind is RetentionKind.DISCOUNT:
        off = f"{offer.percent_off}%" if offer.percent_off is not None else str(offer.amount_off)
        return f"{off} off, " + (f"{offer.months} months" if offer.months else "for ever")
    if offer.kind is RetentionKind.PAUSE:
        length = months if months is not None else offer.months
        return f"{length} months"
    price = cheaper_price(offer, get_program().catalog, membership)
    return price.id if price is not None else ""


def _accepted_message(offer: RetentionOffer, after: core.Membership, detail: str) -> str:
    if offer.kind is RetentionKind.PAUSE:
        if after.paused_until is not None:
            return _("Your membership is paused until %(date)s. It was not canceled.") % {
                "date": after.paused_until.date().isoformat()
            }
        return _("Your membership is paused. It was not canceled.")
    if offer.kind is RetentionKind.CHEAPER_PLAN:
        catalog = get_program().catalog
        price = catalog.price(detail, include_archived=True) if detail else None
        tier = catalog.tier(price.tier).name if price is not None and price.tier else detail
        if after.price_id != detail and after.current_period_end is not None:
            # A downgrade waits for the period the member paid for to end.
            return _("You move to %(tier)s on %(date)s. Your membership was not canceled.") % {
                "tier": tier,
                "date": after.current_period_end.date().isoformat(),
            }
        return _("You are now on %(tier)s. Your membership was not canceled.") % {"tier": tier}
    return _("Thank you for staying: your discount is applied. Your membership was not canceled.")
