"""Plan changes and pauses through Stripe: the item replaced so ``price_since`` dates the
change, the proration invoiced at once (``always_invoice``, previewed alike) and applied
only once paid, ``pause_collection`` set and cleared, and paused subscriptions read back.
With a usage add-on's metered item on the subscription, only the plan's (licensed) item is
replaced and the metered items follow the new tier."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from typing import Any

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


# -- subscriptions with a usage add-on (membership_sdk.usage): a checkout of a tier with a
# meter adds the add-on's metered price as a second item, in no promised order.
def with_add_on(
    sub: dict[str, Any], price: str = "price_ApiCallsMetered", *, first: bool = True
) -> dict[str, Any]:
    """``sub`` carrying a usage add-on's metered item, listed first unless ``first`` is
    false (Stripe promises no order for the items one Checkout makes)."""
    sub = copy.deepcopy(sub)
    base = sub["items"]["data"][0]
    metered = copy.deepcopy(base)
    metered["id"] = "si_RecMetered"
    metered["created"] = base["created"] - 3600
    metered["price"] = {
        **base["price"],
        "id": price,
        "unit_amount": 10,
        "recurring": {**base["price"]["recurring"], "meter": "mtr_Api", "usage_type": "metered"},
    }
    metered.pop("quantity", None)
    sub["items"]["data"].insert(0 if first else 1, metered)
    return sub


def items_sent(sent: Any) -> list[dict[str, str]]:
    """The ``items[n][...]`` parameters of a request (or of its ``subscription_details``),
    one mapping per item, in order."""
    found: dict[int, dict[str, str]] = {}
    for key, value in sent.params.items():
        item = re.fullmatch(r"(?:subscription_details\[items\]|items)\[(\d+)\]\[(\w+)\]", key)
        if item:
            found.setdefault(int(item[1]), {})[item[2]] = value
    return [found[i] for i in sorted(found)]


@pytest.mark.parametrize("first", [True, False], ids=["add-on listed first", "listed last"])
def test_a_plan_change_with_a_usage_add_on_replaces_only_the_plan_item(
    stripe_provider, replay: ReplayClient, first: bool
) -> None:
    replay.on("GET /v1/subscriptions/sub_RecGold", with_add_on(OBJ["subscription"], first=first))
    replay.on("POST /v1/invoices/create_preview", OBJ["invoice.preview"])
    replay.on("POST /v1/subscriptions/sub_RecGold", OBJ["subscription_yearly"])
    preview = stripe_provider.preview_plan_change("sub_RecGold", "price_RecGoldYearly")
    stripe_provider.change_plan(
        "sub_RecGold", "price_RecGoldYearly", proration_date=preview.proration_date
    )
    expected = [{"id": "si_RecGold", "deleted": "true"}, {"price": "price_RecGoldYearly"}]
    [previewed] = replay.sent("POST /v1/invoices/create_preview")
    [changed] = replay.sent("POST /v1/subscriptions/sub_RecGold")
    assert items_sent(previewed) == expected
    assert items_sent(changed) == expected


def test_a_plan_change_onto_a_tier_without_the_add_on_deletes_its_metered_item(
    stripe_provider, replay: ReplayClient
) -> None:
    replay.on("GET /v1/subscriptions/sub_RecGold", with_add_on(OBJ["subscription"]))
    replay.on("POST /v1/subscriptions/sub_RecGold", OBJ["subscription_yearly"])
    stripe_provider.change_plan("sub_RecGold", "price_RecBasicMonthly", usage_prices=())
    [sent] = replay.sent("POST /v1/subscriptions/sub_RecGold")
    assert items_sent(sent) == [
        {"id": "si_RecGold", "deleted": "true"},
        {"price": "price_RecBasicMonthly"},
        {"id": "si_RecMetered", "deleted": "true"},
    ]


def test_a_plan_change_onto_a_tier_with_an_add_on_adds_its_metered_price(
    stripe_provider, replay: ReplayClient
) -> None:
    replay.on("GET /v1/subscriptions/sub_RecGold", OBJ["subscription"])
    replay.on("POST /v1/subscriptions/sub_RecGold", OBJ["subscription_yearly"])
    stripe_provider.change_plan(
        "sub_RecGold", "price_RecPlatinumMonthly", usage_prices=["price_ApiCallsMetered"]
    )
    [sent] = replay.sent("POST /v1/subscriptions/sub_RecGold")
    assert items_sent(sent) == [
        {"id": "si_RecGold", "deleted": "true"},
        {"price": "price_RecPlatinumMonthly"},
        {"price": "price_ApiCallsMetered"},  # metered prices take no quantity
    ]


def test_a_plan_change_keeps_the_metered_item_the_new_tier_also_has(
    stripe_provider, replay: ReplayClient
) -> None:
    replay.on("GET /v1/subscriptions/sub_RecGold", with_add_on(OBJ["subscription"]))
    replay.on("POST /v1/invoices/create_preview", same_interval_upgrade_preview())
    stripe_provider.preview_plan_change(
        "sub_RecGold", "price_RecPlatinumMonthly", usage_prices=["price_ApiCallsMetered"]
    )
    [sent] = replay.sent("POST /v1/invoices/create_preview")
    assert items_sent(sent) == [
        {"id": "si_RecGold", "deleted": "true"},
        {"price": "price_RecPlatinumMonthly"},
    ]


def test_a_plan_change_to_yearly_swaps_the_add_on_for_its_yearly_metered_price(
    stripe_provider, replay: ReplayClient
) -> None:
    replay.on("GET /v1/subscriptions/sub_RecGold", with_add_on(OBJ["subscription"]))
    replay.on("POST /v1/subscriptions/sub_RecGold", OBJ["subscription_yearly"])
    stripe_provider.change_plan(
        "sub_RecGold", "price_RecGoldYearly", usage_prices=["price_ApiCallsYearly"]
    )
    [sent] = replay.sent("POST /v1/subscriptions/sub_RecGold")
    assert items_sent(sent) == [
        {"id": "si_RecGold", "deleted": "true"},
        {"price": "price_RecGoldYearly"},
        {"id": "si_RecMetered", "deleted": "true"},
        {"price": "price_ApiCallsYearly"},
    ]


def test_a_subscription_with_two_plan_items_is_refused_a_plan_change(
    stripe_provider, replay: ReplayClient
) -> None:
    sub = copy.deepcopy(OBJ["subscription"])
    sub["items"]["data"].append({**sub["items"]["data"][0], "id": "si_RecSeat"})
    replay.on("GET /v1/subscriptions/sub_RecGold", sub)
    with pytest.raises(ProviderError, match="has 2 licensed items") as raised:
        stripe_provider.change_plan("sub_RecGold", "price_RecGoldYearly")
    assert raised.value.code == "unsupported"
    assert replay.sent("POST /v1/subscriptions/sub_RecGold") == []


def test_a_renewal_price_keeps_the_usage_add_on_in_both_phases(
    stripe_provider, replay: ReplayClient
) -> None:
    sub = with_add_on(OBJ["subscription_yearly"], "price_ApiCallsYearly")
    replay.on("GET /v1/subscriptions/sub_RecGold", sub)
    replay.on("POST /v1/subscription_schedules", {"id": "sub_sched_1", "object": "x"})
    replay.on("POST /v1/subscription_schedules/sub_sched_1", {"id": "sub_sched_1"})
    snap = stripe_provider.renew_on_price(
        "sub_RecGold", "price_RecGoldMonthly", usage_prices=["price_ApiCallsMetered"]
    )
    [phases] = replay.sent("POST /v1/subscription_schedules/sub_sched_1")
    assert phases.params["phases[0][items][0][price]"] == "price_RecGoldYearly"
    assert phases.params["phases[0][items][1][price]"] == "price_ApiCallsYearly"
    assert "phases[0][items][1][quantity]" not in phases.params
    assert phases.params["phases[1][items][0][price]"] == "price_RecGoldMonthly"
    assert phases.params["phases[1][items][1][price]"] == "price_ApiCallsMetered"
    assert snap.price == "price_RecGoldYearly"


def test_a_renewal_price_without_usage_prices_keeps_the_current_add_on(
    stripe_provider, replay: ReplayClient
) -> None:
    sub = with_add_on(OBJ["subscription_yearly"], "price_ApiCallsYearly", first=False)
    replay.on("GET /v1/subscriptions/sub_RecGold", sub)
    replay.on("POST /v1/subscription_schedules", {"id": "sub_sched_1", "object": "x"})
    replay.on("POST /v1/subscription_schedules/sub_sched_1", {"id": "sub_sched_1"})
    stripe_provider.renew_on_price("sub_RecGold", "price_RecGoldMonthly")
    [phases] = replay.sent("POST /v1/subscription_schedules/sub_sched_1")
    assert phases.params["phases[1][items][0][price]"] == "price_RecGoldMonthly"
    assert phases.params["phases[1][items][1][price]"] == "price_ApiCallsYearly"
