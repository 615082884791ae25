"""Usage-based add-ons: use beyond a tier's included quota, billed per unit."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from membership_sdk import (
    Catalog,
    CatalogError,
    Interval,
    MembershipProgram,
    Outcome,
    Price,
    ProviderError,
    Tier,
)
from membership_sdk.entitlements import Period, Quota
from membership_sdk.memory import MemoryManualBilling, MemoryStore
from membership_sdk.providers import UsageInvoicing, UsageReporting
from membership_sdk.providers.fake import FakeProvider
from membership_sdk.providers.manual import ManualProvider
from membership_sdk.testing import sample_program
from membership_sdk.usage import (
    MAX_PERIOD_UNITS,
    MAX_QUANTITY,
    MemoryUsage,
    NotEntitled,
    PeriodClosed,
    UnknownMeter,
    UsageBilling,
    UsageError,
    UsageLimitReached,
    UsageRate,
    UsageTerms,
    included_units,
    usage_prices,
)

NOW = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
ATTEMPTS = itertools.count()
DOWNLOADS = "datasets.download"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def catalog(provider: str, *, max_extra: int | None = None) -> Catalog:
    return Catalog(
        tiers=[
            Tier("free", "Free"),
            Tier("gold", "Gold", rank=1, entitlements=(f"{DOWNLOADS}: 10 per month",)),
            Tier("basic", "Basic", rank=1, entitlements=("content.premium",)),
        ],
        prices=[
            Price("gold-monthly", 900, "EUR", tier="gold", provider_ids={provider: "gold_m"}),
            Price("basic-monthly", 500, "EUR", tier="basic", provider_ids={provider: "basic_m"}),
        ],
        usage=[
            UsageRate(
                DOWNLOADS,
                50,
                "EUR",
                name="dataset downloads",
                max_extra=max_extra,
                provider_ids={"stripe": "price_metered"},
            )
        ],
    )


def make_program(provider: str, clock: Clock, **catalog_options: Any) -> MembershipProgram:
    config: dict[str, dict[str, Any]] = {
        "fake": {"secret": "whsec_fake", "clock": clock},
        "manual": {"secret": "whsec_manual", "clock": clock, "store": MemoryManualBilling()},
    }
    program = sample_program(catalog(provider, **catalog_options), config=config)
    program.clock = clock
    return program


def deliver(program: MembershipProgram, webhook: Any, provider: str = "fake") -> None:
    (result,) = program.handle_webhook(provider, webhook.headers, webhook.body)
    assert result.outcome is Outcome.APPLIED


def subscribe(program: MembershipProgram, member: str = "ann", price: str = "gold-monthly") -> str:
    """``member`` subscribes at the fake provider; returns the subscription id."""
    session = program.start_checkout(
        member, price, provider="fake", success_url="/ok/", cancel_url="/no/",
        attempt=str(next(ATTEMPTS)),
    )  # fmt: skip
    fake = program.providers["fake"]
    assert isinstance(fake, FakeProvider)
    deliver(program, fake.complete_checkout(session.id))
    result = fake.checkout(session.id).result
    assert result is not None
    return result


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def program(clock: Clock) -> MembershipProgram:
    return make_program("fake", clock)


@pytest.fixture
def fake(program: MembershipProgram) -> FakeProvider:
    provider = program.providers["fake"]
    assert isinstance(provider, FakeProvider)
    return provider


@pytest.fixture
def usage(program: MembershipProgram) -> UsageBilling:
    return UsageBilling(program, MemoryUsage())


def use(usage: UsageBilling, quantity: int = 1, member: str = "ann", **options: Any) -> Any:
    return usage.record(member, DOWNLOADS, quantity, f"use-{next(ATTEMPTS)}", **options)


# -- the rate ------------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", [0, -5, 1.5, True, "50"])
def test_a_rate_costs_a_positive_whole_number_of_minor_units(amount: Any) -> None:
    with pytest.raises(CatalogError, match=r"usage rate 'api.calls': unit_amount must be"):
        UsageRate("api.calls", amount, "EUR")


def test_a_rate_meters_an_entitlement_key() -> None:
    with pytest.raises(CatalogError, match=r"invalid entitlement key 'API calls'"):
        UsageRate("API calls", 10, "EUR")


def test_a_catalog_has_one_rate_per_meter() -> None:
    with pytest.raises(CatalogError, match=r"two usage rates for meter 'api.calls'"):
        Catalog(usage=[UsageRate("api.calls", 10, "EUR"), UsageRate("api.calls", 20, "EUR")])


@pytest.mark.parametrize(
    ("quota", "interval", "included"),
    [
        (None, Interval.MONTH, 0),
        (Quota(10, Period.MONTH), Interval.MONTH, 10),
        (Quota(10, Period.MONTH), Interval.YEAR, 120),
        (Quota(120, Period.YEAR), Interval.MONTH, 10),
        (Quota(2, Period.DAY), Interval.MONTH, 60),
    ],
)
def test_a_tier_includes_its_quota_per_billing_period(
    quota: Quota | None, interval: Interval, included: int
) -> None:
    assert included_units(quota, interval) == included


def test_a_checkout_of_a_tier_with_an_add_on_carries_its_metered_price() -> None:
    site = catalog("stripe")

    assert usage_prices(site, site.price("gold-monthly"), "stripe") == ("price_metered",)
    assert usage_prices(site, site.price("basic-monthly"), "stripe") == ()
    assert usage_prices(site, site.price("gold-monthly"), "fake") == ()


def test_a_yearly_plan_gets_the_yearly_metered_price_when_there_is_one() -> None:
    rate = UsageRate("api.calls", 2, "EUR", provider_ids={"stripe": "m", "stripe:year": "y"})
    site = Catalog(
        tiers=[Tier("pro", "Pro", rank=1, entitlements=("api.calls",))],
        prices=[
            Price("pro-m", 900, "EUR", tier="pro"),
            Price("pro-y", 9000, "EUR", Interval.YEAR, tier="pro"),
        ],
        usage=[rate],
    )

    assert usage_prices(site, site.price("pro-m"), "stripe") == ("m",)
    assert usage_prices(site, site.price("pro-y"), "stripe") == ("y",)


# -- recording ------------------------------------------------------------------------------------


def test_use_within_the_included_quota_costs_nothing(
    program: MembershipProgram, usage: UsageBilling
) -> None:
    subscribe(program)

    use(usage, 7)

    summary = usage.summary("ann", DOWNLOADS)
    assert summary is not None
    assert (summary.used, summary.included, summary.extra, summary.amount) == (7, 10, 0, 0)
    assert summary.name == "dataset downloads"
    assert summary.period_end == NOW.replace(month=4)


def test_use_beyond_the_quota_is_billed_per_unit(
    program: MembershipProgram, usage: UsageBilling
) -> None:
    subscribe(program)

    first = use(usage, 8)
    second = use(usage, 5)

    assert (first.extra, second.extra) == (0, 3)
    summary = usage.summary("ann", DOWNLOADS)
    assert summary is not None
    assert (summary.used, summary.extra, summary.amount, summary.currency) == (13, 3, 150, "EUR")


def test_a_retried_record_with_the_same_key_is_counted_once(
    program: MembershipProgram, usage: UsageBilling
) -> None:
    subscribe(program)

    first = usage.record("ann", DOWNLOADS, 4, "download-7")
    again = usage.record("ann", DOWNLOADS, 4, "download-7")

    assert again == first
    summary = usage.summary("ann", DOWNLOADS)
    assert summary is not None
    assert summary.used == 4


def test_a_quantity_above_the_most_a_record_takes_is_refused(
    program: MembershipProgram, usage: UsageBilling
) -> None:
    subscribe(program)

    with pytest.raises(UsageError, match=rf"from 1 to {MAX_QUANTITY}, got {MAX_QUANTITY + 1}"):
        use(usage, MAX_QUANTITY + 1)

    assert usage.summary("ann", DOWNLOADS).used == 0  # type: ignore[union-attr]


def test_a_period_counts_at_most_its_most_units_whatever_its_cap(
    program: MembershipProgram, usage: UsageBilling
) -> None:
    subscribe(program)
    for _ in range(MAX_PERIOD_UNITS // MAX_QUANTITY):
        use(usage, MAX_QUANTITY)

    with pytest.raises(UsageLimitReached, match=rf"\({MAX_PERIOD_UNITS} units\)"):
        use(usage, 1)


def test_a_key_reused_for_another_quantity_is_refused(
    program: MembershipProgram, usage: UsageBilling
) -> None:
    subscribe(program)
    usage.record("ann", DOWNLOADS, 4, "download-7")

    with pytest.raises(UsageError, match=r"'download-7' was used for 4 unit\(s\).*not 5"):
        usage.record("ann", DOWNLOADS, 5, "download-7")


@pytest.mark.parametrize("quantity", [0, -1, 1.5, True, "3", None])
def test_a_quantity_must_be_a_whole_number_of_at_least_one(
    program: MembershipProgram, usage: UsageBilling, quantity: Any
) -> None:
    subscribe(program)

    with pytest.raises(UsageError, match=r"must be a whole number from 1 to \d+, got"):
        usage.record("ann", DOWNLOADS, quantity, "k")
    assert usage.store.open_periods("ann") == []


@pytest.mark.parametrize("key", ["", "   ", "x" * 201, None])
def test_each_use_needs_an_idempotency_key(
    program: MembershipProgram, usage: UsageBilling, key: Any
) -> None:
    subscribe(program)

    with pytest.raises(UsageError, match=r"idempotency_key must be a non-empty string"):
        usage.record("ann", DOWNLOADS, 1, key)


def test_an_unknown_meter_is_refused_naming_the_known_ones(
    program: MembershipProgram, usage: UsageBilling
) -> None:
    subscribe(program)

    with pytest.raises(UnknownMeter, match=r"no usage rate for meter 'ai.summary'.*datasets"):
        usage.record("ann", "ai.summary", 1, "k")


def test_a_member_without_the_add_on_cannot_record_use(
    program: MembershipProgram, usage: UsageBilling
) -> None:
    subscribe(program, "bo", "basic-monthly")

    with pytest.raises(NotEntitled, match=r"member 'bo' has no membership whose tier includes"):
        usage.record("bo", DOWNLOADS, 1, "k")
    with pytest.raises(NotEntitled):
        usage.record("nobody", DOWNLOADS, 1, "k")
    assert usage.summaries("bo") == ()


def test_a_naive_time_is_refused(program: MembershipProgram, usage: UsageBilling) -> None:
    subscribe(program)

    with pytest.raises(UsageError, match=r"when must be an aware datetime"):
        use(usage, when=datetime(2026, 3, 11, 8, 0))


def test_use_before_the_current_period_is_refused(
    program: MembershipProgram, usage: UsageBilling
) -> None:
    subscribe(program)

    with pytest.raises(UsageError, match=r"before the current billing period of member 'ann'"):
        use(usage, when=NOW - timedelta(days=40))


def test_a_cap_on_extra_use_refuses_what_would_pass_it_and_records_nothing(
    clock: Clock,
) -> None:
    program = make_program("fake", clock, max_extra=5)
    usage = UsageBilling(program, MemoryUsage())
    subscribe(program)
    use(usage, 13)

    with pytest.raises(UsageLimitReached, match=r"10 included and 5 extra unit\(s\).*2 left"):
        use(usage, 3)
    use(usage, 2)
    summary = usage.summary("ann", DOWNLOADS)
    assert summary is not None
    assert (summary.used, summary.extra) == (15, 5)


def test_parallel_records_are_all_counted_and_never_pass_the_cap(clock: Clock) -> None:
    program = make_program("fake", clock, max_extra=20)
    usage = UsageBilling(program, MemoryUsage())
    subscribe(program)

    def one(i: int) -> bool:
        try:
            usage.record("ann", DOWNLOADS, 1, f"parallel-{i}")
        except UsageLimitReached:
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        taken = sum(pool.map(one, range(50)))

    summary = usage.summary("ann", DOWNLOADS)
    assert summary is not None
    assert taken == summary.used == 30


# -- periods --------------------------------------------------------------------------------------


def test_a_renewal_starts_a_new_period_with_the_full_quota(
    program: MembershipProgram, usage: UsageBilling, fake: FakeProvider, clock: Clock
) -> None:
    sub = subscribe(program)
    use(usage, 12)
    clock.now = NOW.replace(month=4)
    deliver(program, fake.renew(sub))

    use(usage, 3)

    summary = usage.summary("ann", DOWNLOADS)
    assert summary is not None
    assert (summary.used, summary.extra, summary.period_end) == (3, 0, NOW.replace(month=5))


def test_use_after_the_period_end_before_the_renewal_arrives_counts_in_the_next_period(
    program: MembershipProgram, usage: UsageBilling, clock: Clock
) -> None:
    subscribe(program)
    use(usage, 9)
    clock.now = NOW.replace(month=4) + timedelta(hours=1)  # within the grace period

    record = use(usage, 2)

    assert record.period_end == NOW.replace(month=5)
    assert record.extra == 0


# -- a closed period takes no more use ---------------------------------------------------------

END = datetime(2026, 1, 31, tzinfo=UTC)
TERMS = UsageTerms(
    membership_id="m1",
    member_id="u1",
    meter="api.calls",
    period_end=END,
    included=10,
    unit_amount=50,
    currency="EUR",
    provider="manual",
)


def test_a_closed_period_takes_no_more_use() -> None:
    store = MemoryUsage()
    store.record(TERMS, 14, "a", datetime(2026, 1, 20, tzinfo=UTC))
    (period,) = store.ended_periods(END)
    assert store.close_period(period.id, END, "INV-1")

    with pytest.raises(PeriodClosed, match=r"'u1' that ended 2026-01-31.*invoiced as INV-1"):
        store.record(TERMS, 6, "late", datetime(2026, 1, 30, tzinfo=UTC))

    (closed,) = store.periods.values()
    assert closed.used == 14
    assert len(store.records) == 1


def test_a_period_whose_count_is_frozen_for_billing_takes_no_more_use() -> None:
    store = MemoryUsage()
    store.record(TERMS, 14, "a", datetime(2026, 1, 20, tzinfo=UTC))
    (period,) = store.ended_periods(END)

    frozen = store.freeze_period(period.id, END)

    assert frozen is not None
    assert frozen.used == 14
    with pytest.raises(PeriodClosed):
        store.record(TERMS, 6, "late", datetime(2026, 1, 30, tzinfo=UTC))
    assert store.freeze_period(period.id, END) == frozen  # a later run bills the same count


def test_late_use_into_a_manual_period_already_invoiced_is_refused_and_not_counted(
    manual_program: MembershipProgram, clock: Clock
) -> None:
    usage = UsageBilling(manual_program, MemoryUsage())
    manual_subscribe(manual_program)
    use(usage, 14)
    clock.now = NOW.replace(month=4, hour=9)
    (reference,) = usage.close_periods().invoices

    with pytest.raises(PeriodClosed, match=rf"invoiced as {reference}"):
        use(usage, 6, when=NOW.replace(month=4) - timedelta(minutes=1))

    manual = manual_program.providers["manual"]
    assert isinstance(manual, ManualProvider)
    assert [i.amount for i in manual.store.invoices() if i.usage] == [200]


def test_use_that_lands_while_the_invoice_fails_is_refused_and_the_retry_bills_the_count(
    manual_program: MembershipProgram, clock: Clock
) -> None:
    usage = UsageBilling(manual_program, MemoryUsage())
    manual_subscribe(manual_program)
    use(usage, 14)
    clock.now = NOW.replace(month=4, hour=9)
    manual = manual_program.providers["manual"]
    assert isinstance(manual, ManualProvider)
    manual.simulate_outage()
    assert usage.close_periods().failed == 1

    with pytest.raises(PeriodClosed):
        use(usage, 6, when=NOW.replace(month=4) - timedelta(minutes=1))
    manual.simulate_outage(None)

    (reference,) = usage.close_periods().invoices
    assert manual.invoice(reference).amount == 200


# -- billing on the fake provider -----------------------------------------------------------------


def test_the_fake_provider_bills_extra_use_with_the_next_renewal(
    program: MembershipProgram, usage: UsageBilling, fake: FakeProvider, clock: Clock
) -> None:
    sub = subscribe(program)
    assert isinstance(fake, UsageReporting)
    use(usage, 8)
    use(usage, 4)
    use(usage, 1)

    clock.now = NOW.replace(month=4)
    deliver(program, fake.renew(sub))

    (invoice,) = fake.usage_invoices
    assert (invoice.subscription, invoice.amount) == (sub, 150)
    assert [line.quantity for line in invoice.lines] == [2, 1]
    assert fake.latest_payment[sub] == 900 + 150
    fake.renew(sub)
    assert fake.latest_payment[sub] == 900


def test_a_retried_report_bills_the_rate_the_member_was_shown_not_todays(
    program: MembershipProgram, usage: UsageBilling, fake: FakeProvider, clock: Clock
) -> None:
    sub = subscribe(program)
    fake.simulate_outage()
    record = use(usage, 12)  # 2 extra at 0.50, as the account page shows
    fake.simulate_outage(None)
    program.catalog = make_program("fake", clock).catalog.__class__(
        tiers=program.catalog.tiers,
        prices=program.catalog.prices,
        usage=[UsageRate(DOWNLOADS, 500, "EUR", name="dataset downloads")],
    )

    assert usage.report_pending().reported == 1
    clock.now = NOW.replace(month=4)
    deliver(program, fake.renew(sub))

    assert record.unit_amount == 50
    (invoice,) = fake.usage_invoices
    assert invoice.amount == 100


def test_extra_use_of_the_last_period_of_a_subscription_canceled_at_its_end_is_billed(
    program: MembershipProgram, usage: UsageBilling, fake: FakeProvider, clock: Clock
) -> None:
    sub = subscribe(program)
    use(usage, 20)  # 10 extra
    fake.cancel_subscription(sub, at_period_end=True)
    clock.now = NOW.replace(month=4)

    deliver(program, fake.expire(sub))

    (invoice,) = fake.usage_invoices
    assert (invoice.subscription, invoice.amount, invoice.final) == (sub, 500, True)
    assert fake.usage_due == {}


def test_extra_use_of_a_subscription_canceled_now_is_billed_at_once(
    program: MembershipProgram, usage: UsageBilling, fake: FakeProvider
) -> None:
    sub = subscribe(program)
    use(usage, 13)

    fake.cancel_subscription(sub, at_period_end=False)

    (invoice,) = fake.usage_invoices
    assert (invoice.amount, invoice.final) == (150, True)


def test_a_report_retried_after_the_subscription_ended_is_billed_at_once(
    program: MembershipProgram, usage: UsageBilling, fake: FakeProvider, clock: Clock
) -> None:
    sub = subscribe(program)
    fake.simulate_outage()
    use(usage, 11)
    fake.simulate_outage(None)
    clock.now = NOW.replace(month=4)
    deliver(program, fake.expire(sub))
    assert fake.usage_invoices == []

    assert usage.report_pending().reported == 1

    (invoice,) = fake.usage_invoices
    assert (invoice.amount, invoice.final) == (50, True)


def test_a_report_sent_twice_is_billed_once(
    program: MembershipProgram, usage: UsageBilling, fake: FakeProvider
) -> None:
    subscribe(program)
    record = use(usage, 11)

    assert usage.report(record)

    assert len(fake.usage_reported) == 1
    assert sum(len(lines) for lines in fake.usage_due.values()) == 1


def test_a_failed_report_is_kept_and_sent_by_the_next_run(
    program: MembershipProgram, usage: UsageBilling, fake: FakeProvider
) -> None:
    subscribe(program)
    fake.simulate_outage()

    record = use(usage, 12)

    assert isinstance(usage.store, MemoryUsage)
    assert "unreachable" in usage.store.records[record.id].report_error
    assert fake.usage_reported == set()
    fake.simulate_outage(None)
    run = usage.report_pending()
    assert (run.reported, run.failed) == (1, 0)
    assert usage.report_pending().reported == 0
    assert len(fake.usage_reported) == 1


def test_closing_periods_on_the_fake_provider_invoices_nothing_more(
    program: MembershipProgram, usage: UsageBilling, clock: Clock
) -> None:
    subscribe(program)
    use(usage, 12)
    clock.now = NOW.replace(month=4)

    run = usage.close_periods()

    assert (run.closed, run.invoices) == (1, ())
    assert usage.close_periods().closed == 0


# -- billing on the manual provider ---------------------------------------------------------------


@pytest.fixture
def manual_program(clock: Clock) -> MembershipProgram:
    return make_program("manual", clock)


def manual_subscribe(program: MembershipProgram, member: str = "ann") -> str:
    manual = program.providers["manual"]
    assert isinstance(manual, ManualProvider)
    session = program.start_checkout(
        member, "gold-monthly", provider="manual", success_url="/ok/", cancel_url="/no/"
    )
    deliver(program, manual.confirm_payment(session.id), "manual")
    (sub,) = manual.store.live_subscriptions()
    return sub.id


def test_the_manual_provider_invoices_a_periods_extra_use_once_when_it_ends(
    manual_program: MembershipProgram, clock: Clock
) -> None:
    program = manual_program
    manual = program.providers["manual"]
    assert isinstance(manual, ManualProvider)
    assert isinstance(manual, UsageInvoicing)
    usage = UsageBilling(program, MemoryUsage())
    sub = manual_subscribe(program)
    use(usage, 14)
    assert usage.close_periods().closed == 0  # still running

    clock.now = NOW.replace(month=4, hour=9)
    first = usage.close_periods()
    second = usage.close_periods()

    (reference,) = first.invoices
    assert second == type(second)()
    invoice = manual.invoice(reference)
    assert (invoice.amount, invoice.currency, invoice.price) == (200, "EUR", f"usage:{DOWNLOADS}")
    assert invoice.member_id == "ann"
    assert invoice.usage
    assert [i.reference for i in manual.store.invoices() if i.usage] == [reference]
    # Paying it changes no subscription.
    before = manual.subscription(sub).snapshot()
    webhook = manual.confirm_payment(reference)
    assert program.handle_webhook("manual", webhook.headers, webhook.body) == []
    assert manual.subscription(sub).snapshot() == before
    assert manual.invoice(reference).state == "paid"


def test_a_period_invoiced_by_two_runs_at_once_is_invoiced_once(
    manual_program: MembershipProgram, clock: Clock
) -> None:
    program = manual_program
    store = MemoryUsage()
    manual_subscribe(program)
    use(UsageBilling(program, store), 14)
    clock.now = NOW.replace(month=4, hour=9)

    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(lambda _: UsageBilling(program, store).close_periods(), range(4)))

    manual = program.providers["manual"]
    assert isinstance(manual, ManualProvider)
    assert len([i for i in manual.store.invoices() if i.usage]) == 1
    assert sum(r.closed for r in runs) == 1


def test_a_period_within_its_quota_is_closed_without_an_invoice(
    manual_program: MembershipProgram, clock: Clock
) -> None:
    usage = UsageBilling(manual_program, MemoryUsage())
    manual_subscribe(manual_program)
    use(usage, 4)
    clock.now = NOW.replace(month=4, hour=9)

    assert usage.close_periods() == type(usage.close_periods())(closed=1)


def test_a_provider_outage_leaves_the_period_open_for_the_next_run(
    manual_program: MembershipProgram, clock: Clock
) -> None:
    usage = UsageBilling(manual_program, MemoryUsage())
    manual_subscribe(manual_program)
    use(usage, 14)
    clock.now = NOW.replace(month=4, hour=9)
    manual = manual_program.providers["manual"]
    assert isinstance(manual, ManualProvider)
    manual.simulate_outage()

    assert usage.close_periods().failed == 1
    manual.simulate_outage(None)
    assert len(usage.close_periods().invoices) == 1


def test_an_unknown_subscription_is_not_invoiced(manual_program: MembershipProgram) -> None:
    manual = manual_program.providers["manual"]
    assert isinstance(manual, ManualProvider)
    from membership_sdk.providers import UsageInvoiceRequest

    with pytest.raises(ProviderError, match=r"no subscription 'sub_nope'"):
        manual.invoice_usage(
            UsageInvoiceRequest("sub_nope", "ann", DOWNLOADS, 1, 50, 50, "EUR", NOW, "usage-x")
        )


def test_a_period_whose_membership_is_gone_is_closed_with_nothing_to_bill(
    manual_program: MembershipProgram, clock: Clock
) -> None:
    usage = UsageBilling(manual_program, MemoryUsage())
    manual_subscribe(manual_program)
    use(usage, 14)
    store = manual_program.store
    assert isinstance(store, MemoryStore)
    store.memberships.rows.clear()  # the member was erased
    clock.now = NOW.replace(month=4, hour=9)

    assert usage.close_periods() == type(usage.close_periods())(closed=1)
