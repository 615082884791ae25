"""Plan changes and pauses through Stripe: the item replaced so ``price_since`` dates the
change, the proration invoiced at once (``always_invoice``, previewed alike) and applied
only once paid, ``pause_collection`` set and cleared, and paused subscriptions read back."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from membership_sdk import Membership, MembershipProgram, MemoryStore, ProviderError, Status
from membership_sdk.plugins import get_plugin_manager
from membership_sdk.providers import Pausing, PlanChanges
from membership_sdk.providers.stripe import translate as tr

from .conftest import WEBHOOK_SECRET, gold_catalog
from .replay import ReplayClient, load_objects

pytestmark = pytest.mark.stripe_replay

OBJ = load_objects()
#: A moment inside the recorded subscription's period (it ends at 1801440000).
DURING = datetime.fromtimestamp(1800100000, UTC)


def paused(resumes_at: int | None) -> dict[str, object]:
    sub = copy.deepcopy(OBJ["subscription"])
    sub["pause_collection"] = {"behavior": "void", "resumes_at": resumes_at}
    return sub


def program_with(replay: ReplayClient, store: MemoryStore) -> MembershipProgram:
    return MembershipProgram(
        gold_catalog(),
        store,
        pm=get_plugin_manager(load_entrypoints=False),
        provider_config={
            "stripe": {
                "api_key": "sk_test_replay",
                "webhook_secret": WEBHOOK_SECRET,
                "http_client": replay,
                "max_network_retries": 0,
            }
        },
        clock=lambda: DURING,
    )


def stored_membership(store: MemoryStore) -> Membership:
    membership = Membership(
        id=store.memberships.new_id(),
        member_id="ann",
        tier="gold",
        status=Status.ACTIVE,
        provider="stripe",
        price_id="gold-monthly",
        provider_subscription_id="sub_RecGold",
        provider_customer_id="cus_RecMember42",
        started_at=datetime.fromtimestamp(1798761600, UTC),
        current_period_end=datetime.fromtimestamp(1801440000, UTC),
    )
    store.memberships.save(membership)
    return membership


def test_stripe_has_both_lifecycle_capabilities(stripe_provider) -> None:
    assert isinstance(stripe_provider, PlanChanges)
    assert isinstance(stripe_provider, Pausing)


def test_an_active_subscription_with_pause_collection_reads_as_paused_until_it_resumes() -> None:
    snap = tr.subscription_snapshot(paused(1806000000), 1800100000 * 1000)
    assert snap.status is Status.PAUSED
    assert snap.paused_until == datetime.fromtimestamp(1806000000, UTC)
    assert snap.raw_status == "active"


def test_a_pause_whose_resume_time_has_passed_reads_as_active_again() -> None:
    snap = tr.subscription_snapshot(paused(1800000000), 1800100000 * 1000)
    assert snap.status is Status.ACTIVE
    assert snap.paused_until is None


def test_a_pause_without_a_resume_time_is_paused_until_resumed() -> None:
    snap = tr.subscription_snapshot(paused(None), 1800100000 * 1000)
    assert snap.status is Status.PAUSED
    assert snap.paused_until is None


def test_price_since_is_when_the_subscription_item_was_created() -> None:
    snap = tr.subscription_snapshot(OBJ["subscription_yearly"], 1800100000 * 1000)
    created = OBJ["subscription_yearly"]["items"]["data"][0]["created"]
    assert snap.price_since == datetime.fromtimestamp(created, UTC)


def test_pausing_sets_pause_collection_voiding_the_paused_invoices(
    stripe_provider, replay: ReplayClient
) -> None:
    replay.on("POST /v1/subscriptions/sub_RecGold", paused(1806000000))
    snap = stripe_provider.pause_subscription(
        "sub_RecGold", resumes_at=datetime.fromtimestamp(1806000000, UTC)
    )
    [sent] = replay.sent("POST /v1/subscriptions/sub_RecGold")
    assert sent.params["pause_collection[behavior]"] == "void"
    assert sent.params["pause_collection[resumes_at]"] == "1806000000"
    assert snap.status is Status.PAUSED


def test_unpausing_clears_pause_collection(stripe_provider, replay: ReplayClient) -> None:
    replay.on("POST /v1/subscriptions/sub_RecGold", OBJ["subscription"])
    snap = stripe_provider.unpause_subscription("sub_RecGold")
    [sent] = replay.sent("POST /v1/subscriptions/sub_RecGold")
    assert sent.params["pause_collection"] == ""
    assert snap.status is Status.ACTIVE


def test_a_plan_change_replaces_the_item_and_invoices_the_proration_at_once(
    stripe_provider, replay: ReplayClient
) -> None:
    replay.on("GET /v1/subscriptions/sub_RecGold", OBJ["subscription"])
    replay.on("POST /v1/subscriptions/sub_RecGold", OBJ["subscription_yearly"])
    stripe_provider.change_plan("sub_RecGold", "price_RecGoldYearly", proration_date=1800057600)
    [sent] = replay.sent("POST /v1/subscriptions/sub_RecGold")
    assert sent.params["items[0][id]"] == "si_RecGold"
    assert sent.params["items[0][deleted]"] == "true"
    assert sent.params["items[1][price]"] == "price_RecGoldYearly"
    assert sent.params["proration_behavior"] == "always_invoice"
    assert sent.params["payment_behavior"] == "pending_if_incomplete"


def same_interval_upgrade_preview() -> dict[str, object]:
    """Stripe's preview of Gold monthly to Platinum monthly on 16 Jan 2027 with
    ``always_invoice``: only the two proration lines, billed now (with
    ``create_prorations`` the preview would be the renewal invoice of 1 Feb)."""
    invoice = copy.deepcopy(OBJ["invoice.preview"])
    credit, charge = invoice["lines"]["data"]
    charge.update(
        amount=870,
        description="Remaining time on Platinum monthly after 16 Jan 2027",
        id="il_RecRemaining",
        period={"start": 1800057600, "end": 1801440000},
    )
    charge["parent"]["subscription_item_details"]["proration"] = True
    charge["pricing"]["price_details"]["price"] = "price_RecPlatinumMonthly"
    charge["pricing"]["unit_amount_decimal"] = "1800"
    due = credit["amount"] + charge["amount"]
    invoice.update(
        amount_due=due,
        amount_remaining=due,
        subtotal=due,
        total=due,
        period_start=1800057600,
        period_end=1800057600,
    )
    return invoice


def test_a_same_interval_upgrade_previews_what_is_charged_now(
    stripe_provider, replay: ReplayClient
) -> None:
    replay.on("GET /v1/subscriptions/sub_RecGold", OBJ["subscription"])
    replay.on("POST /v1/invoices/create_preview", same_interval_upgrade_preview())
    preview = stripe_provider.preview_plan_change(
        "sub_RecGold", "price_RecPlatinumMonthly", proration_date=1800057600
    )
    [sent] = replay.sent("POST /v1/invoices/create_preview")
    assert sent.params["subscription_details[proration_behavior]"] == "always_invoice"
    assert sent.params["subscription_details[proration_date]"] == "1800057600"
    assert [line.amount for line in preview.lines] == [-435, 870]
    assert all(line.proration for line in preview.lines)
    assert preview.amount_due == 435


def test_a_plan_change_whose_payment_fails_is_refused_and_changes_nothing(
    replay: ReplayClient,
) -> None:
    store = MemoryStore()
    program = program_with(replay, store)
    membership = stored_membership(store)
    pending = copy.deepcopy(OBJ["subscription"])
    pending["latest_invoice"] = "in_RecPlanChangeOpen"
    pending["pending_update"] = {
        "billing_cycle_anchor": None,
        "expires_at": 1800140800,
        "subscription_items": [
            {"id": "si_RecGoldYearly", "object": "subscription_item", "price": {
                "id": "price_RecGoldYearly", "object": "price"}, "quantity": 1}
        ],
        "trial_end": None,
        "trial_from_plan": None,
    }  # fmt: skip
    replay.on("GET /v1/subscriptions/sub_RecGold", OBJ["subscription"])
    replay.on("POST /v1/subscriptions/sub_RecGold", pending)
    with pytest.raises(ProviderError, match="in_RecPlanChangeOpen") as raised:
        program.change_plan(membership.id, "gold-yearly")
    assert raised.value.code == "card_declined"
    assert store.memberships.get(membership.id) == membership


def test_the_program_stores_the_new_price_and_when_it_began(replay: ReplayClient) -> None:
    store = MemoryStore()
    program = program_with(replay, store)
    membership = stored_membership(store)
    replay.on("GET /v1/subscriptions/sub_RecGold", OBJ["subscription"])
    replay.on("POST /v1/invoices/create_preview", OBJ["invoice.preview"])
    replay.on("POST /v1/subscriptions/sub_RecGold", OBJ["subscription_yearly"])
    preview = program.preview_plan_change(membership.id, "gold-yearly")
    assert preview.amount_due == 8565
    assert preview.effective_at == DURING.replace(microsecond=0)
    after = program.change_plan(membership.id, "gold-yearly", proration_date=preview.proration_date)
    assert after.price_id == "gold-yearly"
    created = OBJ["subscription_yearly"]["items"]["data"][0]["created"]
    assert after.price_since == datetime.fromtimestamp(created, UTC)


def test_the_program_pauses_through_stripe_and_keeps_the_reason(replay: ReplayClient) -> None:
    store = MemoryStore()
    program = program_with(replay, store)
    membership = stored_membership(store)
    replay.on("POST /v1/subscriptions/sub_RecGold", paused(1806000000))
    after = program.pause(membership.id, months=2, reason="travelling")
    [sent] = replay.sent("POST /v1/subscriptions/sub_RecGold")
    assert sent.params["pause_collection[resumes_at]"] == str(
        int(DURING.replace(month=DURING.month + 2, microsecond=0).timestamp())
    )
    assert after.status is Status.PAUSED
    assert after.pause_reason == "travelling"
