"""A member's data: the export they download, and their erasure (GDPR Art. 15, 17, 20).

Every table that holds something of a member is *declared* here once
(:func:`declare`): which of its rows are the member's, which section of the export they
go in, which columns stay out of it, and how an erasure treats them (delete, anonymise,
or keep pseudonymised). Export and erasure both walk the declarations, so they cannot
disagree; a test fails when a model with a ``member_id`` column is not declared.

Erasure (:func:`erase`) runs in a safe order: first every live subscription of the member
is canceled now at its provider (:func:`membership_sdk.privacy.cancel_subscriptions`);
if a provider fails, nothing is erased, the :class:`~wagtail_paywall.models.Erasure`
stays ``pending`` and ``manage.py paywall_erase_member --pending`` retries it. Then, in
one transaction, every declared row is deleted or anonymised, invoices are kept
pseudonymised, the member's provider customers are put on the erased list (so their
later webhooks are ignored) and the erasure is marked done. Erasing again changes
nothing. See ``docs/privacy.md`` (not legal advice).
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from membership_sdk import MembershipProgram, hookimpl
from membership_sdk.events import ApplyResult
from membership_sdk.privacy import (
    ErasureBlocked,
    cancel_subscriptions,
    export_document,
    retained_invoice,
)

from .caching import invalidate_member
from .models import (
    CustomerLink,
    DjangoErasures,
    Erasure,
    ManualCustomer,
    ManualInvoice,
    ManualSubscription,
    Membership,
    WebhookEvent,
)
from .models.privacy import member_pseudonym
from .models.referrals import erase_referrals
from .program import get_program

logger = logging.getLogger("wagtail_paywall.privacy")

#: The provider name the bank-transfer records (which do not name it) belong to.
MANUAL = "manual"


@dataclass(frozen=True)
class Subject:
    """The member an export or erasure is about, and the ids their rows are found by."""

    member_id: str
    #: The keyed hash kept on pseudonymised rows (invoices) and the erasure's record.
    pseudonym: str
    #: A random stand-in for anonymised rows: one per erasure, derived from nothing.
    anon: str
    membership_ids: frozenset[str]
    #: (provider, customer id) of every provider customer of the member.
    customers: frozenset[tuple[str, str]]
    #: (provider, subscription id) of every provider subscription of the member.
    subscriptions: frozenset[tuple[str, str]]
    #: The member's email addresses (their user's), for rows made without signing in.
    emails: frozenset[str] = frozenset()


Erase = Callable[[QuerySet[Any], Subject], None]


@dataclass(frozen=True)
class PersonalData:
    """How one model's rows of a member are exported and erased."""

    #: ``app_label.ModelName``; a model not installed is skipped.
    model: str
    #: The export's section the rows go in.
    section: str
    #: The member's rows.
    rows: Callable[[Subject], Q]
    #: What an erasure does to them.
    erase: Erase
    #: Columns never exported (secrets' digests, raw provider payloads).
    exclude: tuple[str, ...] = ()

    def model_class(self) -> type[models.Model] | None:
        try:
            return apps.get_model(self.model)
        except LookupError:
            return None


_declarations: dict[str, PersonalData] = {}


def declare(
    model: str | type[models.Model],
    section: str,
    erase: Erase,
    *,
    rows: Callable[[Subject], Q] | None = None,
    exclude: tuple[str, ...] = (),
) -> PersonalData:
    """Declare ``model``'s (a class, or an ``app_label.ModelName`` label) personal data:
    by default its rows whose ``member_id`` is the member's. Declaring a model again
    replaces its declaration."""
    if not isinstance(model, str):
        model = model._meta.label
    declaration = PersonalData(
        model=model,
        section=section,
        rows=rows or (lambda s: Q(member_id=s.member_id)),
        erase=erase,
        exclude=exclude,
    )
    _declarations[model.lower()] = declaration
    return declaration


def declarations() -> Iterator[tuple[type[models.Model], PersonalData]]:
    """Every declared model that is installed, with its declaration."""
    for declaration in _declarations.values():
        model = declaration.model_class()
        if model is not None:
            yield model, declaration


def declared(model: type[models.Model]) -> bool:
    return model._meta.label_lower in _declarations


# -- what an erasure does to rows ----------------------------------------------------------------
def delete(rows: QuerySet[Any], subject: Subject) -> None:
    """Delete the rows (signals fire per row: cached access is dropped)."""
    rows.delete()


def anonymise(**values: Any) -> Erase:
    """Keep the rows for the publisher's statistics, with ``values`` written over the
    columns that named the member; a value ``ANON`` is the erasure's random stand-in."""

    def run(rows: QuerySet[Any], subject: Subject) -> None:
        stand_in = {id(ANON): subject.anon, id(PSEUDONYM): subject.pseudonym}
        rows.update(**{k: stand_in.get(id(v), v) for k, v in values.items()})

    return run


#: Stands for the erasure's random stand-in in :func:`anonymise`.
ANON = object()
#: Stands for the member's pseudonym in :func:`anonymise`.
PSEUDONYM = object()


def _email_in(emails: Iterable[str], *, field: str = "email") -> Q:
    found = Q(pk__in=[])
    for email in emails:
        found |= Q(**{f"{field}__iexact": email})
    return found


def keep(rows: QuerySet[Any], subject: Subject) -> None:
    """Leave the rows to :func:`erase` itself (the erasure's own record)."""


def pseudonymise_invoices(rows: QuerySet[Any], subject: Subject) -> None:
    """Keep issued invoices as invoicing law requires, under the pseudonym (see
    :func:`membership_sdk.privacy.retained_invoice`)."""
    for row in rows:
        ManualInvoice.from_core(retained_invoice(row.to_core(), subject.pseudonym)).save()


def erase_gifts(rows: QuerySet[Any], subject: Subject) -> None:
    """Gifts the member bought stay redeemable by their recipient, who is told nothing of
    the buyer; a gift already redeemed or refunded loses the recipient's address and the
    message. A gift the member redeemed keeps a stand-in (never empty: the code must not
    become redeemable again) and loses the address and message."""
    done = Q(redeemed_at__isnull=False) | Q(refunded_at__isnull=False)
    rows.filter(redeemed_by=subject.member_id).update(
        redeemed_by=subject.anon[:64], recipient_email="", message=""
    )
    bought = rows.filter(buyer_id=subject.member_id)
    bought.filter(done).update(buyer_id="", recipient_email="", message="")
    bought.update(buyer_id="")
    # A gift sent to the member belongs to its buyer: it stays, without the member's
    # address (nor the buyer's message to them).
    rows.filter(_email_in(subject.emails, field="recipient_email")).update(
        recipient_email="", message=""
    )


def erase_gift_orders(rows: QuerySet[Any], subject: Subject) -> None:
    """The member's unpaid gift orders go; another buyer's order for a gift to the member
    stays theirs, without the member's address (nor the message to them)."""
    rows.filter(buyer_id=subject.member_id).delete()
    rows.filter(_email_in(subject.emails, field="recipient_email")).update(
        recipient_email="", message=""
    )


def scrub_webhooks(rows: QuerySet[Any], subject: Subject) -> None:
    """Drop the raw payloads and canonical events of the member's webhooks; the rows stay
    (with their event ids) so a redelivery is still recognised as a duplicate."""
    for row in rows:
        row.body = b""
        row.headers = {}
        row.events = []
        row.detail = "personal data erased"
        if row.status in (WebhookEvent.Status.RECEIVED, WebhookEvent.Status.FAILED):
            row.status = WebhookEvent.Status.IGNORED
        row.save(update_fields=["body", "headers", "events", "detail", "status"])


def _webhook_rows(subject: Subject) -> Q:
    """The inbox rows whose events or raw body name the member, a customer or a
    subscription of theirs (read in chunks: an erasure is rare, the inbox may be long)."""
    needles = {
        (provider, value.encode())
        for provider, value in subject.customers | subject.subscriptions
        if value
    }
    if not needles:
        return Q(pk__in=[])  # no customer, no subscription: no provider wrote about them
    found: list[int] = []
    rows = WebhookEvent.objects.filter(provider__in={p for p, _n in needles})
    for row in rows.only("pk", "provider", "events", "body").iterator(chunk_size=500):
        body = bytes(row.body)
        events = row.events if isinstance(row.events, list) else []
        text = json.dumps(events)
        mine = any(isinstance(e, dict) and e.get("member_id") == subject.member_id for e in events)
        if mine or any(p == row.provider and (n in body or n.decode() in text) for p, n in needles):
            found.append(row.pk)
    return Q(pk__in=found)


# -- the declarations ----------------------------------------------------------------------------
P = "wagtail_paywall."
declare(P + "Membership", "memberships", delete)
declare(P + "Grant", "grants", delete)
declare(P + "CustomerLink", "customer_links", delete)
declare(P + "MeterUsage", "meter_usage", delete)
declare(P + "CancellationFeedback", "cancellation_feedback", anonymise(member_id="", comment=""))
declare(
    P + "TrialReminder",
    "trial_reminders",
    delete,
    rows=lambda s: Q(membership_id__in=s.membership_ids),
)
declare(P + "FeedToken", "feed_tokens", delete, exclude=("token_digest",))
declare(P + "CouponRedemption", "coupon_redemptions", anonymise(member_id=ANON))
declare(
    P + "Gift",
    "gifts",
    erase_gifts,
    rows=lambda s: (
        Q(buyer_id=s.member_id)
        | Q(redeemed_by=s.member_id)
        | _email_in(s.emails, field="recipient_email")
    ),
)
declare(
    P + "GiftOrder",
    "gift_orders",
    erase_gift_orders,
    rows=lambda s: Q(buyer_id=s.member_id) | _email_in(s.emails, field="recipient_email"),
)
declare(P + "PaymentRecovery", "payment_recoveries", anonymise(member_id=ANON))
declare(P + "RetentionAttempt", "retention_attempts", anonymise(member_id="", detail=""))
declare(P + "ManualInvoice", "bank_transfer_invoices", pseudonymise_invoices)
declare(P + "ManualSubscription", "bank_transfer_subscriptions", delete)
declare(P + "ManualPurchase", "bank_transfer_purchases", delete)
declare(P + "ManualCustomer", "bank_transfer_customers", delete)
declare(P + "Erasure", "erasures", keep, exclude=("pseudonym",))
declare(
    P + "WebhookEvent",
    "webhook_events",
    scrub_webhooks,
    rows=_webhook_rows,
    exclude=("body", "headers"),
)
# Usage billing (issue 17, docs/usage.md): what was used and billed stays, anonymised.
declare(P + "UsagePeriod", "usage_periods", anonymise(member_id=ANON))
declare(P + "UsageRecord", "usage_records", anonymise(member_id=ANON))
# Know-your-members tables (issue 15): statistics keep anonymised rows.
declare(P + "ReadingActivity", "reading_activity", anonymise(member_id=ANON))
declare(P + "AtRisk", "at_risk", delete)
declare(P + "Attribution", "attributions", anonymise(member_id=ANON, checkout_id=""))
declare(P + "LedgerEntry", "ledger", anonymise(member_id=ANON, cancel_reason=""))
declare(P + "MemberCountry", "country", delete)
# Referrals (issue 17): the code and a pending claim go; a referral stays for the
# publisher's report with the erased member (referrer or friend) replaced.
declare(P + "ReferralCode", "referral_code", delete)
declare(P + "ReferralClaim", "referral_claims", delete, rows=lambda s: Q(friend_id=s.member_id))
declare(
    P + "Referral",
    "referrals",
    erase_referrals,
    rows=lambda s: Q(referrer_id=s.member_id) | Q(friend_id=s.member_id),
)
# Deliveries (issue 17): the address history goes; manifests keep their lines for the
# publisher's counts, without the address.
declare(P + "ShippingAddress", "shipping_addresses", delete)
# Loyalty (issue 17): the member's awards and their personal coupon codes go (a personal
# code is only the member's; other coupons have no member_id and are not theirs).
declare(P + "LoyaltyAward", "loyalty_awards", delete)
declare(P + "Coupon", "personal_coupons", delete, exclude=("provider_ids",))
# Services (issue 17, docs/services.md): requests stay counted for the publisher, without
# who asked or what they wrote.
declare(
    P + "ServiceRequest",
    "service_requests",
    anonymise(member_id=ANON, note="", staff_note="", closed_by=""),
)
declare(
    P + "DeliveryRecipient",
    "deliveries",
    anonymise(member_id=ANON, name="", line1="", line2="", postcode="", city=""),
)
declare(
    P + "CancellationDeclaration",
    "cancellation_declarations",
    # Kept as the record that a cancellation was received and what it ended; who sent it
    # is erased (the erasure itself ended every subscription).
    anonymise(member_id=PSEUDONYM, name="", email="", member_number="", reason=""),
    rows=lambda s: Q(member_id=s.member_id) | _email_in(s.emails),
)
declare(
    P + "PaywallExposure",
    "paywall_tests",
    anonymise(visitor=ANON),
    rows=lambda s: Q(visitor=f"m:{s.member_id}"),
)


# -- the subject -----------------------------------------------------------------------------
def _emails(member_id: str) -> frozenset[str]:
    User = get_user_model()
    field = User.get_email_field_name()
    try:
        found = User._default_manager.filter(pk=member_id).values_list(field, flat=True).first()
    except (ValueError, ValidationError):  # a member id that is no user pk
        return frozenset()
    return frozenset({found}) if found else frozenset()


def subject_for(member_id: str, emails: Iterable[str] = ()) -> Subject:
    """The member ``member_id``; ``emails`` adds addresses to their user's (a deleted
    user's, which can no longer be read)."""
    memberships = list(
        Membership.objects.filter(member_id=member_id).values_list(
            "id", "provider", "provider_customer_id", "provider_subscription_id"
        )
    )
    customers = {(p, c) for _i, p, c, _s in memberships if c}
    customers |= set(
        CustomerLink.objects.filter(member_id=member_id).values_list("provider", "customer_id")
    )
    customers |= {
        (MANUAL, c)
        for c in ManualCustomer.objects.filter(member_id=member_id).values_list(
            "customer_id", flat=True
        )
    }
    subscriptions = {(p, s) for _i, p, _c, s in memberships if s}
    subscriptions |= {
        (MANUAL, s)
        for s in ManualSubscription.objects.filter(member_id=member_id).values_list("id", flat=True)
    }
    return Subject(
        member_id=member_id,
        pseudonym=member_pseudonym(member_id),
        anon="anon-" + secrets.token_hex(12),
        membership_ids=frozenset(i for i, _p, _c, _s in memberships),
        customers=frozenset(customers),
        subscriptions=frozenset(subscriptions),
        emails=_emails(member_id) | {e for e in emails if e},
    )


# -- export ----------------------------------------------------------------------------------
def _row(row: models.Model, exclude: Iterable[str]) -> dict[str, Any]:
    skip = set(exclude)
    return {
        f.attname: getattr(row, f.attname)
        for f in row._meta.concrete_fields
        if f.name not in skip and f.attname not in skip
    }


def export(member_id: str) -> dict[str, Any]:
    """Everything the paywall holds about ``member_id``, one section per declared table
    (empty ones too), as a JSON-safe document. Secrets' digests and raw provider
    payloads stay out."""
    subject = subject_for(member_id)
    sections: dict[str, list[dict[str, Any]]] = {}
    for model, declaration in declarations():
        rows = model._default_manager.filter(declaration.rows(subject)).order_by("pk")
        sections.setdefault(declaration.section, []).extend(
            _row(row, declaration.exclude) for row in rows
        )
    return export_document(member_id, sections, exported_at=timezone.now())


# -- erasure ---------------------------------------------------------------------------------
def holds_data(member_id: str, emails: Iterable[str] = ()) -> bool:
    """Whether any declared table (but the inbox and the erasure record) has a row of
    ``member_id``."""
    subject = subject_for(member_id, emails)
    return any(
        model._default_manager.filter(declaration.rows(subject)).exists()
        for model, declaration in declarations()
        if model not in (WebhookEvent, Erasure)
    )


def erase(
    member_id: str,
    *,
    source: str,
    program: MembershipProgram | None = None,
    emails: Iterable[str] = (),
) -> Erasure:
    """Erase ``member_id``: cancel their subscriptions now, then delete, anonymise or
    pseudonymise every declared row of theirs (see the module's docstring).

    :returns: the erasure, ``done``.
    :raises ErasureBlocked: a provider could not cancel a subscription: nothing was
        erased; the erasure is kept ``pending`` (with the error) to be retried.
    """
    pseudonym = member_pseudonym(member_id)
    existing = Erasure.objects.filter(pseudonym=pseudonym).first()
    emails = tuple(emails)
    if (
        existing is not None
        and existing.state == Erasure.State.DONE
        and not holds_data(member_id, emails)
    ):
        return existing  # erased before, and nothing new since: nothing to change
    erasure, _created = Erasure.objects.get_or_create(
        pseudonym=pseudonym,
        defaults={"source": source, "requested_at": timezone.now(), "member_id": member_id},
    )
    erasure.member_id = member_id
    erasure.state = Erasure.State.PENDING
    erasure.attempts += 1
    # Kept while pending so a retry finds the rows made under them (a deleted user's
    # address can no longer be read); cleared once done.
    emails = tuple(sorted(set(emails) | set(erasure.emails or ())))
    erasure.emails = list(emails)
    try:
        cancel_subscriptions(program or get_program(), member_id)
    except ErasureBlocked as exc:
        erasure.last_error = str(exc)
        erasure.save()
        logger.warning("erasure %s is pending: %s", pseudonym, exc)
        raise
    with transaction.atomic():
        subject = subject_for(member_id, emails)
        ledger = DjangoErasures()
        for provider, customer_id in sorted(subject.customers):
            ledger.record(provider, customer_id)
        for model, declaration in declarations():
            rows = model._default_manager.filter(declaration.rows(subject))
            declaration.erase(rows, subject)
        erasure.member_id = ""
        erasure.emails = []
        erasure.state = Erasure.State.DONE
        erasure.completed_at = timezone.now()
        erasure.last_error = ""
        erasure.save()
    invalidate_member(member_id)
    transaction.on_commit(lambda: invalidate_member(member_id))
    return erasure


def erase_quietly(member_id: str, *, source: str, emails: Iterable[str] = ()) -> Erasure | None:
    """:func:`erase`, leaving a blocked erasure ``pending`` instead of raising (the user
    is being deleted: that must not fail for a provider's outage). A member of whom
    nothing is held leaves no record (``None``)."""
    emails = tuple(emails)
    if (
        not holds_data(member_id, emails)
        and not Erasure.objects.filter(member_id=member_id).exists()
    ):
        return None
    try:
        return erase(member_id, source=source, emails=emails)
    except ErasureBlocked:
        return Erasure.objects.get(pseudonym=member_pseudonym(member_id))


def retry_pending() -> tuple[list[Erasure], list[tuple[Erasure, ErasureBlocked]]]:
    """Retry every pending erasure: those now done, and those still blocked (why)."""
    done: list[Erasure] = []
    blocked: list[tuple[Erasure, ErasureBlocked]] = []
    for erasure in Erasure.objects.filter(state=Erasure.State.PENDING).order_by("requested_at"):
        try:
            done.append(erase(erasure.member_id, source=erasure.source, emails=erasure.emails))
        except ErasureBlocked as exc:
            blocked.append((erasure, exc))
    return done, blocked


# -- later webhooks ----------------------------------------------------------------------------
@hookimpl
def membership_event_ignored(result: ApplyResult) -> None:
    """A webhook of an erased member's customer was ignored (the program never links it
    again): once its inbox row is recorded, drop the row's payload too, so the inbox
    does not keep what the provider sent about the member (an invoice's email, say)."""
    event = result.event
    if not DjangoErasures().is_erased(event.provider, event.customer_id):
        return
    rows = WebhookEvent.objects.filter(provider=event.provider, event_id=event.id)
    transaction.on_commit(
        lambda: rows.update(body=b"", headers={}, events=[], detail="personal data erased")
    )
