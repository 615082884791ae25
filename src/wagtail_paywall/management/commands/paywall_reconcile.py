"""``manage.py paywall_reconcile``: make the site's memberships match the provider's.

Webhooks can be lost (an endpoint down for longer than the provider retries, a secret
rotated too early, events never enabled). This command walks every subscription the
provider holds, ended ones too, page by page, and compares each with the site's
membership:

``unchanged``
    the membership already says what the provider says;
``created`` / ``updated``
    it was missing or differed, and the provider's current state was applied through
    the program, exactly as a webhook would be (lifecycle hooks fire, cached access is
    dropped); the inbox keeps a ``reconcile:<subscription>:<version>`` row for each;
``unknown customer``
    the site knows neither the customer nor a member id carried by the subscription;
``foreign price``
    the subscription sells a price this site's catalog does not have;
``not repaired``
    the program refused the change (an ended membership cannot start again, or the
    provider's state is not newer than the stored one); the line says why;
``vanished``
    a live membership (not canceled or expired) whose subscription the listing did not
    include, and which the provider, asked about it alone, says it no longer has: the
    program cancels it, access ending now (see
    :meth:`~membership_sdk.MembershipProgram.end_vanished_subscription`).

Live memberships are compared with the listing only after a run has listed every
subscription itself: an interrupted or resumed run ends nothing. A membership the
listing missed but the provider still has is reconciled with the provider's answer like
any listed one. More than ``--max-vanished`` at once (a wrong API key, another account)
ends none of them.

Each change is printed on stdout, a progress bar goes to stderr, and a summary ends the
run. ``--dry-run`` reports without changing anything. After every page the position is
saved in a state file; a run that stopped (Ctrl-C, the provider unreachable) continues
where it left off with ``--resume``. The file is removed when the listing completes.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from membership_sdk import BillingEvent, EventType, MembershipProgram, Outcome, ProviderError
from membership_sdk import Membership as CoreMembership
from membership_sdk.membership import TERMINAL
from membership_sdk.providers import ListedSubscription, Provider, SubscriptionListing

from ... import conf
from ...models import Membership
from ...program import get_program

CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"
UNKNOWN_CUSTOMER, FOREIGN_PRICE, NOT_REPAIRED = "unknown customer", "foreign price", "not repaired"
VANISHED = "vanished"
#: The order outcomes are reported in.
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

    ``unlisted_checked`` and ``refused`` describe this run only and are not saved:
    whether live memberships were compared with a complete listing, and why vanished
    subscriptions were left alone (empty when they were not).
    """

    provider: str
    cursor: str | None = None
    seen: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    unlisted_checked: bool = False
    refused: str = ""

    def save(self, path: Path) -> None:
        data = {
            "provider": self.provider,
            "cursor": self.cursor,
            "seen": self.seen,
            "counts": dict(self.counts),
        }
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(path)  # atomic: an interrupted save never leaves half a file

    @classmethod
    def load(cls, path: Path, provider: str) -> ReconcileState:
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise CommandError(f"nothing to resume: no state file {str(path)!r}") from None
        except ValueError as exc:
            raise CommandError(f"state file {str(path)!r} is not JSON: {exc}") from exc
        if data.get("provider") != provider:
            raise CommandError(
                f"state file {str(path)!r} belongs to provider {data.get('provider')!r}, "
                f"not {provider!r}"
            )
        return cls(provider, data.get("cursor"), int(data.get("seen", 0)), Counter(data["counts"]))


def _drift(membership: CoreMembership, listed: ListedSubscription, price_id: str) -> list[str]:
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
    """Compare one subscription with the site's membership and repair the difference."""
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
            occurred_at=timezone.now(),
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


def live_subscription_ids(provider: str) -> set[str]:
    """The subscription ids of ``provider``'s memberships that have not ended."""
    return set(
        Membership.objects.filter(provider=provider)
        .exclude(status__in=[str(s) for s in TERMINAL])
        .exclude(provider_subscription_id__isnull=True)
        .exclude(provider_subscription_id="")
        .values_list("provider_subscription_id", flat=True)
    )


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
    """End a vanished subscription's membership through the program (which asks again)."""
    try:
        result = program.end_vanished_subscription(provider, finding.subscription_id)
    except ProviderError as exc:
        return dataclasses.replace(finding, outcome=NOT_REPAIRED, detail=f"{finding.detail}; {exc}")
    if result.outcome is Outcome.APPLIED:
        return dataclasses.replace(finding, detail=f"{finding.detail}; canceled, access ends now")
    return dataclasses.replace(
        finding, outcome=NOT_REPAIRED, detail=f"{finding.detail}; {result.detail or result.outcome}"
    )


class Progress:
    """A one-line text progress bar on a terminal; a line per page elsewhere (logs)."""

    def __init__(self, out: TextIO, label: str, *, enabled: bool = True) -> None:
        self.out, self.label, self.enabled = out, label, enabled
        self.tty = enabled and out.isatty()

    def show(self, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        if total:
            filled = min(30, 30 * done // total)
            text = f"{self.label} [{'#' * filled}{'.' * (30 - filled)}] {done}/{total}"
        else:
            text = f"{self.label}: {done} subscription(s)"
        self.out.write(f"\r{text}" if self.tty else f"{text}\n")
        self.out.flush()

    def next_step(self, label: str) -> None:
        """Finish this bar's line and show a new bar under ``label`` from here on."""
        self.close()
        self.label = label

    def close(self) -> None:
        if self.tty:
            self.out.write("\n")
            self.out.flush()


def reconcile(
    provider: str,
    *,
    state_file: Path,
    resume: bool = False,
    dry_run: bool = False,
    page_size: int = 100,
    max_vanished: int = MAX_VANISHED,
    report: Callable[[Finding], None] = lambda finding: None,
    progress: Progress | None = None,
) -> ReconcileState:
    """Walk ``provider``'s subscriptions and repair drift; then, when this run listed
    them all itself, end live memberships whose subscription the provider no longer has
    (at most ``max_vanished``; more end none). Returns the final state.

    :raises CommandError: the provider is not configured or cannot list subscriptions,
        or it failed mid-way (the state file then holds the position to resume from).
    """
    program = get_program()
    if provider not in conf.providers() or provider not in program.providers:
        raise CommandError(
            f"no payment provider {provider!r} is configured; "
            f"PAYWALL['PROVIDERS'] has {sorted(conf.providers())}"
        )
    backend = program.providers[provider]
    if not isinstance(backend, SubscriptionListing):
        raise CommandError(f"provider {provider!r} cannot list its subscriptions to reconcile")
    state = ReconcileState.load(state_file, provider) if resume else ReconcileState(provider)
    if not dry_run:
        state.save(state_file)  # so a run stopped on its first page can resume too
    # Taken before the first page: a membership created during the run may belong to a
    # subscription on a page already listed. A resumed run never saw the earlier pages.
    unlisted = None if resume else live_subscription_ids(provider)
    while True:
        try:
            page = backend.list_subscriptions(after=state.cursor, limit=page_size)
        except ProviderError as exc:
            if not dry_run:
                state.save(state_file)
            raise CommandError(
                f"{exc} after {state.seen} subscription(s); run again with --resume "
                "to continue from there"
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
            state.save(state_file)
    if not dry_run:
        state_file.unlink(missing_ok=True)  # the listing is complete: nothing to resume
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
    """Ask about each live membership's unlisted subscription, then end the vanished ones."""
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
        state.refused = (
            f"{len(vanished)} live membership(s) have no subscription at {provider}, "
            f"more than --max-vanished {max_vanished}; none was ended. Check that the "
            f"provider's settings name the right account, then run again with "
            f"--max-vanished {len(vanished)}"
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


class Command(BaseCommand):
    help = (
        "Compare every subscription at the provider with the site's memberships and repair drift."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--provider", help="the provider to reconcile (default: PAYWALL's DEFAULT_PROVIDER)"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="report what would change; change nothing"
        )
        parser.add_argument(
            "--resume",
            action="store_true",
            help="continue a run that stopped, from the position in the state file",
        )
        parser.add_argument(
            "--state-file",
            help="where the position is kept between pages "
            "(default: .paywall_reconcile_<provider>.json in the current directory)",
        )
        parser.add_argument(
            "--page-size", type=int, default=100, help="subscriptions per request (default: 100)"
        )
        parser.add_argument(
            "--max-vanished",
            type=int,
            default=MAX_VANISHED,
            help="end at most this many memberships whose subscription the provider no "
            f"longer has; more end none (default: {MAX_VANISHED})",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        provider = options["provider"] or conf.get("DEFAULT_PROVIDER")
        state_file = Path(options["state_file"] or f".paywall_reconcile_{provider}.json")
        dry_run = options["dry_run"]
        verbosity = options.get("verbosity", 1)
        if not 1 <= options["page_size"] <= 100:
            raise CommandError(f"--page-size must be 1 to 100, got {options['page_size']}")
        if options["max_vanished"] < 0:
            raise CommandError(f"--max-vanished must be 0 or more, got {options['max_vanished']}")
        dry = "(dry run) " if dry_run else ""

        def report(finding: Finding) -> None:
            if finding.outcome == UNCHANGED and not finding.detail and verbosity < 2:
                return
            member = f" member {finding.member_id}" if finding.member_id else ""
            detail = f": {finding.detail}" if finding.detail else ""
            self.stdout.write(f"{dry}{finding.outcome}: {finding.subscription_id}{member}{detail}")

        stderr = getattr(self.stderr, "_out", sys.stderr)
        progress = Progress(
            stderr,
            f"Reconciling {provider}",
            enabled=verbosity >= 1 and not options["no_progress"],
        )
        try:
            state = reconcile(
                provider,
                state_file=state_file,
                resume=options["resume"],
                dry_run=dry_run,
                page_size=options["page_size"],
                max_vanished=options["max_vanished"],
                report=report,
                progress=progress,
            )
        except KeyboardInterrupt:
            if not dry_run and not state_file.exists():  # removed once the listing completed
                raise CommandError(
                    "interrupted while asking about unlisted subscriptions; every listed "
                    "one was reconciled. Run again (without --resume) to check the rest"
                ) from None
            raise CommandError(
                "interrupted; run again with --resume to continue from the last page"
            ) from None
        finally:
            progress.close()
        counts = ", ".join(f"{state.counts[o]} {o}" for o in OUTCOMES)
        self.stdout.write(f"{dry}Reconciled {state.seen} {provider} subscription(s): {counts}.")
        if not state.unlisted_checked:
            self.stdout.write(
                f"{dry}Live memberships were not checked against {provider}'s listing: a "
                "resumed run did not list every subscription itself. Run again without "
                "--resume to find subscriptions that vanished."
            )
        if state.refused:
            raise CommandError(state.refused)
