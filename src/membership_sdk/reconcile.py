"""Reconciling a site's memberships with what its provider holds.

Webhooks can be lost (an endpoint down for longer than the provider retries, a secret
rotated too early, events never enabled). :func:`reconcile` walks every subscription the
provider lists, ended ones too, page by page, and compares each with the stored
membership. Each comparison is a :class:`Finding` with one of these outcomes:

``unchanged``
    the membership already says what the provider says;
``created`` / ``updated``
    it was missing or differed, and the provider's current state was applied through
    the program, exactly as a webhook would be (lifecycle hooks fire, cached access is
    dropped); the inbox keeps a ``reconcile:<subscription>:<version>`` event for each;
``unknown customer``
    the site knows neither the customer nor a member id carried by the subscription;
``foreign price``
    the subscription sells a price this site's catalog does not have;
``not repaired``
    the program refused the change (an ended membership cannot start again, or the
    provider's state is not newer than the stored one); the detail says why;
``vanished``
    a live membership (not canceled or expired) whose subscription the listing did not
    include, and which the provider, asked about it alone, says it no longer has: the
    program cancels it, access ending now (see
    :meth:`~membership_sdk.MembershipProgram.end_vanished_subscription`).

Live memberships are compared with the listing only after a run has listed every
subscription itself: an interrupted or resumed run ends nothing. A membership the
listing missed but the provider still has is reconciled with the provider's answer like
any listed one. More than ``max_vanished`` at once (a wrong API key, another account)
ends none of them. A run's position is a :class:`ReconcileState`; the caller keeps it
between runs (``checkpoint``) and passes it back as ``resume_from``.

The provider must be able to list its subscriptions
(:class:`~membership_sdk.providers.SubscriptionListing`). The Wagtail adapter runs this as
``manage.py paywall_reconcile``; ``docs/stripe.md`` ("Reconciling with Stripe") shows it.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .errors import ProviderError, ReconcileError, ReconcileInterrupted
from .events import BillingEvent, EventType, Outcome
from .membership import TERMINAL, Membership
from .program import MembershipProgram
from .providers import ListedSubscription, Provider, SubscriptionListing

CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"
UNKNOWN_CUSTOMER, FOREIGN_PRICE, NOT_REPAIRED = "unknown customer", "foreign price", "not repaired"
VANISHED = "vanished"
#: Every outcome, in the order a summary reports them.
OUTCOMES = (CREATED, UPDATED, UNCHANGED, UNKNOWN_CUSTOMER, FOREIGN_PRICE, NOT_REPAIRED, VANISHED)
#: How many vanished subscriptions one run ends at most, unless told otherwise.
MAX_VANISHED = 25
_COMPARED = ("status", "current_period_end", "trial_end", "cancel_at_period_end", "canceled_at")


@dataclass(frozen=True, slots=True)
class Finding:
    """What reconciling one subscription found (and did, unless it was a dry run)."""

    outcome: str
    subscription_id: str
    member_id: str | None
    detail: str = ""


@dataclass(slots=True)
class ReconcileState:
    """Where a run stands: the provider, the cursor of the next page, counts so far.

    ``unlisted_checked``, ``too_many_vanished`` and ``refused`` describe this run only
    and are not saved: whether live memberships were compared with a complete listing,
    how many vanished subscriptions were left alone for being more than ``max_vanished``
    (0 when they were not), and why, in words for any caller (empty when they were not).
    """

    provider: str
    cursor: str | None = None
    seen: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    unlisted_checked: bool = False
    too_many_vanished: int = 0
    refused: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The position to save, JSON-safe: ``provider``, ``cursor``, ``seen``, ``counts``."""
        return {
            "provider": self.provider,
            "cursor": self.cursor,
            "seen": self.seen,
            "counts": dict(self.counts),
        }

    @classmethod
    def from_dict(
        cls, data: object, provider: str, *, source: str = "reconcile state"
    ) -> ReconcileState:
        """The state :meth:`to_dict` saved, for resuming a run with ``provider``.

        :param source: names the saved state in messages (a file, a cache key).
        :raises ReconcileError: ``data`` belongs to another provider or is not a saved
            state; the message names ``source`` and what is wrong.
        """
        if not isinstance(data, Mapping):
            raise ReconcileError(f"{source} must be a mapping, got {type(data).__name__}")
        if data.get("provider") != provider:
            raise ReconcileError(
                f"{source} belongs to provider {data.get('provider')!r}, not {provider!r}"
            )
        cursor, seen, counts = data.get("cursor"), data.get("seen", 0), data.get("counts")
        if cursor is not None and not isinstance(cursor, str):
            raise ReconcileError(f"{source}: 'cursor' must be a string or null, got {cursor!r}")
        if isinstance(seen, bool) or not isinstance(seen, int) or seen < 0:
            raise ReconcileError(f"{source}: 'seen' must be a count, got {seen!r}")
        if not isinstance(counts, Mapping) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
            for k, v in counts.items()
        ):
            raise ReconcileError(f"{source}: 'counts' must map outcomes to counts, got {counts!r}")
        return cls(provider, cursor, seen, Counter(counts))


class Progress(Protocol):
    """Shows how far a run is; a command's progress bar, a log, a web page."""

    def show(self, done: int, total: int | None) -> None:
        """``done`` of ``total`` (``None`` when the provider does not say) are done."""
        ...

    def next_step(self, label: str) -> None:
        """A new step starts, counted from zero under ``label``."""
        ...


def _drift(membership: Membership, listed: ListedSubscription, price_id: str) -> list[str]:
    """How the stored membership differs from the provider's subscription."""
    snap = listed.snapshot
    changes = [
        f"{name} {getattr(membership, name)!s} -> {getattr(snap, name)!s}"
        for name in _COMPARED
        if getattr(membership, name) != getattr(snap, name)
    ]
    if membership.price_id != price_id:
        changes.append(f"price {membership.price_id} -> {price_id}")
    return changes


def reconcile_one(
    program: MembershipProgram, provider: str, listed: ListedSubscription, *, dry_run: bool
) -> Finding:
    """Compare one subscription with its membership and, unless ``dry_run``, apply the
    provider's state through :meth:`~membership_sdk.MembershipProgram.apply`."""
    snap = listed.snapshot
    price = program.catalog.price_for_provider(provider, snap.price)
    if price is None or price.tier is None:
        return Finding(FOREIGN_PRICE, snap.id, None, f"price {snap.price!r} is not in the catalog")
    existing = program.store.memberships.by_provider_id(provider, snap.id)
    member = (
        existing.member_id
        if existing is not None
        else program.store.customers.member_for(provider, snap.customer_id) or listed.member_id
    )
    if member is None:
        return Finding(UNKNOWN_CUSTOMER, snap.id, None, f"customer {snap.customer_id!r}")
    if existing is not None:
        changes = _drift(existing, listed, price.id)
        if not changes:
            return Finding(UNCHANGED, snap.id, member)
        outcome, detail = UPDATED, "; ".join(changes)
    else:
        outcome, detail = CREATED, f"{price.tier} ({snap.status})"
    if dry_run:
        return Finding(outcome, snap.id, member, detail)
    result = program.apply(
        BillingEvent(
            provider=provider,
            id=f"reconcile:{snap.id}:{snap.version}",
            type=EventType.SUBSCRIPTION_UPDATED,
            occurred_at=program.clock(),
            subscription=snap,
            member_id=listed.member_id,
            data={"reconcile": True},
        )
    )
    if result.outcome is Outcome.APPLIED:
        return Finding(outcome, snap.id, member, detail)
    if result.outcome is Outcome.DUPLICATE:
        return Finding(NOT_REPAIRED, snap.id, member, "already reconciled at this version")
    return Finding(NOT_REPAIRED, snap.id, member, result.detail or str(result.outcome))


def check_unlisted(
    program: MembershipProgram,
    backend: Provider,
    provider: str,
    subscription_id: str,
    *,
    dry_run: bool,
) -> Finding | None:
    """Ask the provider about a live membership's subscription the listing did not include.

    Returns a ``vanished`` finding (nothing ended yet) when the provider has no such
    subscription; the finding of reconciling its answer when it has; ``None`` when the
    membership ended meanwhile (a webhook arrived during the run).
    """
    membership = program.store.memberships.by_provider_id(provider, subscription_id)
    if membership is None or membership.status in TERMINAL:
        return None
    member = membership.member_id
    try:
        current = backend.fetch_subscription(subscription_id)
    except ProviderError as exc:
        return Finding(NOT_REPAIRED, subscription_id, member, f"not listed, and {exc}")
    if current is not None:
        found = reconcile_one(program, provider, ListedSubscription(current), dry_run=dry_run)
        note = f"not listed, but {provider} still has it ({current.status})"
        detail = f"{note}; {found.detail}" if found.detail else note
        return dataclasses.replace(found, detail=detail)
    return Finding(
        VANISHED,
        subscription_id,
        member,
        f"membership {membership.id} ({membership.status}): {provider} has no such subscription",
    )


def end_vanished(program: MembershipProgram, provider: str, finding: Finding) -> Finding:
    """End a vanished subscription's membership through the program (which asks again);
    a refusal or a provider failure turns the finding into ``not repaired``."""
    try:
        result = program.end_vanished_subscription(provider, finding.subscription_id)
    except ProviderError as exc:
        return dataclasses.replace(finding, outcome=NOT_REPAIRED, detail=f"{finding.detail}; {exc}")
    if result.outcome is Outcome.APPLIED:
        return dataclasses.replace(finding, detail=f"{finding.detail}; canceled, access ends now")
    return dataclasses.replace(
        finding, outcome=NOT_REPAIRED, detail=f"{finding.detail}; {result.detail or result.outcome}"
    )


def check_all_unlisted(
    program: MembershipProgram,
    backend: Provider,
    state: ReconcileState,
    subscription_ids: list[str],
    *,
    dry_run: bool,
    max_vanished: int,
    report: Callable[[Finding], None],
    progress: Progress | None,
) -> None:
    """Ask about each live membership's unlisted subscription, then end the vanished
    ones; more than ``max_vanished`` end none and set ``state.too_many_vanished`` and
    ``state.refused``."""
    provider = state.provider
    state.unlisted_checked = True
    if progress is not None and subscription_ids:
        progress.next_step(f"Asking {provider} about unlisted subscriptions")
    vanished: list[Finding] = []
    for done, subscription_id in enumerate(subscription_ids, start=1):
        finding = check_unlisted(program, backend, provider, subscription_id, dry_run=dry_run)
        if progress is not None:
            progress.show(done, len(subscription_ids))
        if finding is None:
            continue
        if finding.outcome == VANISHED:
            vanished.append(finding)
            continue
        state.counts[finding.outcome] += 1
        state.seen += 1
        report(finding)
    if len(vanished) > max_vanished:
        # So many at once is more likely a wrong API key or account than lost webhooks.
        # No command-line flag here: each caller names its own way to raise the limit.
        state.too_many_vanished = len(vanished)
        state.refused = (
            f"{len(vanished)} live membership(s) have no subscription at {provider}, "
            f"more than the limit of {max_vanished}; none was ended. Check that the "
            f"provider's settings name the right account, then run again with a limit "
            f"of at least {len(vanished)}"
        )
    for finding in vanished:
        if state.refused:
            finding = dataclasses.replace(
                finding, outcome=NOT_REPAIRED, detail=f"{finding.detail}; too many vanished"
            )
        elif dry_run:
            finding = dataclasses.replace(finding, detail=f"{finding.detail}; would be canceled")
        else:
            finding = end_vanished(program, provider, finding)
        state.counts[finding.outcome] += 1
        report(finding)


def _ignore(_: object) -> None:
    return None


def listing_provider(program: MembershipProgram, provider: str) -> Provider:
    """``provider``'s backend, checked to be able to list its subscriptions.

    :raises ReconcileError: ``provider`` is not registered, or cannot list.
    """
    if provider not in program.providers:
        raise ReconcileError(
            f"no payment provider {provider!r} is registered; "
            f"the program has {sorted(program.providers)}"
        )
    backend = program.providers[provider]
    if not isinstance(backend, SubscriptionListing):
        raise ReconcileError(f"provider {provider!r} cannot list its subscriptions to reconcile")
    return backend


def reconcile(
    program: MembershipProgram,
    provider: str,
    *,
    resume_from: ReconcileState | None = None,
    dry_run: bool = False,
    page_size: int = 100,
    max_vanished: int = MAX_VANISHED,
    report: Callable[[Finding], None] = _ignore,
    progress: Progress | None = None,
    checkpoint: Callable[[ReconcileState | None], None] = _ignore,
) -> ReconcileState:
    """Walk ``provider``'s subscriptions and repair drift; then, when this run listed
    them all itself (no ``resume_from``), end live memberships whose subscription the
    provider no longer has (at most ``max_vanished``; more end none and set
    ``too_many_vanished`` and ``refused`` on the returned state). Returns the final
    state.

    :param resume_from: a state saved by ``checkpoint``; listing continues at its cursor
        and its counts go on; a resumed run ends nothing.
    :param dry_run: report what would change; change nothing.
    :param report: called with every finding, as it is made.
    :param progress: told how many subscriptions are done after each page.
    :param checkpoint: saves the position: called before the first page, after every
        page but the last, and when the provider fails mid-listing; called with ``None``
        once the listing completed (nothing is left to resume). Save the state as it is
        then (:meth:`ReconcileState.to_dict`): it changes as the run goes on. Never
        called in a dry run, which leaves a saved position alone.
    :raises ReconcileError: ``provider`` is not registered or cannot list its
        subscriptions, ``resume_from`` is another provider's, or ``page_size`` (1 or
        more) or ``max_vanished`` (0 or more) is out of range; nothing was done.
    :raises ReconcileInterrupted: the provider failed mid-listing; the exception carries
        the state to resume from (already passed to ``checkpoint``).
    """
    backend = listing_provider(program, provider)
    assert isinstance(backend, SubscriptionListing)  # checked by listing_provider
    if page_size < 1:
        raise ReconcileError(f"page_size must be 1 or more, got {page_size}")
    if max_vanished < 0:
        raise ReconcileError(f"max_vanished must be 0 or more, got {max_vanished}")
    if resume_from is None:
        state = ReconcileState(provider)
    elif resume_from.provider != provider:
        raise ReconcileError(
            f"the state to resume from belongs to provider {resume_from.provider!r}, "
            f"not {provider!r}"
        )
    else:
        state = ReconcileState(
            provider, resume_from.cursor, resume_from.seen, Counter(resume_from.counts)
        )
    if not dry_run:
        checkpoint(state)  # so a run stopped on its first page can resume too
    # Taken before the first page: a membership created during the run may belong to a
    # subscription on a page already listed. A resumed run never saw the earlier pages.
    unlisted = (
        None
        if resume_from is not None
        else program.store.memberships.live_subscription_ids(provider)
    )
    while True:
        try:
            page = backend.list_subscriptions(after=state.cursor, limit=page_size)
        except ProviderError as exc:
            if not dry_run:
                checkpoint(state)
            raise ReconcileInterrupted(
                f"{exc} after {state.seen} subscription(s)", state=state, error=exc
            ) from exc
        for listed in page.subscriptions:
            if unlisted is not None:
                unlisted.discard(listed.snapshot.id)
            finding = reconcile_one(program, provider, listed, dry_run=dry_run)
            state.counts[finding.outcome] += 1
            state.seen += 1
            report(finding)
        state.cursor = page.next_cursor
        if progress is not None:
            progress.show(state.seen, page.total)
        if state.cursor is None:
            break
        if not dry_run:
            checkpoint(state)
    if not dry_run:
        checkpoint(None)
    if unlisted is not None:
        check_all_unlisted(
            program,
            backend,
            state,
            sorted(unlisted),
            dry_run=dry_run,
            max_vanished=max_vanished,
            report=report,
            progress=progress,
        )
    return state
