"""Gift emails: the buyer's code once the payment arrives, the recipient's code on the day
the buyer chose, and the holder's offer to subscribe before a redeemed gift ends.

A pluggy plugin the app registers on every site's program (like
:mod:`wagtail_paywall.billing.emails`): ``membership_gift_purchased`` sends what is due
at once, after the payment's transaction commits. The daily ``manage.py paywall_gifts``
(:func:`send_due`) sends the rest: codes due today, reminders of gifts ending soon, and
anything a failed send left behind.

Each email goes once per gift: a conditional ``UPDATE`` claims it (the column
``buyer_told_at``, ``delivered_at`` or ``reminded_at`` still empty) in the transaction
that sends it, so two runs at once send it once, and a send that fails rolls the claim
back for the next run. See ``docs/gifts.md``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation

from membership_sdk import GrantKind, hookimpl
from membership_sdk import gifts as core

from ..models import Gift, Grant
from .emails import _site_url, _tier_name, _user
from .language import member_language

logger = logging.getLogger(__name__)

#: How many days before a gift ends its holder is offered to subscribe.
ENDING_NOTICE_DAYS = 7


@dataclass
class Sent:
    """What one :func:`send_due` run sent."""

    buyers: int = 0
    recipients: int = 0
    reminders: int = 0


def _url(name: str, **query: str) -> str:
    try:
        path = reverse(name)
    except NoReverseMatch:
        return ""
    return _site_url(path + (f"?{urlencode(query)}" if query else ""))


def _claim(gift_id: str, column: str, now: datetime) -> bool:
    """Mark ``column`` of the gift sent, unless it was already; whether we did."""
    changed = Gift.objects.filter(Q(pk=gift_id) & Q(**{f"{column}__isnull": True})).update(
        **{column: now}
    )
    return changed == 1


def _send(kind: str, address: str, context: dict[str, Any]) -> None:
    context = {"site_name": getattr(settings, "WAGTAIL_SITE_NAME", ""), **context}
    # In the language of the member written to; a recipient who may have no account gets
    # the buyer's (docs/i18n.md).
    with translation.override(member_language(context.get("user") or context.get("buyer"))):
        subject = render_to_string(f"wagtail_paywall/email/{kind}_subject.txt", context)
        body = render_to_string(f"wagtail_paywall/email/{kind}.txt", context)
    send_mail(" ".join(subject.split()), body, None, [address])


def _context(row: Gift) -> dict[str, Any]:
    return {
        "gift": row,
        "tier_name": _tier_name(row.tier),
        "redeem_url": _url("paywall:gift_redeem", code=row.code),
        "account_url": _url("paywall:account"),
        "pricing_url": _url("paywall:pricing"),
    }


def tell_buyer(gift_id: str, now: datetime | None = None) -> bool:
    """Email the buyer their gift's code, once; ``False`` when it was sent before, the
    gift was refunded or the buyer has no address."""
    with transaction.atomic():
        row = Gift.objects.filter(pk=gift_id, refunded_at__isnull=True).first()
        user = _user(row.buyer_id) if row is not None else None
        address = getattr(user, "email", "") if user is not None else ""
        if row is None or not address or not _claim(row.pk, "buyer_told_at", now or timezone.now()):
            return False
        _send("gift_code", address, {"user": user, **_context(row)})
    return True


def deliver(gift_id: str, today: date | None = None, now: datetime | None = None) -> bool:
    """Email the recipient their code, once, when their day has come (no day: at once);
    ``False`` when it is not due, was sent, or the gift was redeemed or refunded."""
    today = today or timezone.localdate()
    with transaction.atomic():
        row = (
            Gift.objects.filter(pk=gift_id, refunded_at__isnull=True, redeemed_by="")
            .exclude(recipient_email="")
            .filter(Q(send_on__isnull=True) | Q(send_on__lte=today))
            .first()
        )
        if row is None or not _claim(row.pk, "delivered_at", now or timezone.now()):
            return False
        buyer = _user(row.buyer_id)
        _send("gift_received", row.recipient_email, {"buyer": buyer, **_context(row)})
    return True


def remind(grant: Grant, now: datetime | None = None) -> bool:
    """Offer the holder of a gift grant ending soon to subscribe, once per gift."""
    with transaction.atomic():
        row = Gift.objects.filter(source=grant.source, refunded_at__isnull=True).first()
        user = _user(grant.member_id)
        address = getattr(user, "email", "") if user is not None else ""
        if row is None or not address or not _claim(row.pk, "reminded_at", now or timezone.now()):
            return False
        _send("gift_ending", address, {"user": user, "ends_at": grant.ends_at, **_context(row)})
    return True


def send_due(
    *, now: datetime | None = None, notice: timedelta = timedelta(days=ENDING_NOTICE_DAYS)
) -> Sent:
    """Send every gift email that is due and was not sent (see the module's docstring)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    sent = Sent()
    paid = Gift.objects.filter(refunded_at__isnull=True)
    for pk in paid.filter(buyer_told_at__isnull=True).values_list("pk", flat=True):
        sent.buyers += _safely(tell_buyer, pk, now=now)
    due = (
        paid.filter(delivered_at__isnull=True, redeemed_by="")
        .exclude(recipient_email="")
        .filter(Q(send_on__isnull=True) | Q(send_on__lte=today))
    )
    for pk in due.values_list("pk", flat=True):
        sent.recipients += _safely(deliver, pk, today=today, now=now)
    reminded = paid.exclude(redeemed_by="").filter(reminded_at__isnull=True)
    ending = Grant.objects.filter(
        kind=GrantKind.GIFT,
        revoked_at__isnull=True,
        ends_at__gt=now,
        ends_at__lte=now + notice,
        source__in=reminded.values("source"),
    )
    for grant in ending:
        sent.reminders += _safely(remind, grant, now=now)
    return sent


def _safely(send: Any, *args: Any, **kwargs: Any) -> int:
    # One unreachable address or a mail server hiccup must not stop the others; the
    # claim was rolled back with the failed send, so the next run tries again.
    try:
        return int(send(*args, **kwargs))
    except Exception:
        logger.exception("sending a gift email (%s %s) failed", send.__name__, args[0])
        return 0


def _after_payment(gift_id: str) -> None:
    _safely(tell_buyer, gift_id)
    _safely(deliver, gift_id)


@hookimpl
def membership_gift_purchased(gift: core.Gift) -> None:
    """Email the buyer the code, and the recipient theirs if no later day was chosen."""
    transaction.on_commit(partial(_after_payment, gift.id), robust=True)
