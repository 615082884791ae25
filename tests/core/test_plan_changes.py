"""Plan changes on every built-in simulated provider: the preview a member sees, the
change billed as previewed, the rules the program checks, and the drip after a change."""

from __future__ import annotations

from datetime import timedelta

import pytest
from lifecycle_builders import (
    NOW,
    Clock,
    current,
    deliver,
    deliver_outbox,
    fake,
    make_program,
    manual,
    subscribe,
)
from sdk_builders import StubProvider

from membership_sdk import (
    Drip,
    HasEntitlement,
    MembershipProgram,
    ProviderError,
    Reason,
    Resource,
    Status,
    decide,
    metrics,
)
from membership_sdk.lifecycle import (
    PREVIEW_VALID_FOR,
    CapabilityDeclined,
    CurrencyMismatch,
    NotAPlan,
    PlanChangeError,
    SamePlan,
    StalePreview,
)
from membership_sdk.memory import MemoryManualBilling

#: A basic lesson and a premium lesson, each 30 days after the member first held it.
BASIC_LESSON = Resource("lesson:basic-2", Drip(HasEntitlement("content.basic"), 30))
PREMIUM_LESSON = Resource("lesson:premium-2", Drip(HasEntitlement("content.premium"), 30))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def program(clock: Clock) -> MembershipProgram:
    return make_program(clock)


# -- the preview -------------------------------------------------------------------------------
def test_an_upgrade_preview_credits_the_unused_time_and_charges_the_new_price(
    program: MembershipProgram, clock: Clock
) -> None:
    membership = subscribe(program, "fake")  # 1 March to 1 April, EUR 5
    clock.now = NOW + timedelta(days=15, hours=12)  # half of March is left
    preview = program.preview_plan_change(membership.id, "premium-monthly")
    credit, charge = preview.lines
    assert credit.amount == -250
    assert credit.proration
    assert charge.amount == 750
    assert charge.proration
    assert preview.amount_due == 500
    assert preview.currency == "eur"
    assert preview.effective_at == clock.now
    assert preview.proration_date == int(clock.now.timestamp())


def test_a_downgrade_preview_charges_nothing_now_and_applies_at_the_period_end(
    program: MembershipProgram, clock: Clock
) -> None:
    membership = subscribe(program, "fake", "premium-monthly")
    clock.now = NOW + timedelta(days=10)
    preview = program.preview_plan_change(membership.id, "basic-monthly")
    assert preview.amount_due == 0
    assert preview.effective_at == membership.current_period_end
    [line] = preview.lines
    assert line.amount == 500
    assert not line.proration


def test_monthly_to_yearly_charges_the_year_less_the_unused_month(
    program: MembershipProgram, clock: Clock
) -> None:
    membership = subscribe(program, "fake", "premium-monthly")
    clock.now = NOW + timedelta(days=31) / 2
    preview = program.preview_plan_change(membership.id, "premium-yearly")
    credit, year = preview.lines
    assert year.amount == 15000
    assert not year.proration
    assert preview.amount_due == 15000 + credit.amount
    assert -1500 < credit.amount < 0


# -- changing, on the fake provider --------------------------------------------------------------
def test_an_upgrade_moves_the_membership_to_the_new_tier_at_once(
    program: MembershipProgram, clock: Clock
) -> None:
    membership = subscribe(program, "fake")
    clock.now = NOW + timedelta(days=5)
    preview = program.preview_plan_change(membership.id, "premium-monthly")
    after = program.change_plan(
        membership.id, "premium-monthly", proration_date=preview.proration_date
    )
    assert (after.tier, after.price_id) == ("premium", "premium-monthly")
    assert after.price_since == clock.now
    assert after.current_period_end == membership.current_period_end
    deliver_outbox(program)  # the provider's webhook agrees
    assert current(program, membership).tier == "premium"


def test_a_downgrade_keeps_the_tier_until_the_renewal(
    program: MembershipProgram, clock: Clock
) -> None:
    membership = subscribe(program, "fake", "premium-monthly")
    clock.now = NOW + timedelta(days=5)
    after = program.change_plan(membership.id, "basic-monthly")
    assert after.tier == "premium"
    deliver_outbox(program)
    clock.now = NOW + timedelta(days=31)
    deliver(program, "fake", fake(program).renew(membership.provider_subscription_id or ""))
    renewed = current(program, membership)
    assert (renewed.tier, renewed.price_id) == ("basic", "basic-monthly")
    assert renewed.price_since == membership.current_period_end


def test_monthly_to_yearly_starts_a_year_from_the_change(
    program: MembershipProgram, clock: Clock
) -> None:
    membership = subscribe(program, "fake", "premium-monthly")
    clock.now = NOW + timedelta(days=10)
    after = program.change_plan(membership.id, "premium-yearly")
    assert after.current_period_end == clock.now.replace(year=2027)
    deliver_outbox(program)
    assert current(program, membership).paid_through == clock.now.replace(year=2027)


# -- what the program refuses ---------------------------------------------------------------------
def test_a_price_in_another_currency_is_refused_naming_both(program: MembershipProgram) -> None:
    membership = subscribe(program, "fake")
    with pytest.raises(CurrencyMismatch, match=r"'premium-usd' is in USD.*EUR"):
        program.change_plan(membership.id, "premium-usd")
    assert current(program, membership).price_id == "basic-monthly"


@pytest.mark.parametrize(
    ("price", "error"),
    [
        ("premium-old", NotAPlan),  # archived
        ("ebook", NotAPlan),  # one-off item
        ("no-such-price", NotAPlan),
        ("basic-monthly", SamePlan),
    ],
)
def test_a_price_that_is_not_another_plan_is_refused(
    program: MembershipProgram, price: str, error: type[PlanChangeError]
) -> None:
    membership = subscribe(program, "fake")
    with pytest.raises(error, match=repr(price)):
        program.preview_plan_change(membership.id, price)
    with pytest.raises(error):
        program.change_plan(membership.id, price)
    assert current(program, membership) == membership


def test_a_stale_preview_is_refused_and_changes_nothing(
    program: MembershipProgram, clock: Clock
) -> None:
    membership = subscribe(program, "fake")
    preview = program.preview_plan_change(membership.id, "premium-monthly")
    clock.now += PREVIEW_VALID_FOR + timedelta(seconds=1)
    with pytest.raises(StalePreview, match=str(preview.proration_date)):
        program.change_plan(membership.id, "premium-monthly", proration_date=preview.proration_date)
    assert current(program, membership).tier == "basic"


def test_a_past_due_membership_cannot_change_plan(program: MembershipProgram) -> None:
    membership = subscribe(program, "fake")
    deliver(program, "fake", fake(program).fail_payment(membership.provider_subscription_id or ""))
    with pytest.raises(PlanChangeError, match="past_due"):
        program.change_plan(membership.id, "premium-monthly")


def test_a_provider_that_declines_plan_changes_is_named(clock: Clock) -> None:
    program = make_program(clock, plugins=(StubProvider(),))
    membership = subscribe(program, "fake")
    program.store.memberships.save(membership.replace(provider="stub"))
    with pytest.raises(CapabilityDeclined, match="'stub'"):
        program.preview_plan_change(membership.id, "premium-monthly")


# -- the manual provider ---------------------------------------------------------------------------
def test_a_manual_upgrade_issues_an_invoice_and_applies_when_it_is_paid(
    program: MembershipProgram, clock: Clock
) -> None:
    membership = subscribe(program, "manual")
    clock.now = NOW + timedelta(days=15, hours=12)
    preview = program.preview_plan_change(membership.id, "premium-monthly")
    assert preview.amount_due == 500
    assert preview.effective_at is None  # when the transfer is confirmed
    after = program.change_plan(membership.id, "premium-monthly")
    assert after.tier == "basic"
    invoice = manual(program).plan_change_invoice(membership.provider_subscription_id or "")
    assert invoice is not None
    assert invoice.amount == 500
    clock.now += timedelta(days=2)
    deliver(program, "manual", manual(program).confirm_payment(invoice.reference))
    paid = current(program, membership)
    assert (paid.tier, paid.price_id, paid.price_since) == ("premium", "premium-monthly", clock.now)
    assert paid.current_period_end == membership.current_period_end


def test_a_manual_downgrade_is_invoiced_at_the_new_price_at_renewal(
    program: MembershipProgram, clock: Clock
) -> None:
    membership = subscribe(program, "manual", "premium-monthly")
    program.change_plan(membership.id, "basic-monthly")
    billing = manual(program)
    clock.now = NOW + timedelta(days=25)
    billing.run_schedule()
    [renewal] = billing.open_invoices()
    assert (renewal.price, renewal.amount) == ("manual_bm", 500)
    deliver(program, "manual", billing.confirm_payment(renewal.reference))
    assert current(program, membership).tier == "basic"


def test_an_unpaid_manual_upgrade_lapses_and_the_old_plan_goes_on(
    program: MembershipProgram, clock: Clock
) -> None:
    membership = subscribe(program, "manual")
    program.change_plan(membership.id, "premium-monthly")
    clock.now = NOW + timedelta(days=29)
    manual(program).run_schedule()
    assert manual(program).plan_change_invoice(membership.provider_subscription_id or "") is None
    assert current(program, membership).tier == "basic"


# -- the drip after a change in place -----------------------------------------------------
def test_an_upgrade_opens_the_new_tiers_dripped_lessons_from_the_change(
    program: MembershipProgram, clock: Clock
) -> None:
    membership = subscribe(program, "fake")
    clock.now = NOW + timedelta(days=40)
    deliver(program, "fake", fake(program).renew(membership.provider_subscription_id or ""))
    program.change_plan(membership.id, "premium-monthly")
    deliver_outbox(program)
    ctx = program.context("ann")
    assert decide(BASIC_LESSON, ctx).allowed  # held for 40 days, through the change
    locked = decide(PREMIUM_LESSON, ctx)
    assert locked.reason is Reason.DRIP_LOCKED
    assert locked.unlock_at == clock.now + timedelta(days=30)


def test_a_downgrade_then_upgrade_does_not_reopen_premium_lessons_early(
    program: MembershipProgram, clock: Clock
) -> None:
    membership = subscribe(program, "fake", "premium-monthly")
    sub = membership.provider_subscription_id or ""
    clock.now = NOW + timedelta(days=5)
    program.change_plan(membership.id, "basic-monthly")
    for days in (31, 59):  # two renewals: the downgrade applies at the first
        clock.now = NOW + timedelta(days=days)
        deliver(program, "fake", fake(program).renew(sub))
    program.change_plan(membership.id, "premium-monthly")
    deliver_outbox(program)
    ctx = program.context("ann")
    assert decide(PREMIUM_LESSON, ctx).unlock_at == clock.now + timedelta(days=30)
    assert decide(BASIC_LESSON, ctx).allowed


@pytest.mark.parametrize("order", ["in order", "reversed", "replayed"])
def test_webhooks_in_any_order_never_open_the_new_tiers_lessons_early(
    clock: Clock, order: str
) -> None:
    provider = make_program(clock)  # the payment service's side
    session = provider.start_checkout(
        "ann", "basic-monthly", provider="fake", success_url="/", cancel_url="/"
    )
    service = fake(provider)
    service.complete_checkout(session.id)
    created = service.outbox[:]
    clock.now = NOW + timedelta(days=20)
    service.change_plan(
        service.checkout(session.id).result or "",
        "fake_pm",
        prices={
            "fake_bm": provider.catalog.price("basic-monthly"),
            "fake_pm": provider.catalog.price("premium-monthly"),
        },
    )
    changed = service.outbox[len(created) :]
    site = make_program(clock)  # the site hears of both, in some order
    sequence = {
        "in order": [*created, *changed],
        "reversed": [*changed, *created],
        "replayed": [*created, *changed, *created],
    }[order]
    deliver(site, "fake", *sequence)
    ctx = site.context("ann")
    assert "premium" in ctx.tiers
    assert decide(PREMIUM_LESSON, ctx).unlock_at == clock.now + timedelta(days=30)


def test_a_manual_upgrade_on_a_restarted_site_still_applies_when_paid(clock: Clock) -> None:
    billing = MemoryManualBilling()
    program = make_program(clock, billing)
    membership = subscribe(program, "manual")
    program.change_plan(membership.id, "premium-monthly")
    restarted = make_program(clock, billing, store=program.store)  # type: ignore[arg-type]
    invoice = manual(restarted).plan_change_invoice(membership.provider_subscription_id or "")
    assert invoice is not None
    deliver(restarted, "manual", manual(restarted).confirm_payment(invoice.reference))
    assert current(restarted, membership).tier == "premium"
    assert current(restarted, membership).status is Status.ACTIVE


# -- what was paid: a waiting downgrade, discounts, credits, a declined card ----------------------
@pytest.mark.parametrize("provider", ["fake", "manual"])
def test_a_downgrade_waiting_for_the_period_end_ends_with_a_refund_and_cancel(
    program: MembershipProgram, clock: Clock, provider: str
) -> None:
    membership = subscribe(program, provider, "premium-yearly")
    clock.now = NOW + timedelta(days=5)
    program.change_plan(membership.id, "basic-monthly")
    assert "content.premium" in program.context("ann").entitlements  # paid to its end
    program.refund(membership.id)
    program.cancel(membership.id, at_period_end=False)
    assert "content.premium" not in program.context("ann").entitlements
    assert "content.basic" not in program.context("ann").entitlements


def test_a_waiting_downgrade_keeps_no_grant_of_its_own(
    program: MembershipProgram, clock: Clock
) -> None:
    membership = subscribe(program, "fake", "premium-monthly")
    clock.now = NOW + timedelta(days=5)
    program.change_plan(membership.id, "basic-monthly")
    deliver_outbox(program)
    assert program.store.grants.for_member("ann") == []
    clock.now = NOW + timedelta(days=31)
    deliver(program, "fake", fake(program).renew(membership.provider_subscription_id or ""))
    # Applied at the renewal: the premium time is history, ending where basic began.
    [history] = program.store.grants.for_member("ann")
    assert (history.tier, history.starts_at) == ("premium", NOW)
    assert history.ends_at == membership.current_period_end


@pytest.mark.parametrize("provider", ["fake", "manual"])
def test_a_percent_coupon_takes_its_percent_off_the_new_price(
    program: MembershipProgram, clock: Clock, provider: str
) -> None:
    membership = subscribe(program, provider, "premium-monthly")
    program.apply_discount(membership.id, code="HALF", percent_off=50)
    program.change_plan(membership.id, "basic-monthly")  # at the period's end
    clock.now = NOW + timedelta(days=31)
    sub_id = membership.provider_subscription_id or ""
    if provider == "fake":
        deliver(program, "fake", fake(program).renew(sub_id))
    else:
        billing = manual(program)
        billing.run_schedule()
        [renewal] = billing.open_invoices()
        assert renewal.amount == 250
        deliver(program, "manual", billing.confirm_payment(renewal.reference))
    renewed = current(program, membership)
    assert (renewed.price_id, renewed.amount, renewed.coupon) == ("basic-monthly", 250, "HALF")


def test_an_amount_off_coupon_takes_the_same_amount_off_the_new_price(
    program: MembershipProgram,
) -> None:
    membership = subscribe(program, "fake")
    program.apply_discount(membership.id, code="OFF123", amount_off=123)
    after = program.change_plan(membership.id, "premium-monthly")
    assert (after.amount, after.coupon) == (1500 - 123, "OFF123")
    assert metrics.mrr([after], program.catalog, NOW) == {"EUR": 1377}


def test_an_amount_off_that_is_a_round_percentage_stays_an_amount_off_on_fake(
    program: MembershipProgram,
) -> None:
    membership = subscribe(program, "fake")
    program.apply_discount(membership.id, code="TWO", amount_off=200)  # 40% of 500
    after = program.change_plan(membership.id, "premium-monthly")
    assert after.amount == 1300


def test_an_upgrade_credits_what_the_period_was_charged_not_its_list_price(
    program: MembershipProgram, clock: Clock
) -> None:
    membership = subscribe(program, "fake")  # basic at 500, the list price
    program.apply_discount(membership.id, code="HALF", percent_off=50)  # from the renewal
    clock.now = NOW + timedelta(days=31)
    deliver(program, "fake", fake(program).renew(membership.provider_subscription_id or ""))
    clock.now = NOW + timedelta(days=31 + 15)  # half of April
    preview = program.preview_plan_change(membership.id, "premium-monthly")
    credit, charge = preview.lines
    assert credit.amount == -125  # half of the 250 paid
    assert charge.amount == 375  # half of premium at 50% off
    assert preview.amount_due == 250


def test_a_retention_discount_not_yet_begun_does_not_shrink_the_credit(
    program: MembershipProgram, clock: Clock
) -> None:
    membership = subscribe(program, "fake")  # March paid at 500
    program.apply_discount(membership.id, code="HALF", percent_off=50)  # from April
    clock.now = NOW + timedelta(days=15, hours=12)
    preview = program.preview_plan_change(membership.id, "premium-monthly")
    credit, charge = preview.lines
    assert (credit.amount, charge.amount) == (-250, 750)  # March at list prices
    program.change_plan(membership.id, "premium-monthly", proration_date=preview.proration_date)
    clock.now = NOW + timedelta(days=31)
    deliver(program, "fake", fake(program).renew(membership.provider_subscription_id or ""))
    assert current(program, membership).amount == 750  # April on: half of premium


@pytest.mark.parametrize("provider", ["fake", "manual"])
def test_a_free_period_credits_nothing_and_the_upgrade_still_applies_now(
    program: MembershipProgram, clock: Clock, provider: str
) -> None:
    membership = subscribe(program, provider)
    sub = (fake(program) if provider == "fake" else manual(program)).subscription(
        membership.provider_subscription_id or ""
    )
    # As a 100%-off "once" coupon leaves it: the first period charged 0.
    sub.amount, sub.coupon, sub.discount_ends_at = 0, "FREE", NOW.replace(month=4)
    if provider == "fake":
        fake(program).period_rate[sub.id] = 0
    else:
        billing = manual(program)
        billing.store.save_subscription(sub)
        [first] = billing.store.invoices(subscription=sub.id)
        first.amount = 0
        billing.store.save_invoice(first)
    clock.now = NOW + timedelta(days=15, hours=12)
    preview = program.preview_plan_change(membership.id, "premium-monthly")
    assert [line.amount for line in preview.lines] == [0, 0]
    assert preview.amount_due == 0
    assert program.change_plan(membership.id, "premium-monthly").tier == "premium"


def test_an_upgrade_on_a_declined_card_is_refused_and_changes_nothing(
    program: MembershipProgram, clock: Clock
) -> None:
    membership = subscribe(program, "fake")
    service = fake(program)
    service.decline_card(membership.provider_customer_id or "")
    clock.now = NOW + timedelta(days=5)
    with pytest.raises(ProviderError, match="declined") as raised:
        program.change_plan(membership.id, "premium-monthly")
    assert raised.value.code == "card_declined"
    deliver_outbox(program)
    assert current(program, membership).tier == "basic"
    assert service.outbox == []


def test_a_downgrade_on_a_declined_card_charges_nothing_and_is_made(
    program: MembershipProgram,
) -> None:
    membership = subscribe(program, "fake", "premium-monthly")
    fake(program).decline_card(membership.provider_customer_id or "")
    assert program.change_plan(membership.id, "basic-monthly").tier == "premium"


def test_a_refund_after_an_upgrade_pays_back_the_upgrade_charge(
    program: MembershipProgram, clock: Clock
) -> None:
    membership = subscribe(program, "fake")
    clock.now = NOW + timedelta(days=15, hours=12)
    preview = program.preview_plan_change(membership.id, "premium-monthly")
    program.change_plan(membership.id, "premium-monthly", proration_date=preview.proration_date)
    refund, _ = program.refund(membership.id)
    assert (refund.amount, preview.amount_due) == (500, 500)


def test_a_refund_after_a_discounted_renewal_pays_back_what_it_charged(
    program: MembershipProgram, clock: Clock
) -> None:
    membership = subscribe(program, "fake")
    program.apply_discount(membership.id, code="HALF", percent_off=50)
    clock.now = NOW + timedelta(days=31)
    deliver(program, "fake", fake(program).renew(membership.provider_subscription_id or ""))
    refund, _ = program.refund(membership.id)
    assert refund.amount == 250


def test_a_provider_written_before_usage_billing_still_changes_plans(
    program: MembershipProgram, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A catalog with no usage rate for a provider calls its plan changes without the
    ``usage_prices`` keyword, which a third-party provider may not take."""
    provider = fake(program)
    preview_of, change_of = provider.preview_plan_change, provider.change_plan

    def preview(subscription_id: str, price: str, *, proration_date: int, prices: object) -> object:
        return preview_of(subscription_id, price, proration_date=proration_date, prices=prices)  # type: ignore[arg-type]

    def change(
        subscription_id: str,
        price: str,
        *,
        proration_date: int,
        idempotency_key: str,
        prices: object,
    ) -> object:
        return change_of(
            subscription_id,
            price,
            proration_date=proration_date,
            idempotency_key=idempotency_key,
            prices=prices,  # type: ignore[arg-type]
        )

    monkeypatch.setattr(provider, "preview_plan_change", preview)
    monkeypatch.setattr(provider, "change_plan", change)
    membership = subscribe(program, "fake")
    clock.now = NOW + timedelta(days=10)
    preview_result = program.preview_plan_change(membership.id, "premium-monthly")

    changed = program.change_plan(
        membership.id, "premium-monthly", proration_date=preview_result.proration_date
    )

    assert changed.price_id == "premium-monthly"
