"""Lawful cancellation in the adapter (``docs/cancellation.md``; not legal advice).

- :func:`declare` takes a declaration from the cancellation button's page (§312k BGB),
  records it as a
  :class:`~wagtail_paywall.models.CancellationDeclaration`, sets the memberships of the
  address given to end (never at once: an ordinary cancellation takes effect at the end
  of the period, or earlier under the Wet van Dam cap) and mails the confirmation, in
  text form, to the account's address.
- :func:`withdraw_membership` withdraws (Art. 11a): ended now, refunded where the
  provider can, confirmed by email. Without a login it needs the link the confirmation
  of a withdrawal declaration carries (:func:`withdrawal_token`).
- :func:`allow_declaration` and :func:`allow_mail` are the rate limits of the no-login
  page.
- :func:`retry_failed` tries again what a declaration failed to set to end
  (``paywall_lifecycle``).
- :func:`cancel_from_account` is the account page's cancellation, under the same rules.
- The plugin hooks: a new trial is set to end by itself (Wet van Dam), a new yearly plan
  to renew monthly (§309 Nr. 9 BGB), and a declaration for a later date is applied at
  the renewal whose period reaches it.

Registered on every site's program (:data:`wagtail_paywall.program.adapter_plugins`); each
rule acts only when its setting is on.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.cache import caches
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from membership_sdk import BillingEvent, Membership, MembershipError, hookimpl
from membership_sdk.cancellation import (
    TRIAL_ENDS_REASON,
    WITHDRAWAL_DAYS,
    CancellationRules,
    Withdrawal,
    can_withdraw,
    cancel_lawfully,
    earliest_end,
    renew_monthly,
    withdraw,
)
from membership_sdk.catalog import Interval
from membership_sdk.errors import UnknownPrice
from membership_sdk.membership import GRANTING, Status

from .. import conf
from ..models import CancellationDeclaration
from ..program import get_program

logger = logging.getLogger(__name__)

Kind = CancellationDeclaration.Kind
Outcome = CancellationDeclaration.Outcome
#: The salt of withdrawal links (a signature for nothing else opens them).
WITHDRAWAL_SALT = "wagtail_paywall.cancellation.withdrawal"


def rules() -> CancellationRules:
    """The rules the site's settings switch on."""
    wet_van_dam = conf.get("WET_VAN_DAM") is True
    return CancellationRules(
        notice_cap=wet_van_dam,
        trials_end=wet_van_dam,
        yearly_renews_monthly=conf.get("YEARLY_RENEWS_MONTHLY") is True,
    )


# -- the rate limit of the no-login page -----------------------------------------------------
def _count(cache: Any, kind: str, value: str, seconds: int) -> int:
    digest = hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()[:32]
    key = f"paywall:cancel-rate:{digest}"
    cache.add(key, 0, timeout=seconds)
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=seconds)
        return 1


def allow_declaration(client: str, email: str) -> bool:
    """Count one declaration from ``client`` (an IP address) for ``email``; ``False`` once
    the client has sent more than ``CANCELLATION_RATE_LIMIT`` allows in its window, in all
    or for this address. Keys are digests: the cache never holds an address.

    Nothing counted across clients refuses a declaration: a stranger elsewhere cannot
    keep a member from cancelling (see :func:`allow_mail`)."""
    count, seconds = conf.get("CANCELLATION_RATE_LIMIT")
    cache = caches[conf.get("CACHE_ALIAS")]
    address = email.strip().casefold()
    per_client = _count(cache, "ip", client, seconds)
    per_pair = _count(cache, "ip+email", f"{client} {address}", seconds)
    return per_client <= count and per_pair <= count


def allow_mail(email: str) -> bool:
    """Count one confirmation to ``email`` from any client; ``False`` once more than
    ``CANCELLATION_RATE_LIMIT`` allows were sent in its window. The declaration is then
    still recorded and applied, but no further mail goes out (the earlier ones confirmed
    it), so the page cannot be used to flood an address."""
    count, seconds = conf.get("CANCELLATION_RATE_LIMIT")
    cache = caches[conf.get("CACHE_ALIAS")]
    return _count(cache, "email", email.strip().casefold(), seconds) <= count


# -- declarations ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Declared:
    """What one membership of a declaration became: when it ends (``None``: not known,
    or pending a later date), and for a withdrawal declared without a login the link
    that carries it out."""

    membership: Membership
    tier_name: str
    ends_at: datetime | None
    pending: bool = False
    withdrawal_url: str = ""
    withdrawn: Withdrawal | None = None


def _users_with_email(email: str) -> list[Any]:
    user_model = get_user_model()
    field = user_model.get_email_field_name()
    users = user_model._default_manager.filter(**{f"{field}__iexact": email.strip()})
    return [u for u in users if getattr(u, "is_active", True)]


def _tier_name(slug: str | None) -> str:
    try:
        return get_program().catalog.tier(slug or "").name
    except LookupError:
        return slug or ""


def _site_url(path: str) -> str:
    from wagtail.models import Site

    site = Site.objects.filter(is_default_site=True).first()
    return f"{site.root_url.rstrip('/')}{path}" if site is not None else path


def withdrawal_token(declaration: CancellationDeclaration, membership_id: str) -> str:
    """A signed token that withdraws ``membership_id`` (see :func:`read_withdrawal_token`)."""
    return signing.dumps({"d": declaration.pk, "m": membership_id}, salt=WITHDRAWAL_SALT)


def read_withdrawal_token(token: str) -> tuple[int, str] | None:
    """The declaration id and membership id of a withdrawal link, or ``None`` for a
    forged, altered or expired one (links last the withdrawal period)."""
    try:
        data = signing.loads(token, salt=WITHDRAWAL_SALT, max_age=WITHDRAWAL_DAYS * 86400)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("m"), str):
        return None
    if not isinstance(data.get("d"), int):
        return None
    return data["d"], data["m"]


def declare(
    *,
    name: str,
    email: str,
    kind: str,
    member_number: str = "",
    contract: str = "",
    reason: str = "",
    wished_date: date | None = None,
    mail: bool = True,
) -> CancellationDeclaration:
    """Record a declaration and act on it; the confirmation mail follows the commit.

    Memberships are found by the email address (every active account with it; the
    member number is recorded, not trusted); ``contract`` narrows them to one tier. Each is set to
    end at :func:`~membership_sdk.cancellation.earliest_end` (an extraordinary
    cancellation too: the staff judges the reason), or at the renewal reaching
    ``wished_date`` when that is later; nothing ends at once. A withdrawal is set to end
    at the period's end too, and its confirmation carries the link that withdraws now
    (:func:`withdraw_membership`, as the account page's button does). With ``mail``
    false (the address's mail limit is reached, :func:`allow_mail`) no confirmation goes
    out.
    """
    program = get_program()
    now = program.clock()
    recipients = _users_with_email(email)
    members = [str(u.pk) for u in recipients]
    row = CancellationDeclaration(
        received_at=now,
        name=name,
        email=email,
        member_number=member_number,
        contract=contract,
        kind=kind,
        reason=reason,
        wished_date=wished_date,
        via_account=False,
        member_id=members[0] if len(members) == 1 else "",
        outcome=Outcome.NO_MATCH,
    )
    row.save()
    live = [
        m
        for member in members
        for m in program.store.memberships.for_member(member)
        if m.status in GRANTING and (not contract or m.tier == contract)
    ]
    done: list[Declared] = []
    failed: list[dict[str, Any]] = []
    for membership in live:
        try:
            done.append(_act(program, row, membership, now))
        except MembershipError as exc:
            logger.warning("declaration %s: %s was not set to end: %s", row.pk, membership.id, exc)
            failed.append(_failed_entry(membership, exc))
    if failed:
        row.outcome = Outcome.FAILED
    elif any(d.pending for d in done):
        row.outcome = Outcome.PENDING
    elif done:
        row.outcome = Outcome.APPLIED
    row.memberships = [_entry(d) for d in done] + failed
    row.save(update_fields=["outcome", "memberships"])
    # Only an account's own address is written to: the page answers every declaration
    # alike, and nobody learns from it whether an address holds a membership.
    if recipients and mail:
        for user in recipients:
            _mail_after_commit(user, "cancellation_received", row, done)
    return row


def _entry(d: Declared) -> dict[str, Any]:
    return {
        "membership": d.membership.id,
        "tier": d.membership.tier or "",
        "ends_at": d.ends_at.isoformat() if d.ends_at else "",
        "pending": d.pending,
    }


def _failed_entry(membership: Membership, exc: Exception) -> dict[str, Any]:
    """A membership the declaration could not set to end: :func:`retry_failed` tries it
    again until it is."""
    return {
        "membership": membership.id,
        "tier": membership.tier or "",
        "ends_at": "",
        "pending": False,
        "failed": True,
        "error": str(exc)[:500],
    }


def retry_failed(now: datetime | None = None) -> list[CancellationDeclaration]:
    """Try again every membership a declaration failed to set to end (outcome
    ``failed``), as :func:`declare` would have; ``paywall_lifecycle`` runs it hourly.

    A declaration is ``applied`` (or ``pending``) once none of its memberships is
    failing any more; the member is mailed each membership now set to end. One that
    ended meanwhile (the staff ended it by hand) needs nothing more. Returns the
    declarations completed by this run.
    """
    program = get_program()
    now = now or program.clock()
    completed: list[CancellationDeclaration] = []
    for row in CancellationDeclaration.objects.filter(outcome=Outcome.FAILED).order_by("pk"):
        entries: list[dict[str, Any]] = []
        done: list[Declared] = []
        for entry in row.memberships:
            if not entry.get("failed"):
                entries.append(entry)
                continue
            membership = program.store.memberships.get(str(entry.get("membership", "")))
            if membership is None or membership.status not in GRANTING:
                entries.append({**entry, "failed": False, "error": ""})
                continue
            try:
                declared = _act(program, row, membership, now)
            except MembershipError as exc:
                logger.warning(
                    "declaration %s: %s still not set to end: %s", row.pk, membership.id, exc
                )
                entries.append({**entry, "error": str(exc)[:500]})
                continue
            done.append(declared)
            entries.append(_entry(declared))
        row.memberships = entries
        if not any(e.get("failed") for e in entries):
            pending = any(e.get("pending") for e in entries)
            row.outcome = Outcome.PENDING if pending else Outcome.APPLIED
            completed.append(row)
        row.save(update_fields=["outcome", "memberships"])
        if done:  # what now ends when; the mail says if the staff must still finish
            member_ids = {d.membership.member_id for d in done}
            for user in [u for m in sorted(member_ids) for u in _users_by_id(m)]:
                _mail_after_commit(user, "cancellation_received", row, done)
    return completed


def _users_by_id(member_id: str) -> list[Any]:
    user_model = get_user_model()
    try:
        return list(user_model._default_manager.filter(pk=member_id)[:1])
    except (ValueError, TypeError):
        return []


def _act(
    program: Any, row: CancellationDeclaration, membership: Membership, now: datetime
) -> Declared:
    tier = _tier_name(membership.tier)
    if row.kind == Kind.WITHDRAWAL and can_withdraw(membership, row.received_at):
        # Without a login nothing ends at once: it ends at the period's end (harmless,
        # undone by resuming) until the link in the confirmation withdraws it.
        after = _end_lawfully(program, membership)
        url = _site_url(
            reverse("paywall:withdraw_confirm", args=[withdrawal_token(row, membership.id)])
        )
        return Declared(after, tier, after.current_period_end, withdrawal_url=url)
    try:
        price = program.catalog.price(membership.price_id or "", include_archived=True)
    except UnknownPrice:
        price = None
    earliest = earliest_end(membership, now, rules(), price)
    if row.wished_date is not None and earliest is not None and row.wished_date > earliest.date():
        return Declared(membership, tier, None, pending=True)
    after = _end_lawfully(program, membership)
    return Declared(after, tier, after.current_period_end)


def _end_lawfully(program: Any, membership: Membership) -> Membership:
    if membership.cancel_at_period_end:
        return membership  # already set to end
    return cancel_lawfully(program, membership.id, rules(), reason="cancellation_button")


def cancel_from_account(membership_id: str, reason: str) -> Membership:
    """The account page's cancellation: at the period's end, or under the Wet van Dam
    cap at most a month after now (:func:`~membership_sdk.cancellation.cancel_lawfully`).

    :raises InvalidTransition: the membership already ended.
    :raises ProviderError: the provider failed; nothing changed.
    """
    return cancel_lawfully(get_program(), membership_id, rules(), reason=reason)


def withdraw_membership(
    membership: Membership, *, declaration: CancellationDeclaration | None = None
) -> Withdrawal:
    """Withdraw from ``membership`` now (see :func:`membership_sdk.cancellation.withdraw`),
    record it (on ``declaration``, or a new one made while signed in) and mail the
    confirmation to the member.

    :raises OutsideWithdrawalPeriod: too late; nothing changed.
    :raises ProviderError: the provider failed to refund; nothing changed.
    """
    program = get_program()
    # Declared without a login: what counts is when the declaration was received, not
    # when its link is followed (the link lasts the withdrawal period).
    declared_at = declaration.received_at if declaration is not None else None
    withdrawn = withdraw(program, membership.id, declared_at=declared_at)
    users = _users_by_id(membership.member_id)
    if declaration is None:
        user = users[0] if users else None
        declaration = CancellationDeclaration.objects.create(
            received_at=program.clock(),
            name=(user.get_full_name() or user.get_username()) if user is not None else "",
            email=getattr(user, "email", "") or "",
            contract=membership.tier or "",
            kind=Kind.WITHDRAWAL,
            via_account=True,
            member_id=membership.member_id,
            outcome=Outcome.APPLIED,
        )
    entries = [e for e in declaration.memberships if e.get("membership") != membership.id]
    ended = withdrawn.membership.current_period_end or program.clock()
    entries.append(
        {
            "membership": membership.id,
            "tier": membership.tier or "",
            "ends_at": ended.isoformat(),
            "withdrawn": True,
            "refunded": withdrawn.refund is not None,
        }
    )
    declaration.memberships = entries
    declaration.outcome = Outcome.APPLIED
    declaration.save(update_fields=["memberships", "outcome"])
    done = [Declared(withdrawn.membership, _tier_name(membership.tier), ended, withdrawn=withdrawn)]
    for user in users:
        _mail_after_commit(user, "withdrawal_confirmed", declaration, done)
    return withdrawn


# -- the confirmation in text form -----------------------------------------------------------
def send_confirmation(
    user: Any, kind: str, declaration: CancellationDeclaration, done: list[Declared]
) -> bool:
    """Mail ``kind`` (``cancellation_received`` or ``withdrawal_confirmed``) about
    ``declaration`` to ``user``'s address; ``False`` when they have none."""
    email = getattr(user, "email", "") or ""
    if not email:
        return False
    try:
        account_url = _site_url(reverse("paywall:account"))
    except NoReverseMatch:
        account_url = ""
    context = {
        "user": user,
        "declaration": declaration,
        "received_at": timezone.localtime(declaration.received_at),
        "done": done,
        "account_url": account_url,
        "site_name": getattr(settings, "WAGTAIL_SITE_NAME", ""),
    }
    subject = render_to_string(f"wagtail_paywall/email/{kind}_subject.txt", context)
    body = render_to_string(f"wagtail_paywall/email/{kind}.txt", context)
    send_mail(" ".join(subject.split()), body, None, [email])
    return True


def _mail_after_commit(
    user: Any, kind: str, declaration: CancellationDeclaration, done: list[Declared]
) -> None:
    transaction.on_commit(partial(send_confirmation, user, kind, declaration, done), robust=True)


# -- the plugin: rules applied as memberships start and renew ---------------------------------
def _later(action: Any, what: str, membership: Membership) -> None:
    def run() -> None:
        try:
            action()
        except MembershipError as exc:
            # System check E022/E023 name the setting or the provider; the membership
            # keeps running as its provider bills it.
            logger.warning("%s of membership %s failed: %s", what, membership.id, exc)

    transaction.on_commit(run, robust=True)


@hookimpl
def membership_activated(membership: Membership, event: BillingEvent | None) -> None:
    """Wet van Dam: set a new trial to end by itself (the member confirms by resuming);
    §309 Nr. 9 BGB: make a new yearly plan renew on the monthly price."""
    current = rules()
    program = get_program()
    if (
        current.trials_end
        and membership.status is Status.TRIALING
        and not membership.cancel_at_period_end
    ):
        _later(
            partial(program.cancel, membership.id, reason=TRIAL_ENDS_REASON, at_period_end=True),
            "ending the trial",
            membership,
        )
    if current.yearly_renews_monthly and _is_yearly(program, membership):
        _later(partial(renew_monthly, program, membership.id), "monthly renewal", membership)


def _is_yearly(program: Any, membership: Membership) -> bool:
    try:
        price = program.catalog.price(membership.price_id or "", include_archived=True)
    except UnknownPrice:
        return False
    return bool(price.interval is Interval.YEAR)


@hookimpl
def membership_renewed(membership: Membership, event: BillingEvent | None) -> None:
    """Apply a declaration for a later date at the renewal whose period reaches it."""
    end = membership.current_period_end
    if end is None or membership.cancel_at_period_end:
        return
    pending = CancellationDeclaration.objects.filter(
        member_id=membership.member_id, outcome=Outcome.PENDING, wished_date__lte=end.date()
    )
    for row in pending:
        if not any(e.get("membership") == membership.id for e in row.memberships):
            continue

        def apply(row: CancellationDeclaration = row) -> None:
            program = get_program()
            after = program.cancel(membership.id, reason="cancellation_button", at_period_end=True)
            for entry in row.memberships:
                if entry.get("membership") == membership.id:
                    entry["pending"] = False
                    entry["ends_at"] = (after.current_period_end or end).isoformat()
            if not any(e.get("pending") for e in row.memberships):
                row.outcome = Outcome.APPLIED
            row.save(update_fields=["memberships", "outcome"])

        _later(apply, "a cancellation for a later date", membership)
