"""Dunning on a Wagtail site: failed-payment episodes, and the retry schedule of the
providers that do not retry by themselves.

A pluggy plugin the app registers on every site's program (like
:mod:`wagtail_paywall.billing.emails`; block it with
``MEMBERSHIP_SDK_DISABLED_PLUGINS=wagtail_paywall.billing.dunning``). Its lifecycle hooks
keep one :class:`~wagtail_paywall.models.PaymentRecovery` row per episode:

- ``membership_payment_failed`` opens it (once: a membership has one open episode);
- ``membership_renewed`` (a payment arrived) closes it *recovered*, with the amount the
  payment brought in (the price's amount as :meth:`Membership.charged` says);
- ``membership_expired``, or ``membership_canceled`` ending the membership now, close it
  *lost*.

The core fires each hook once per real transition, so duplicated, late or reordered
webhooks change no episode twice.

:func:`run_dunning` (``manage.py paywall_dunning``, daily) works through the episodes whose
next attempt is due on the ``PAYWALL["DUNNING_RETRY_DAYS"]`` schedule: a provider with the
:class:`~membership_sdk.dunning.RetriesPayments` capability (``fake``) is asked to charge
again, and after a last failed retry the subscription is ended; the ``manual`` provider's
member gets a payment reminder for the open invoice. Providers that retry by themselves
(Stripe's Smart Retries) are only tracked. See ``docs/dunning.md``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from django.db import IntegrityError, transaction
from django.utils import timezone

from membership_sdk import (
    BillingEvent,
    Membership,
    ProviderError,
    Status,
    UnknownPrice,
    hookimpl,
)
from membership_sdk.dunning import EpisodeState, RetriesPayments, RetrySchedule
from membership_sdk.membership import GRANTING, TERMINAL
from membership_sdk.providers.base import Webhook
from membership_sdk.providers.manual import ManualProvider
from membership_sdk.providers.simulated import SimulatedService

from .. import conf
from ..models import Membership as MembershipRow
from ..models import PaymentRecovery, WebhookEvent
from ..program import get_program
from . import inbox
from .emails import send_membership_email
from .payment_method import open_invoice

logger = logging.getLogger(__name__)

#: What :func:`run_dunning` did about one episode.
RETRIED, REMINDED, ENDED, SETTLED, FAILED = "retried", "reminded", "ended", "settled", "failed"


def schedule() -> RetrySchedule:
    """The site's retry schedule (``PAYWALL["DUNNING_RETRY_DAYS"]``; a system check
    refuses a bad one at start-up)."""
    return RetrySchedule(conf.get("DUNNING_RETRY_DAYS"))


def runs_schedule(provider_name: str) -> bool:
    """Whether the site retries (or reminds) for ``provider_name``: it does for providers
    with the ``RetriesPayments`` capability and for bank transfers, never for a service
    that retries by itself."""
    provider = get_program().providers.get(provider_name)
    return isinstance(provider, (RetriesPayments, ManualProvider))


def _charged(membership: Membership, at: datetime) -> tuple[int, str]:
    """What one period of ``membership`` costs at ``at`` (minor units, currency)."""
    try:
        price = get_program().catalog.price(membership.price_id or "", include_archived=True)
    except UnknownPrice:
        return 0, ""
    return membership.charged(price.amount, at), price.currency


def _when(event: BillingEvent | None) -> datetime:
    return event.occurred_at if event is not None else timezone.now()


# -- the episodes, kept by the lifecycle hooks -------------------------------------------------
def open_episode(membership: Membership, at: datetime) -> PaymentRecovery | None:
    """Open ``membership``'s failed-payment episode at ``at``; ``None`` when one is open
    already (a second failure of the same episode, or a concurrent delivery)."""
    if PaymentRecovery.objects.filter(
        membership_id=membership.id, state=EpisodeState.OPEN
    ).exists():
        return None
    amount, currency = _charged(membership, at)
    first = schedule().next_attempt(at, 0) if runs_schedule(membership.provider) else None
    try:
        with transaction.atomic():  # a savepoint: losing the race leaves the caller's work
            return PaymentRecovery.objects.create(
                membership_id=membership.id,
                member_id=membership.member_id,
                provider=membership.provider,
                tier=membership.tier,
                failed_at=at,
                next_attempt_at=first,
                amount=amount,
                currency=currency,
            )
    except IntegrityError:  # another process opened it meanwhile
        return None


def close_episode(
    membership: Membership, outcome: EpisodeState, at: datetime
) -> PaymentRecovery | None:
    """Close ``membership``'s open episode as ``outcome`` (recovered: with the amount one
    period is charged); ``None`` when none is open."""
    with transaction.atomic():
        row = (
            PaymentRecovery.objects.select_for_update()
            .filter(membership_id=membership.id, state=EpisodeState.OPEN)
            .first()
        )
        if row is None:
            return None
        row.state = outcome
        row.closed_at = at
        row.next_attempt_at = None
        if outcome is EpisodeState.RECOVERED:
            row.recovered_amount, currency = _charged(membership, at)
            row.currency = currency or row.currency
        row.save()
        return row


@hookimpl
def membership_payment_failed(membership: Membership, event: BillingEvent | None) -> None:
    """Open the membership's failed-payment episode."""
    open_episode(membership, _when(event))


@hookimpl
def membership_renewed(membership: Membership, event: BillingEvent | None) -> None:
    """A payment arrived: the open episode, if any, is recovered."""
    close_episode(membership, EpisodeState.RECOVERED, _when(event))


@hookimpl
def membership_expired(membership: Membership, event: BillingEvent | None) -> None:
    """The membership ended: an episode still open is lost."""
    close_episode(membership, EpisodeState.LOST, _when(event))


@hookimpl
def membership_canceled(membership: Membership, event: BillingEvent | None) -> None:
    """Canceled at once while unpaid: lost (a cancellation at the period's end waits for
    the membership to end, or for the payment)."""
    if membership.status in TERMINAL:
        close_episode(membership, EpisodeState.LOST, _when(event))


# -- the schedule ------------------------------------------------------------------------------
@dataclass
class Attempt:
    """What :func:`run_dunning` did about one episode: ``action`` is ``"retried"``,
    ``"reminded"``, ``"ended"`` (a last retry failed too: the subscription was ended) or
    ``"settled"`` (the membership was not past due any more) or ``"failed"`` (the
    provider failed: ``error`` says how); ``rows`` are the inbox rows
    of the events the provider sent (stored, not processed yet)."""

    episode: PaymentRecovery
    action: str
    rows: list[WebhookEvent] = field(default_factory=list)
    error: str = ""


def _store(provider: str, webhook: Webhook) -> WebhookEvent:
    return inbox.receive(provider, webhook.headers, webhook.body)


def _still_failing(provider: str, webhook: Webhook) -> bool:
    """Whether the retry's ``webhook`` reports the subscription still past due."""
    events = get_program().providers[provider].parse_webhook(webhook.headers, webhook.body)
    return any(
        e.subscription is not None and e.subscription.status is Status.PAST_DUE for e in events
    )


def run_dunning(now: datetime | None = None) -> list[Attempt]:
    """Make every attempt due by ``now`` (default: now), one per episode and run, each in
    its own transaction with the episode locked, so two runs at once never retry twice.

    A provider failing (unreachable, say) fails that episode's attempt alone
    (``"failed"``, with the ``error``): it is not counted, and the next run makes it.
    """
    now = now or timezone.now()
    due = PaymentRecovery.objects.filter(
        state=EpisodeState.OPEN, next_attempt_at__lte=now
    ).order_by("next_attempt_at", "pk")
    attempts = []
    for pk in list(due.values_list("pk", flat=True)):
        try:
            attempt = _attempt(pk, now)
        except ProviderError as exc:
            # Rolled back: not counted, due again on the next run; the others go on.
            logger.warning("dunning attempt of episode %s failed: %s", pk, exc)
            attempt = Attempt(PaymentRecovery.objects.get(pk=pk), FAILED, error=str(exc))
        if attempt is not None:
            attempts.append(attempt)
    return attempts


def _attempt(pk: int, now: datetime) -> Attempt | None:
    program = get_program()
    plan = schedule()
    with transaction.atomic():
        row = (
            PaymentRecovery.objects.select_for_update()
            .filter(pk=pk, state=EpisodeState.OPEN, next_attempt_at__lte=now)
            .first()
        )
        if row is None:
            return None  # another run made it, or a payment closed it meanwhile
        found = MembershipRow.objects.filter(pk=row.membership_id).first()
        membership = found.to_core() if found is not None else None
        if membership is None or membership.status is not Status.PAST_DUE:
            return _settle(row, membership, now)
        provider = program.providers.get(row.provider)
        subscription = membership.provider_subscription_id or membership.id
        reminds = isinstance(provider, ManualProvider) and open_invoice(provider, membership)
        if not isinstance(provider, RetriesPayments) and not reminds:
            # Nothing this site can do (no open invoice, a provider no longer configured):
            # the provider decides how the episode ends.
            row.next_attempt_at = None
            row.save(update_fields=["next_attempt_at"])
            return None
        row.attempts += 1
        row.last_attempt_at = now
        row.next_attempt_at = plan.next_attempt(row.failed_at, row.attempts)
        row.save(update_fields=["attempts", "last_attempt_at", "next_attempt_at"])
        if not isinstance(provider, RetriesPayments):
            transaction.on_commit(
                partial(send_membership_email, "payment_reminder", membership), robust=True
            )
            return Attempt(row, REMINDED)
        webhook = provider.retry_payment(subscription)
        attempt = Attempt(row, RETRIED, [_store(row.provider, webhook)])
        if (
            plan.is_last(row.attempts)
            and isinstance(provider, SimulatedService)
            and _still_failing(row.provider, webhook)
        ):
            # As Stripe cancels after its last retry: the episode is lost.
            attempt.rows.append(_store(row.provider, provider.expire(subscription)))
            attempt.action = ENDED
        return attempt


def _settle(row: PaymentRecovery, membership: Membership | None, now: datetime) -> Attempt:
    """An episode whose membership is no longer past due (a hook was missed: the plugin
    was blocked for a while, say): closed as the membership now stands."""
    if membership is not None and membership.status in GRANTING:
        closed = close_episode(membership, EpisodeState.RECOVERED, now)
    elif membership is not None and membership.status not in TERMINAL:
        row.next_attempt_at = None  # paused, say: no attempt until it is past due again
        row.save(update_fields=["next_attempt_at"])
        closed = row
    else:
        row.state, row.closed_at, row.next_attempt_at = EpisodeState.LOST, now, None
        row.save()
        closed = row
    return Attempt(closed or row, SETTLED)
