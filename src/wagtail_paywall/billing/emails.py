"""Lifecycle emails (welcome, payment failed, canceled, trial ending), sent through the
core's hooks after the change they report has committed.

A pluggy plugin the app registers on every site's program
(:data:`wagtail_paywall.program.adapter_plugins`); stop it with
``MEMBERSHIP_SDK_DISABLED_PLUGINS=wagtail_paywall.billing.emails``. Templates and their
context: ``docs/journey.md`` (emails).
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import translation
from wagtail.models import Site

from membership_sdk import BillingEvent, Membership, hookimpl

from ..program import get_program
from ..store import first_row
from .language import member_language
from .payment_method import payment_context

logger = logging.getLogger(__name__)

#: The emails this plugin sends, by the hook that triggers each.
KINDS = {
    "membership_activated": "welcome",
    "membership_payment_failed": "payment_failed",
    "membership_canceled": "canceled",
    "membership_trial_ending": "trial_ending",
}

#: Emails asking for a payment: they also say how to pay and until when access lasts
#: (:func:`~wagtail_paywall.billing.payment_method.payment_context`). ``payment_reminder``
#: is sent by the dunning schedule (:mod:`wagtail_paywall.billing.dunning`).
PAYMENT_KINDS = ("payment_failed", "payment_reminder")


def _user(member_id: str) -> Any:
    user_model = get_user_model()
    try:
        pk = user_model._meta.pk.to_python(member_id)
    except (ValueError, TypeError, ValidationError):
        return None  # a member id that is not a user's key (an organisation, say)
    if pk is None:
        return None
    # One read per e-mail sent, its SQL compiled once (see wagtail_paywall.store.first_row).
    return first_row(
        user_model,
        f"email_user:{user_model._meta.label}",
        lambda key: user_model._default_manager.filter(pk=key)[:1],
        pk,
    )


def _site_url(path: str) -> str:
    """``path`` on the default Wagtail site (emails are sent outside any request)."""
    site = Site.objects.filter(is_default_site=True).first()
    return f"{site.root_url.rstrip('/')}{path}" if site is not None else path


def _tier_name(slug: str) -> str:
    try:
        return get_program().catalog.tier(slug).name
    except LookupError:
        return slug


def send_membership_email(kind: str, membership: Membership) -> bool:
    """Render and send the ``kind`` email about ``membership``; ``False`` when the member
    has no user or no address."""
    user = _user(membership.member_id)
    email = getattr(user, "email", "") if user is not None else ""
    if not email:
        return False
    try:
        account_url = _site_url(reverse("paywall:account"))
    except NoReverseMatch:
        account_url = ""
    context = {
        "user": user,
        "membership": membership,
        "tier_name": _tier_name(membership.tier),
        "account_url": account_url,
        "site_name": getattr(settings, "WAGTAIL_SITE_NAME", ""),
    }
    # In the member's language (docs/i18n.md), payment instructions included.
    with translation.override(member_language(user)):
        if kind in PAYMENT_KINDS:
            context.update(payment_context(membership))
        subject = render_to_string(f"wagtail_paywall/email/{kind}_subject.txt", context)
        body = render_to_string(f"wagtail_paywall/email/{kind}.txt", context)
    send_mail(" ".join(subject.split()), body, None, [email])
    return True


def _send_after_commit(kind: str, membership: Membership) -> None:
    # robust: a mail server being down must not fail the webhook that was already stored.
    transaction.on_commit(partial(send_membership_email, kind, membership), robust=True)


@hookimpl
def membership_activated(membership: Membership, event: BillingEvent | None) -> None:
    """Welcome a new member (or one whose trial just began)."""
    _send_after_commit("welcome", membership)


@hookimpl
def membership_payment_failed(membership: Membership, event: BillingEvent | None) -> None:
    """Ask the member to update their payment method."""
    _send_after_commit("payment_failed", membership)


@hookimpl
def membership_canceled(membership: Membership, event: BillingEvent | None) -> None:
    """Confirm a cancellation, saying until when access lasts."""
    _send_after_commit("canceled", membership)


@hookimpl
def membership_trial_ending(membership: Membership, event: BillingEvent | None) -> None:
    """Tell the member their trial ends soon and the first payment follows."""
    _send_after_commit("trial_ending", membership)
