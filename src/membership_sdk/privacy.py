"""Privacy: a member's data export and erasure, the parts any adapter needs.

- :func:`cancel_subscriptions` ends every live subscription of a member at its provider
  *before* anything is erased, and stops at the first provider that fails
  (:class:`ErasureBlocked`): an erasure never leaves a subscription charging a member
  the site no longer knows.
- :func:`pseudonym` and :func:`customer_digest` are keyed hashes: what an erasure keeps
  instead of a member id, and how later webhooks of an erased member's provider customer
  are recognised (:class:`ErasureLedger`) and ignored instead of re-creating their data.
- :func:`retained_invoice` is the invoicing-law policy: an issued invoice is kept (its
  number, amount, currency and dates; gapless numbering needs every one), with the
  member and customer replaced by the pseudonym; an open one is voided.
- :func:`export_document` builds the JSON-safe document a member downloads.

None of this is legal advice: see ``docs/privacy.md``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .errors import InvalidTransition, MembershipError, ProviderError
from .membership import TERMINAL, Membership
from .providers.manual import OPEN, VOID, Invoice

if TYPE_CHECKING:
    from .program import MembershipProgram

#: The ``format`` of :func:`export_document`'s document; bumped when its shape changes.
EXPORT_FORMAT = "membership-sdk/member-export/1"
#: The cancel reason stored on memberships an erasure cancels.
ERASURE_REASON = "erasure"
#: The invoice fields that name the member: replaced by the pseudonym or cleared.
INVOICE_PERSONAL_FIELDS = frozenset({"member_id", "customer_id", "idempotency_key"})


class ErasureBlocked(MembershipError):
    """A member's subscription could not be canceled at its provider, so nothing of the
    member was erased yet (subscriptions canceled before it stay canceled).

    :param provider: the provider that failed (or is not configured).
    :param membership_id: the membership whose subscription is still live.
    :param retryable: whether trying again later may succeed (an outage).
    """

    def __init__(self, message: str, *, provider: str, membership_id: str, retryable: bool) -> None:
        super().__init__(message)
        self.provider = provider
        self.membership_id = membership_id
        self.retryable = retryable


@runtime_checkable
class ErasureLedger(Protocol):
    """Which provider customers belonged to an erased member.

    A store that has one as its ``erasures`` attribute makes the program ignore a
    webhook of such a customer that carries a member id (a Stripe subscription's
    metadata, say) instead of linking the customer to the member again. This method
    MUST be implemented by adapters that erase members.
    """

    def is_erased(self, provider: str, customer_id: str) -> bool:
        """Whether ``customer_id`` of ``provider`` was an erased member's."""
        ...


def erased_customer(store: object, provider: str, customer_id: str) -> bool:
    """Whether ``store``'s ledger (its ``erasures`` attribute, if any) lists the customer."""
    ledger = getattr(store, "erasures", None)
    return isinstance(ledger, ErasureLedger) and ledger.is_erased(provider, customer_id)


def _digest(key: bytes, text: str) -> str:
    if not key:
        raise MembershipError("a pseudonym needs a non-empty key; got b''")
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def pseudonym(member_id: str, key: bytes) -> str:
    """What an erasure keeps instead of ``member_id``: ``erased-`` and a keyed hash.

    The same member and key give the same pseudonym (erasing twice finds the first
    erasure); without the key it cannot be traced back to the member.
    """
    if not member_id:
        raise MembershipError(f"cannot erase the member {member_id!r}: no member id")
    return "erased-" + _digest(key, f"member:{member_id}")[:32]


def customer_digest(provider: str, customer_id: str, key: bytes) -> str:
    """The keyed hash an :class:`ErasureLedger` keeps of an erased member's customer."""
    return _digest(key, f"customer:{provider}:{customer_id}")


def to_cancel(memberships: Sequence[Membership]) -> list[Membership]:
    """The memberships whose subscription an erasure must end at the provider: every one
    that has not ended and has a provider subscription."""
    return [m for m in memberships if m.status not in TERMINAL and m.provider_subscription_id]


def cancel_subscriptions(program: MembershipProgram, member_id: str) -> list[Membership]:
    """Cancel every live subscription of ``member_id`` now (``at_period_end=False``), on
    every provider, through ``program`` (so the lifecycle hooks fire as for any cancel).

    :returns: the memberships as the providers left them.
    :raises ErasureBlocked: a provider failed or is not configured; the memberships
        canceled before it stay canceled, the rest are untouched.
    """
    done: list[Membership] = []
    for membership in to_cancel(program.store.memberships.for_member(member_id)):
        if membership.provider not in program.providers:
            raise ErasureBlocked(
                f"cannot cancel subscription {membership.provider_subscription_id!r} of "
                f"membership {membership.id!r}: provider {membership.provider!r} is not "
                "configured on this site",
                provider=membership.provider,
                membership_id=membership.id,
                retryable=False,
            )
        try:
            done.append(program.cancel(membership.id, reason=ERASURE_REASON, at_period_end=False))
        except InvalidTransition:
            continue  # it ended meanwhile (a webhook): nothing left to cancel
        except ProviderError as exc:
            raise ErasureBlocked(
                f"{membership.provider} could not cancel subscription "
                f"{membership.provider_subscription_id!r} of membership {membership.id!r}: "
                f"{exc}",
                provider=membership.provider,
                membership_id=membership.id,
                retryable=exc.retryable or exc.code == "unreachable",
            ) from exc
    return done


def retained_invoice(invoice: Invoice, member_pseudonym: str) -> Invoice:
    """``invoice`` as an erasure keeps it: number, amounts, currency, dates, price and
    state as issued (invoicing law keeps issued invoices for years, and their numbers
    gapless); the member and customer replaced by ``member_pseudonym``; the idempotency
    key (which may name the member's checkout) cleared; an open invoice voided, since
    its subscription was canceled and nobody will pay it."""
    return dataclasses.replace(
        invoice,
        member_id=member_pseudonym,
        customer_id=member_pseudonym,
        idempotency_key="",
        state=VOID if invoice.state == OPEN else invoice.state,
    )


def json_value(value: Any) -> Any:
    """``value`` as JSON can carry it: times and dates in ISO 8601, enums by value,
    mappings and sequences recursively, bytes as text."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return json_value(value.value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_value(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def export_document(
    member_id: str,
    sections: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    exported_at: datetime,
) -> dict[str, Any]:
    """The document a member downloads: every section's rows, JSON-safe, under a
    ``format`` naming this layout. Sections are listed even when empty, so the member
    sees what is *not* held about them too."""
    return {
        "format": EXPORT_FORMAT,
        "member_id": member_id,
        "exported_at": exported_at.isoformat(),
        "data": {name: [json_value(dict(row)) for row in rows] for name, rows in sections.items()},
    }
