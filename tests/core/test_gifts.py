"""Gift memberships: months of a tier bought once, redeemed by someone else with a code."""

from __future__ import annotations

import dataclasses
import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from membership_sdk import (
    BillingEvent,
    Catalog,
    CatalogError,
    GrantKind,
    Interval,
    MembershipProgram,
    MinTier,
    Outcome,
    Price,
    Resource,
    Tier,
    UnknownPrice,
)
from membership_sdk.gifts import (
    GiftAlreadyRedeemed,
    GiftError,
    GiftRefunded,
    UnknownGift,
    new_code,
    normalize_code,
)
from membership_sdk.memory import MemoryManualBilling, MemoryStore
from membership_sdk.providers.fake import FakeProvider
from membership_sdk.providers.manual import ManualProvider
from membership_sdk.testing import sample_program

NOW = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
GOLD = Resource("page:1", MinTier("gold"))
ATTEMPTS = itertools.count()


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def gift_price(months: int, provider: str, **extra: Any) -> Price:
    return Price(
        f"gift-{months}",
        900 * months,
        "EUR",
        Interval.ONE_OFF,
        tier="gold",
        gift_months=months,
        provider_ids={provider: f"{provider}_gift_{months}"},
        **extra,
    )


def catalog(provider: str) -> Catalog:
    return Catalog(
        tiers=[Tier("free", "Free"), Tier("gold", "Gold", rank=1)],
        prices=[
            Price("gold-monthly", 900, "EUR", tier="gold", provider_ids={provider: "gold_m"}),
            *(gift_price(m, provider) for m in (1, 3, 6, 12)),
        ],
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def program(clock: Clock) -> MembershipProgram:
    program = sample_program(
        catalog("fake"), config={"fake": {"secret": "whsec_test", "clock": clock}}
    )
    program.clock = clock
    return program


@pytest.fixture
def fake(program: MembershipProgram) -> FakeProvider:
    provider = program.providers["fake"]
    assert isinstance(provider, FakeProvider)
    return provider


def deliver(program: MembershipProgram, webhook: Any, provider: str = "fake") -> Outcome:
    (result,) = program.handle_webhook(provider, webhook.headers, webhook.body)
    return result.outcome


def buy(
    program: MembershipProgram,
    fake: FakeProvider,
    *,
    buyer: str = "ann",
    months: int = 3,
    **order: Any,
) -> Any:
    """``buyer`` pays a gift of ``months`` at the fake provider; returns the gift."""
    session = program.start_gift_checkout(
        buyer,
        f"gift-{months}",
        provider="fake",
        success_url="/ok/",
        cancel_url="/no/",
        attempt=str(next(ATTEMPTS)),
        **order,
    )
    assert deliver(program, fake.complete_checkout(session.id)) is Outcome.APPLIED
    return program.gifts.by_source(f"fake:{fake.checkout(session.id).result}")


# -- the catalog --------------------------------------------------------------------------------


@pytest.mark.parametrize("months", [0, 37, -1, True, "3", 2.5])
def test_a_gift_price_needs_a_whole_number_of_months_from_1_to_36(months: Any) -> None:
    with pytest.raises(CatalogError, match=r"price 'gift': gift_months must be a whole number"):
        Price("gift", 900, "EUR", Interval.ONE_OFF, tier="gold", gift_months=months)


@pytest.mark.parametrize(
    "fields",
    [{"interval": Interval.MONTH, "tier": "gold"}, {"interval": "one_off", "item": "report"}],
)
def test_a_gift_price_is_a_one_off_price_of_a_tier(fields: dict[str, Any]) -> None:
    with pytest.raises(CatalogError, match=r"price 'gift': a gift price sells months of a tier"):
        Price("gift", 900, "EUR", gift_months=3, **fields)


def test_gift_prices_are_never_offered_to_unlock_content_for_the_buyer() -> None:
    site = catalog("fake")

    assert [p.id for p in site.prices_for_tier("gold")] == ["gold-monthly"]
    assert [p.id for o in site.offers_from_rank(1) for p in o.prices] == ["gold-monthly"]
    assert [p.id for p in site.gift_prices("gold")] == ["gift-1", "gift-3", "gift-6", "gift-12"]


# -- codes --------------------------------------------------------------------------------------


def test_codes_are_long_random_and_never_repeat() -> None:
    codes = {new_code() for _ in range(2000)}

    assert len(codes) == 2000
    assert all(len(code) == 19 and code.count("-") == 3 for code in codes)


def test_a_code_typed_in_lower_case_with_spaces_is_the_same_code() -> None:
    assert normalize_code(" abcd efgh-jkmn  pqrs ") == "ABCD-EFGH-JKMN-PQRS"


# -- buying ---------------------------------------------------------------------------------------


def test_paying_for_a_gift_makes_a_gift_and_gives_the_buyer_no_access(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    gift = buy(
        program,
        fake,
        recipient_email="bo@example.com",
        send_on=date(2026, 3, 24),
        message="Happy birthday!",
    )

    assert (gift.tier, gift.months, gift.buyer_id) == ("gold", 3, "ann")
    assert (gift.recipient_email, gift.send_on, gift.message) == (
        "bo@example.com",
        date(2026, 3, 24),
        "Happy birthday!",
    )
    assert gift.redeemable
    assert gift.source.startswith("fake:pur_fake")
    assert not program.access(GOLD, "ann").allowed
    assert program.store.grants.for_member("ann") == []


def test_the_same_paid_purchase_reported_twice_makes_one_gift(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    session = program.start_gift_checkout(
        "ann", "gift-1", provider="fake", success_url="/ok/", cancel_url="/no/"
    )
    webhook = fake.complete_checkout(session.id)
    deliver(program, webhook)
    (event,) = fake.parse_webhook(webhook.headers, webhook.body)

    assert deliver(program, webhook) is Outcome.DUPLICATE
    assert program.apply(dataclasses.replace(event, id="evt_again")).outcome is Outcome.STALE
    assert len(program.gifts.bought_by("ann")) == 1


def test_a_gift_bought_without_the_gift_checkout_is_handed_to_the_buyer(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    session = program.start_checkout(
        "ann", "gift-6", provider="fake", success_url="/ok/", cancel_url="/no/"
    )
    deliver(program, fake.complete_checkout(session.id))

    (gift,) = program.gifts.bought_by("ann")
    assert (gift.months, gift.recipient_email, gift.send_on) == (6, "", None)


def test_each_paid_gift_takes_the_details_entered_for_it(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    first = buy(program, fake, recipient_email="bo@example.com")
    second = buy(program, fake, recipient_email="cy@example.com")

    assert (first.recipient_email, second.recipient_email) == ("bo@example.com", "cy@example.com")
    assert first.code != second.code


def test_two_open_gift_checkouts_of_one_price_paid_in_reverse_keep_their_recipients(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    def start(recipient: str, attempt: str) -> Any:
        return program.start_gift_checkout(
            "ann",
            "gift-3",
            provider="fake",
            success_url="/ok/",
            cancel_url="/no/",
            attempt=attempt,
            recipient_email=recipient,
        )

    for_alice = start("alice@example.com", "a")
    for_bob = start("bob@example.com", "b")
    deliver(program, fake.complete_checkout(for_bob.id))
    deliver(program, fake.complete_checkout(for_alice.id))

    def recipient(session: Any) -> str:
        gift = program.gifts.by_source(f"fake:{fake.checkout(session.id).result}")
        assert gift is not None
        return gift.recipient_email

    assert (recipient(for_alice), recipient(for_bob)) == ("alice@example.com", "bob@example.com")


@pytest.mark.parametrize(
    ("price", "order", "error", "message"),
    [
        ("gold-monthly", {}, GiftError, "price 'gold-monthly' is not a gift price"),
        ("gift-3", {"send_on": date(2026, 3, 9)}, GiftError, "'2026-03-09' is in the past"),
        ("gift-3", {"recipient_email": "bo at home"}, GiftError, "'bo at home' is not an email"),
        ("gift-9", {}, UnknownPrice, "unknown price 'gift-9'"),
    ],
)
def test_a_bad_gift_order_is_refused_and_stores_nothing(
    program: MembershipProgram,
    fake: FakeProvider,
    price: str,
    order: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message):
        program.start_gift_checkout(
            "ann", price, provider="fake", success_url="/ok/", cancel_url="/no/", **order
        )

    assert fake.sessions == {}
    assert program.gifts.take_order("ann", price, "") is None


def test_a_program_on_a_store_without_gifts_says_so() -> None:
    class NoGifts(MemoryStore):
        def __init__(self) -> None:
            super().__init__()
            del self.gifts

    program = sample_program(catalog("fake"), store=NoGifts())

    with pytest.raises(GiftError, match="NoGifts keeps no gifts"):
        program.redeem_gift("ABCD", "bo")


# -- redeeming ------------------------------------------------------------------------------------


def test_redeeming_gives_the_tier_until_the_months_are_over(
    program: MembershipProgram, fake: FakeProvider, clock: Clock
) -> None:
    gift = buy(program, fake, months=3)

    grant = program.redeem_gift(gift.code.lower(), "bo")

    assert (grant.kind, grant.tier, grant.ends_at) == (
        GrantKind.GIFT,
        "gold",
        datetime(2026, 6, 10, 8, 0, tzinfo=UTC),
    )
    assert program.access(GOLD, "bo").allowed
    clock.now = datetime(2026, 6, 10, 8, 0, tzinfo=UTC)
    assert not program.access(GOLD, "bo").allowed


def test_a_redeemed_gift_records_who_redeemed_it_and_when(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    gift = buy(program, fake)

    program.redeem_gift(gift.code, "bo")

    (held,) = program.gifts.redeemed_by("bo")
    assert (held.code, held.redeemed_by, held.redeemed_at) == (gift.code, "bo", NOW)


def test_an_unknown_code_is_refused_by_name(program: MembershipProgram) -> None:
    with pytest.raises(UnknownGift, match="no gift has the code 'ABCD-EFGH'"):
        program.redeem_gift("abcd efgh", "bo")


def test_a_code_redeems_once(program: MembershipProgram, fake: FakeProvider) -> None:
    gift = buy(program, fake)
    program.redeem_gift(gift.code, "bo")

    with pytest.raises(GiftAlreadyRedeemed, match="already redeemed"):
        program.redeem_gift(gift.code, "cy")

    assert program.store.grants.for_member("cy") == []
    assert program.access(GOLD, "bo").allowed


def test_a_buyer_may_redeem_their_own_gift(program: MembershipProgram, fake: FakeProvider) -> None:
    gift = buy(program, fake)

    program.redeem_gift(gift.code, "ann")

    assert program.access(GOLD, "ann").allowed


def test_members_redeeming_one_code_at_the_same_moment_get_one_grant(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    gift = buy(program, fake)
    start = threading.Barrier(8)

    def attempt(member: str) -> str:
        start.wait()
        try:
            program.redeem_gift(gift.code, member)
        except GiftAlreadyRedeemed:
            return "refused"
        return "redeemed"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(attempt, [f"m{i}" for i in range(8)]))

    assert sorted(outcomes) == ["redeemed"] + ["refused"] * 7
    grants = [g for i in range(8) for g in program.store.grants.for_member(f"m{i}")]
    assert len(grants) == 1


# -- refunds ---------------------------------------------------------------------------------------


def test_a_refunded_gift_can_no_longer_be_redeemed(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    gift = buy(program, fake)

    assert deliver(program, fake.refund(gift.source.split(":", 1)[1])) is Outcome.APPLIED

    with pytest.raises(GiftRefunded, match="was refunded"):
        program.redeem_gift(gift.code, "bo")
    assert program.store.grants.for_member("bo") == []


def test_a_refund_after_redeeming_takes_the_access_back(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    gift = buy(program, fake)
    program.redeem_gift(gift.code, "bo")

    deliver(program, fake.refund(gift.source.split(":", 1)[1]))

    assert not program.access(GOLD, "bo").allowed
    (grant,) = program.store.grants.for_member("bo")
    assert grant.revoked_at == NOW
    assert program.gifts.redeemed_by("bo")[0].refunded


def test_a_refund_arriving_before_the_payment_leaves_the_gift_refunded(
    program: MembershipProgram, fake: FakeProvider
) -> None:
    session = program.start_gift_checkout(
        "ann", "gift-1", provider="fake", success_url="/ok/", cancel_url="/no/"
    )
    paid = fake.complete_checkout(session.id)
    (purchase,) = fake.purchases
    refunded = fake.refund(purchase)

    deliver(program, refunded)
    assert deliver(program, paid) is Outcome.STALE

    (gift,) = program.gifts.bought_by("ann")
    with pytest.raises(GiftRefunded):
        program.redeem_gift(gift.code, "bo")


# -- on the manual provider -----------------------------------------------------------------------


def test_a_confirmed_bank_transfer_for_a_gift_makes_the_gift(clock: Clock) -> None:
    billing = MemoryManualBilling()
    program = sample_program(
        catalog("manual"),
        config={
            "manual": {
                "account_holder": "Die Zeitung GmbH",
                "iban": "DE89 3704 0044 0532 0130 00",
                "secret": "whsec_manual",
                "clock": clock,
                "store": billing,
            }
        },
    )
    program.clock = clock
    manual = program.providers["manual"]
    assert isinstance(manual, ManualProvider)
    invoice = program.start_gift_checkout(
        "ann",
        "gift-12",
        provider="manual",
        success_url="/ok/",
        cancel_url="/no/",
        recipient_email="bo@example.com",
    )
    assert program.gifts.bought_by("ann") == []

    assert deliver(program, manual.confirm_payment(invoice.id), "manual") is Outcome.APPLIED

    (gift,) = program.gifts.bought_by("ann")
    assert (gift.months, gift.recipient_email) == (12, "bo@example.com")
    grant = program.redeem_gift(gift.code, "bo")
    assert grant.ends_at == datetime(2027, 3, 10, 8, 0, tzinfo=UTC)


def test_a_gift_event_for_an_unknown_buyer_is_ignored(program: MembershipProgram) -> None:
    from membership_sdk import EventType, PurchaseSnapshot, PurchaseState

    event = BillingEvent(
        provider="fake",
        id="evt_1",
        type=EventType.PURCHASE_COMPLETED,
        occurred_at=NOW,
        purchase=PurchaseSnapshot("pur_1", "cus_nobody", "fake_gift_3", PurchaseState.PAID, 1),
    )

    result = program.apply(event)

    assert (result.outcome, result.detail) == (Outcome.IGNORED, "unknown customer 'cus_nobody'")
    assert program.gifts.by_source("fake:pur_1") is None


def test_redeeming_lasts_calendar_months(program: MembershipProgram, fake: FakeProvider) -> None:
    gift = buy(program, fake, months=1)
    program.clock = lambda: datetime(2026, 1, 31, tzinfo=UTC)

    grant = program.redeem_gift(gift.code, "bo")

    assert grant.ends_at is not None
    assert grant.ends_at - grant.starts_at == timedelta(days=28)


def test_plugins_hear_of_each_paid_gift_once(clock: Clock) -> None:
    from membership_sdk import hookimpl

    class Listener:
        def __init__(self) -> None:
            self.codes: list[str] = []

        @hookimpl
        def membership_gift_purchased(self, gift: Any) -> None:
            self.codes.append(gift.code)

    listener = Listener()
    program = sample_program(
        catalog("fake"),
        config={"fake": {"secret": "whsec_test", "clock": clock}},
        plugins=[listener],
    )
    fake = program.providers["fake"]
    assert isinstance(fake, FakeProvider)
    session = program.start_gift_checkout(
        "ann", "gift-3", provider="fake", success_url="/ok/", cancel_url="/no/"
    )
    webhook = fake.complete_checkout(session.id)

    deliver(program, webhook)
    deliver(program, webhook)

    assert listener.codes == [program.gifts.bought_by("ann")[0].code]


# -- metrics ---------------------------------------------------------------------------------------


def test_gift_holders_are_counted_apart_from_paying_members_and_never_in_mrr(
    program: MembershipProgram, fake: FakeProvider, clock: Clock
) -> None:
    from membership_sdk import metrics

    for member in ("bo", "cy"):
        program.redeem_gift(buy(program, fake).code, member)
    program.grant("dee", GrantKind.COMP, tier="gold", days=30)
    grants = list(program.store.grants.rows.values())  # type: ignore[attr-defined]

    assert metrics.gift_holders(grants, NOW) == {"gold": 2}
    assert metrics.mrr(program.store.memberships.for_member("bo"), program.catalog, NOW) == {}
    assert metrics.gift_holders(grants, datetime(2026, 6, 10, 8, 0, tzinfo=UTC)) == {}
