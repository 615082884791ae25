"""Referrals on the site (see :mod:`membership_sdk.referrals`): the policy from
``PAYWALL["REFERRALS"]``, the link's code kept in the visitor's session, the friend's offer
at checkout, the attribution when the friend's membership arrives, and the job.

- The link ``/paywall/r/<code>/`` (:mod:`wagtail_paywall.views.referrals`) keeps the code
  in the session (:func:`remember`) and sends the visitor to the pricing page, which shows
  the offer (:func:`offer`).
- The checkout view applies the offer when the friend entered no code
  (:func:`checkout_coupon`), passes ``referral=<code>`` to the provider as metadata and,
  for a membership's (recurring) price only, stores a claim for the friend
  (:func:`record_checkout`). Nothing more: the success page
  never grants.
- When the provider's event activates the friend's membership, this module's
  ``membership_activated`` hook turns the claim into a referral (one query when the
  member claimed nothing). Matching by member works alike on every provider.
- ``manage.py paywall_referrals`` (:func:`run`) decides and rewards.

See ``docs/referrals.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.http import HttpRequest

from membership_sdk import Coupon, CouponError, Membership, Price, hookimpl
from membership_sdk import referrals as core
from membership_sdk.discounts import check_coupon

from .. import conf
from ..formats import money
from ..models import DjangoReferrals
from ..program import get_program

#: The session key the link keeps the code under.
SESSION_KEY = "paywall_referral"
#: ``PAYWALL["REFERRALS"]`` keys and the policy fields they set.
KEYS = {
    "FRIEND_COUPON": "friend_coupon",
    "REWARD_PERCENT_OFF": "reward_percent_off",
    "REWARD_MONTHS": "reward_months",
    "QUALIFY_DAYS": "qualify_days",
    "MONTHLY_CAP": "monthly_cap",
    "REWARD_CODE": "reward_code",
    "CLAIM_DAYS": "claim_days",
}


def policy() -> core.ReferralPolicy | None:
    """The site's policy, or ``None`` when referrals are off (``PAYWALL["REFERRALS"]`` is
    empty, or ``{"ENABLED": False, ...}``).

    :raises ImproperlyConfigured: the setting is not a dict, has an unknown key or a
        value out of range (the system checks E036 and E037 say so at start-up).
    """
    given: Any = conf.get("REFERRALS")
    if not given:
        return None
    if not isinstance(given, dict):
        raise ImproperlyConfigured(
            f"PAYWALL['REFERRALS'] must be a dict of settings, got {given!r}"
        )
    unknown = sorted(set(given) - set(KEYS) - {"ENABLED"})
    if unknown:
        raise ImproperlyConfigured(
            f"PAYWALL['REFERRALS'] has unknown key(s) {unknown}; known: "
            f"{sorted([*KEYS, 'ENABLED'])}"
        )
    if given.get("ENABLED", True) is False:
        return None
    try:
        return core.ReferralPolicy(**{KEYS[k]: v for k, v in given.items() if k in KEYS})
    except core.ReferralError as exc:
        raise ImproperlyConfigured(f"PAYWALL['REFERRALS']: {exc}") from None


def enabled() -> bool:
    """Whether referrals are on (a valid setting that is not empty)."""
    try:
        return policy() is not None
    except ImproperlyConfigured:
        return False


def store() -> DjangoReferrals:
    return DjangoReferrals()


# -- the visitor's code ----------------------------------------------------------------------
def remember(request: HttpRequest, code: str) -> None:
    """Keep ``code`` (a member's, checked by the caller) in the visitor's session."""
    request.session[SESSION_KEY] = code


def claimed_code(request: HttpRequest) -> str | None:
    """The code the visitor's session keeps; no session is started to find out."""
    from django.conf import settings

    if settings.SESSION_COOKIE_NAME not in request.COOKIES:
        return None
    session = getattr(request, "session", None)
    code = session.get(SESSION_KEY) if session is not None else None
    return code if isinstance(code, str) and code else None


def same_person(referrer_id: str, friend_id: str) -> bool:
    """Whether two member ids are users with the same email address (a second account)."""
    users = get_user_model()._default_manager
    try:
        emails = {
            (email or "").strip().casefold()
            for email in users.filter(pk__in=[referrer_id, friend_id]).values_list(
                get_user_model().get_email_field_name(), flat=True
            )
        }
    except (ValidationError, ValueError, TypeError):  # ids that are no user's key
        return False
    return len(emails) == 1 and "" not in emails


def referrer_for(request: HttpRequest) -> str | None:
    """The member whose code the visitor claims, when they may take the offer: someone
    else, not the same person, who never had a paid membership (``None`` otherwise).
    Asked once per request."""
    cached: Any = getattr(request, "_paywall_referrer", False)
    if cached is not False:
        return str(cached) if cached is not None else None
    found = _referrer_for(request)
    request._paywall_referrer = found  # type: ignore[attr-defined]
    return found


def _referrer_for(request: HttpRequest) -> str | None:
    code = claimed_code(request)
    if code is None or not enabled():
        return None
    referrals = store()
    referrer = referrals.member_for_code(code)
    user: Any = getattr(request, "user", None)
    if referrer is None:
        return None
    if user is None or not user.is_authenticated:
        return referrer
    friend = str(user.pk)
    memberships = get_program().store.memberships
    if not core.may_claim(memberships, referrer, friend, same_person=same_person):
        return None
    return referrer


@dataclass(frozen=True, slots=True)
class Offer:
    """What the pricing page tells a referred visitor."""

    referrer_name: str
    coupon: Coupon | None
    description: str


def describe(coupon: Coupon) -> str:
    """``"50% off"`` / ``"€5.00 off"``, for ``once``, ``N months`` or ``ever``."""
    from django.utils.translation import gettext as _
    from django.utils.translation import ngettext

    if coupon.percent_off is not None:
        off = _("%(percent)s%% off") % {"percent": coupon.percent_off}
    else:
        off = _("%(amount)s off") % {
            "amount": money(coupon.amount_off or 0, coupon.currency or "EUR")
        }
    if coupon.duration.value == "forever":
        return _("%(off)s every period") % {"off": off}
    if coupon.duration.value == "repeating" and coupon.months:
        return ngettext(
            "%(off)s for the first month", "%(off)s for the first %(months)s months", coupon.months
        ) % {"off": off, "months": coupon.months}
    return _("%(off)s the first period") % {"off": off}


def offer(request: HttpRequest) -> Offer | None:
    """The referred visitor's offer for the pricing page; ``None`` when none applies."""
    referrer = referrer_for(request)
    if referrer is None:
        return None
    rules = policy()
    assert rules is not None
    coupon = get_program().catalog.coupon(rules.friend_coupon) if rules.friend_coupon else None
    users = get_user_model()._default_manager
    try:
        user = users.filter(pk=referrer).first()
    except (ValidationError, ValueError, TypeError):
        user = None
    name = ""
    if user is not None:
        name = (getattr(user, "get_full_name", lambda: "")() or "").strip()
        name = name or str(getattr(user, "get_username", lambda: "")())
    return Offer(name, coupon, describe(coupon) if coupon is not None else "")


# -- the friend's checkout -------------------------------------------------------------------
def checkout_coupon(request: HttpRequest, price: Price) -> str | None:
    """The friend's coupon for a checkout of ``price`` by a referred member who entered
    no code; ``None`` when the coupon is not good for this price or member (the checkout
    then goes on without it rather than refuse a code the member never typed)."""
    if referrer_for(request) is None:
        return None
    rules = policy()
    if rules is None or not rules.friend_coupon:
        return None
    program = get_program()
    user: Any = request.user
    try:
        coupon = check_coupon(
            program.catalog,
            rules.friend_coupon,
            price,
            now=program.clock(),
            first_time=True,
            member_id=str(user.pk),
        )
    except CouponError:
        return None
    if program.redemptions.redeemed(coupon.code, str(user.pk)):
        return None
    return coupon.code


def checkout_metadata(request: HttpRequest) -> dict[str, str]:
    """``{"referral": code}`` for a referred member's checkout (Stripe shows it)."""
    if referrer_for(request) is None:
        return {}
    code = claimed_code(request)
    return {"referral": code} if code else {}


def record_checkout(request: HttpRequest, member_id: str, price: Price) -> None:
    """Claim the visitor's code for ``member_id`` at a checkout of ``price``: their
    membership, when the provider's event brings it, is then attributed to the code's
    owner. Nothing without a code the member may take, and nothing for a one-off item's
    checkout (a membership the friend starts later without the link is not credited)."""
    if not price.recurring or referrer_for(request) is None:
        return
    code = claimed_code(request)
    assert code is not None
    store().save_claim(core.ReferralClaim(member_id, code, get_program().clock()))


@hookimpl
def membership_activated(membership: Membership, event: Any) -> None:
    """The friend's membership arrived: turn their claim into a referral (one query when
    they claimed nothing)."""
    if not membership.member_id:
        return
    try:
        rules = policy()
    except ImproperlyConfigured:
        return  # the system checks report it; a webhook must not fail over it
    if rules is None:
        return
    program = get_program()
    core.attribute(
        store(),
        program.store.memberships,
        membership,
        rules,
        program.clock(),
        same_person=same_person,
    )


# -- the job and the account page -------------------------------------------------------------
def run(now: datetime | None = None) -> core.ReferralRun:
    """Decide the pending referrals and reward the qualified ones (see
    :func:`membership_sdk.referrals.run_referrals`).

    :raises ImproperlyConfigured: referrals are off or misconfigured; nothing changed.
    """
    rules = policy()
    if rules is None:
        raise ImproperlyConfigured(
            "referrals are off: set PAYWALL['REFERRALS'] (see docs/referrals.md)"
        )
    return core.run_referrals(get_program(), store(), rules, now=now)
