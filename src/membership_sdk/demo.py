"""A short command-line walk-through of the SDK: ``python -m membership_sdk.demo``.

It uses the ``fake`` provider, so nobody pays anything: a catalog of tiers, a reader
meets the paywall, uses up free metered reads, subscribes, gets in, replays a webhook
(which changes nothing), cancels, and loses access when the paid period ends.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from .access import Decision, Metered, MinTier, Registered, Resource
from .catalog import Catalog, Interval, Price, Tier
from .currency import format_amount
from .entitlements import Entitlement
from .events import ApplyResult
from .hookspecs import hookimpl
from .membership import Membership
from .memory import MemoryStore
from .plugins import get_plugin_manager
from .program import MembershipProgram
from .providers.base import Webhook
from .providers.fake import FakeProvider

SITE = "https://news.example"


def demo_catalog() -> Catalog:
    """A free tier, a paid tier with a monthly and a yearly price, and their fake ids."""
    return Catalog(
        tiers=[
            Tier("free", "Free", rank=0, entitlements=(Entitlement("newsletter"),)),
            Tier(
                "premium",
                "Premium",
                rank=1,
                entitlements=(
                    Entitlement("content.premium"),
                    Entitlement.parse("downloads: 10 per month"),
                ),
            ),
        ],
        prices=[
            Price("premium-monthly", 900, "EUR", tier="premium", provider_ids={"fake": "price_m"}),
            Price(
                "premium-yearly",
                9000,
                "EUR",
                Interval.YEAR,
                tier="premium",
                provider_ids={"fake": "price_y"},
            ),
        ],
    )


PAGES = {
    "welcome": Resource("page:welcome", Registered()),
    "column-1": Resource("page:column-1", Metered(MinTier("premium"), free=2)),
    "column-2": Resource("page:column-2", Metered(MinTier("premium"), free=2)),
    "column-3": Resource("page:column-3", Metered(MinTier("premium"), free=2)),
    "deep-dive": Resource("page:deep-dive", MinTier("premium")),
}


class Narrator:
    """A plugin that tells what the lifecycle hooks report, as a mailer or CRM would hear it."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say

    def _tell(self, hook: str, membership: Membership) -> None:
        self.say(
            f"    [hook] {hook}: {membership.member_id} on {membership.tier}, "
            f"status {membership.status}"
        )

    @hookimpl
    def membership_activated(self, membership: Membership, event: object) -> None:
        self._tell("membership_activated", membership)

    @hookimpl
    def membership_renewed(self, membership: Membership, event: object) -> None:
        self._tell("membership_renewed", membership)

    @hookimpl
    def membership_canceled(self, membership: Membership, event: object) -> None:
        self._tell("membership_canceled", membership)

    @hookimpl
    def membership_expired(self, membership: Membership, event: object) -> None:
        self._tell("membership_expired", membership)


def explain(decision: Decision) -> str:
    """One line saying what a visitor sees and why."""
    if decision.allowed:
        text = f"allowed ({decision.reason})"
        if decision.remaining is not None:
            text += f", {decision.remaining} free read(s) left this month"
        return text
    text = f"denied ({decision.reason})"
    if decision.teaser:
        text += ", teaser shown"
    if decision.offers:
        text += ", offers: " + ", ".join(o.name for o in decision.offers)
    return text


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the walk-through, printing to ``out`` (standard output by default)."""
    stream = out if out is not None else sys.stdout

    def say(text: str = "") -> None:
        print(text, file=stream)

    def section(title: str) -> None:
        say()
        say(f"== {title} ==")

    catalog = demo_catalog()
    store = MemoryStore()
    pm = get_plugin_manager(plugins=[Narrator(say)], load_entrypoints=False)
    # Development mode: the fake provider signs with its public development secret.
    program = MembershipProgram(catalog, store, pm=pm, development=True)
    fake = program.providers["fake"]
    if not isinstance(fake, FakeProvider):  # pragma: no cover - a plugin replaced it
        raise SystemExit("the 'fake' provider is not the built-in one")

    def read(member: str | None, page: str) -> None:
        who = member or "anonymous"
        say(f"  {who:9} reads {page:9} -> {explain(program.access(PAGES[page], member))}")

    def deliver(webhook: Webhook) -> list[ApplyResult]:
        results = program.handle_webhook("fake", webhook.headers, webhook.body)
        for result in results:
            say(f"  webhook {result.event.id} ({result.event.type}): {result.outcome}")
        return results

    say("membership-sdk demo: a news site with a paywall, paid through the 'fake' provider.")

    section("The catalog")
    for tier in catalog.tiers:
        prices = catalog.prices_for_tier(tier.slug)
        cost = ", ".join(
            f"{format_amount(p.amount, p.currency)} {p.currency}/{p.interval}" for p in prices
        )
        entitlements = ", ".join(str(e) for e in tier.entitlements)
        say(f"  {tier.name} (rank {tier.rank}): {cost or 'free'}; {entitlements}")
    say("  Pages: welcome (registered), column-1..3 (premium, 2 free reads a month),")
    say("         deep-dive (premium only)")

    section("Before: an anonymous visitor, and alice with a free account")
    read(None, "welcome")
    read(None, "deep-dive")
    read("alice", "welcome")
    read("alice", "deep-dive")

    section("Metered reads: two free columns a month, each counted once")
    for page in ("column-1", "column-2", "column-3", "column-1"):
        read("alice", page)

    section("Alice subscribes to Premium (monthly) with the fake provider")
    session = program.start_checkout(
        "alice",
        "premium-monthly",
        provider="fake",
        success_url=f"{SITE}/welcome/",
        cancel_url=f"{SITE}/pricing/",
    )
    say(f"  checkout session {session.id}: pay at {session.url}")
    say(f"  memberships stored so far: {len(store.memberships.rows)}")
    say("  (returning to the success page grants nothing: access follows the webhook)")
    webhook = fake.complete_checkout(session.id)
    (created,) = deliver(webhook)
    membership = store.memberships.get(created.membership_id or "")
    assert membership is not None
    say(f"  alice's membership: {membership.status} on {membership.tier}")

    section("After: alice is a premium member")
    read("alice", "deep-dive")
    read("alice", "column-3")

    section("The same webhook, replayed twice, changes nothing")
    before = dict(store.memberships.rows)
    deliver(webhook)
    deliver(webhook)
    say(f"  memberships unchanged: {dict(store.memberships.rows) == before}")

    section("A month later the renewal is paid")
    subscription = membership.provider_subscription_id or ""
    deliver(fake.renew(subscription))

    section("Alice cancels (at the end of the paid period), and says why")
    canceled = program.cancel(membership.id, reason="not reading enough")
    say(
        f"  status {canceled.status}, cancel at period end: {canceled.cancel_at_period_end}, "
        f"reason: {canceled.cancel_reason!r}"
    )
    deliver(fake.outbox[-1])  # the provider's own webhook about the cancellation
    read("alice", "deep-dive")

    section("The paid period ends")
    deliver(fake.expire(subscription))
    read("alice", "deep-dive")
    read("alice", "column-1")

    say()
    say("Done. Every channel of a site asks the same decide() you saw above.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
