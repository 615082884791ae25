"""Builders for the plan-change and pause tests: a catalog with two tiers sold monthly and
yearly through the ``fake`` and ``manual`` providers, a program on a settable clock, and
helpers that subscribe a member and deliver a provider's webhooks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from membership_sdk import (
    Catalog,
    Interval,
    Membership,
    MembershipProgram,
    MemoryStore,
    Price,
    Tier,
    get_plugin_manager,
)
from membership_sdk.memory import MemoryManualBilling
from membership_sdk.providers import Webhook
from membership_sdk.providers.fake import FakeProvider
from membership_sdk.providers.manual import ManualProvider

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class Clock:
    """The time of the providers and the program; a test moves it on."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def ids(name: str) -> dict[str, str]:
    return {"fake": f"fake_{name}", "manual": f"manual_{name}"}


def lifecycle_catalog() -> Catalog:
    """``basic`` (EUR 5 a month, 50 a year) and ``premium`` (EUR 15 a month, 150 a year),
    a premium price in USD, an archived one, and a one-off item."""
    return Catalog(
        tiers=[
            Tier("free", "Free", rank=0),
            Tier("basic", "Basic", rank=1, entitlements=("content.basic",)),
            Tier(
                "premium", "Premium", rank=2, entitlements=("content.basic", "content.premium")
            ),
        ],
        prices=[
            Price("basic-monthly", 500, "EUR", tier="basic", provider_ids=ids("bm")),
            Price("basic-yearly", 5000, "EUR", Interval.YEAR, tier="basic", provider_ids=ids("by")),
            Price("premium-monthly", 1500, "EUR", tier="premium", provider_ids=ids("pm")),
            Price("premium-yearly", 15000, "EUR", Interval.YEAR, tier="premium",
                  provider_ids=ids("py")),
            Price("premium-usd", 1600, "USD", tier="premium", provider_ids=ids("pu")),
            Price("premium-old", 1200, "EUR", tier="premium", provider_ids=ids("po"),
                  archived=True),
            Price("ebook", 900, "EUR", Interval.ONE_OFF, item="ebook", provider_ids=ids("eb")),
        ],
    )  # fmt: skip


def make_program(
    clock: Clock,
    billing: MemoryManualBilling | None = None,
    store: MemoryStore | None = None,
    plugins: tuple[object, ...] = (),
    **options: Any,
) -> MembershipProgram:
    # Webhooks are delivered when a test says so, maybe weeks of its clock later.
    common = {"clock": clock, "tolerance": 10**9}
    config = {
        "fake": {"secret": "whsec_fake", **common},
        "manual": {"secret": "whsec_manual", "store": billing or MemoryManualBilling(), **common},
    }
    return MembershipProgram(
        lifecycle_catalog(),
        store or MemoryStore(),
        pm=get_plugin_manager(plugins=plugins),
        provider_config=config,
        clock=clock,
        **options,
    )


def fake(program: MembershipProgram) -> FakeProvider:
    provider = program.providers["fake"]
    assert isinstance(provider, FakeProvider)
    return provider


def manual(program: MembershipProgram) -> ManualProvider:
    provider = program.providers["manual"]
    assert isinstance(provider, ManualProvider)
    return provider


def deliver(program: MembershipProgram, provider: str, *webhooks: Webhook) -> None:
    for webhook in webhooks:
        program.handle_webhook(provider, webhook.headers, webhook.body)


def deliver_outbox(program: MembershipProgram) -> None:
    """Deliver every webhook the fake service sent and empties its outbox."""
    service = fake(program)
    sent, service.outbox[:] = list(service.outbox), []
    deliver(program, "fake", *sent)


def subscribe(
    program: MembershipProgram, provider: str, price: str = "basic-monthly", member: str = "ann"
) -> Membership:
    session = program.start_checkout(
        member, price, provider=provider, success_url="/ok/", cancel_url="/no/", attempt=price
    )
    if provider == "fake":
        fake(program).complete_checkout(session.id)
        deliver_outbox(program)
    else:
        deliver(program, "manual", manual(program).confirm_payment(session.id))
    (found,) = [m for m in program.store.memberships.for_member(member) if m.price_id == price]
    return found


def current(program: MembershipProgram, membership: Membership) -> Membership:
    found = program.store.memberships.get(membership.id)
    assert found is not None
    return found
