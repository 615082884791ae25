"""Deliveries: who receives an issue (the cut-off rules, one test per row of the table in
docs/deliveries.md), shipping addresses and their validation, products and issues."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from membership_sdk import Catalog, Grant, GrantKind, Membership, MembershipError, Status, Tier
from membership_sdk.deliveries import (
    AddressError,
    DeliveryDecision,
    DeliveryError,
    DeliveryProduct,
    DeliveryStatus,
    Issue,
    MemberRecord,
    ShippingAddress,
    address_at,
    build_manifest,
    decide_delivery,
    default_cutoff,
    delivery_keys,
    normalize_postcode,
    tier_at_cutoff,
    tiers_including,
)

PRINT = "delivery.print-edition"
CATALOG = Catalog(
    tiers=[
        Tier("digital", "Digital", 1, ("content.premium",)),
        Tier("print", "Print", 2, ("content.premium", PRINT)),
    ]
)
CUTOFF = datetime(2026, 3, 25, 0, 0, tzinfo=UTC)
ISSUE = Issue("i1", PRINT, "April 2026", date(2026, 4, 1), CUTOFF, number=4)
SHIP_DAY = ISSUE.ships_at
BEFORE = CUTOFF - timedelta(days=20)
HOME = ShippingAddress.create(
    name="Ada Lovelace",
    line1="Hauptstraße 1",
    postcode="10115",
    city="Berlin",
    country="DE",
    valid_from=BEFORE,
)


def membership(**changes: object) -> Membership:
    base = Membership(
        id="m1",
        member_id="ada",
        tier="print",
        status=Status.ACTIVE,
        provider="fake",
        started_at=BEFORE,
        current_period_end=CUTOFF + timedelta(days=3),  # renews between cut-off and ship day
    )
    return base.replace(**changes)


def grant(**changes: object) -> Grant:
    base = Grant(
        id="g1",
        member_id="ada",
        kind=GrantKind.COMP,
        starts_at=BEFORE,
        ends_at=SHIP_DAY + timedelta(days=30),
        tier="print",
    )
    return base.replace(**changes)


def decide(
    *memberships: Membership,
    grants: tuple[Grant, ...] = (),
    addresses: tuple[ShippingAddress, ...] = (HOME,),
    paused_since: dict[str, datetime] | None = None,
    tier_history: dict[str, list[tuple[datetime, str]]] | None = None,
) -> DeliveryDecision:
    return decide_delivery(
        ISSUE,
        CATALOG,
        memberships=memberships,
        grants=grants,
        addresses=addresses,
        grace=timedelta(days=3),
        paused_since=paused_since,
        tier_history=tier_history,
    )


# -- the cut-off rules, row by row ---------------------------------------------------------------
def test_a_renewing_membership_of_a_tier_with_the_product_ships_to_the_address() -> None:
    decision = decide(membership())
    assert decision.status is DeliveryStatus.RECEIVES
    assert decision.address == HOME


def test_a_tier_without_the_product_gets_nothing() -> None:
    assert decide(membership(tier="digital")).status is DeliveryStatus.NOT_ENTITLED


def test_a_membership_started_after_the_cut_off_waits_for_the_next_issue() -> None:
    late = membership(started_at=CUTOFF + timedelta(hours=1))
    assert decide(late).status is DeliveryStatus.NOT_ENTITLED


def test_a_cancellation_effective_after_the_ship_day_still_ships() -> None:
    leaving = membership(
        cancel_at_period_end=True,
        canceled_at=BEFORE,
        current_period_end=SHIP_DAY + timedelta(days=5),
    )
    assert decide(leaving).status is DeliveryStatus.RECEIVES


def test_a_cancellation_effective_between_cut_off_and_ship_day_does_not_ship() -> None:
    ends = CUTOFF + timedelta(days=2)
    leaving = membership(cancel_at_period_end=True, canceled_at=BEFORE, current_period_end=ends)
    decision = decide(leaving)
    assert decision.status is DeliveryStatus.ENDED
    assert decision.until == ends


def test_a_membership_ended_before_the_cut_off_does_not_ship() -> None:
    ended = membership(
        status=Status.CANCELED, canceled_at=BEFORE, current_period_end=CUTOFF - timedelta(days=1)
    )
    assert decide(ended).status is DeliveryStatus.NOT_ENTITLED


def test_an_expired_membership_does_not_ship() -> None:
    expired = membership(status=Status.EXPIRED, current_period_end=CUTOFF - timedelta(days=9))
    assert decide(expired).status is DeliveryStatus.NOT_ENTITLED


def test_a_pause_covering_the_ship_day_skips_the_issue() -> None:
    resumes = SHIP_DAY + timedelta(days=20)
    decision = decide(membership(status=Status.PAUSED, paused_until=resumes))
    assert decision.status is DeliveryStatus.PAUSED
    assert decision.resumes == resumes


def test_a_pause_with_no_end_skips_the_issue() -> None:
    assert decide(membership(status=Status.PAUSED)).status is DeliveryStatus.PAUSED


def test_a_pause_ending_before_the_ship_day_does_not_skip_it() -> None:
    back = membership(status=Status.PAUSED, paused_until=SHIP_DAY - timedelta(days=2))
    assert decide(back).status is DeliveryStatus.RECEIVES


def test_a_cancellation_made_after_the_cut_off_does_not_change_the_issue() -> None:
    canceled_late = membership(
        status=Status.CANCELED,
        canceled_at=CUTOFF + timedelta(hours=2),
        current_period_end=CUTOFF + timedelta(hours=2),
    )
    assert decide(canceled_late).status is DeliveryStatus.RECEIVES


def test_a_pause_made_after_the_cut_off_does_not_change_the_issue() -> None:
    paused_late = membership(status=Status.PAUSED, paused_until=SHIP_DAY + timedelta(days=60))
    decision = decide(paused_late, paused_since={"m1": CUTOFF + timedelta(minutes=5)})
    assert decision.status is DeliveryStatus.RECEIVES


AFTER_CUTOFF = CUTOFF + timedelta(days=1)


def test_an_upgrade_to_the_print_tier_after_the_cut_off_does_not_get_that_issue() -> None:
    upgraded = membership(tier="print", price_since=AFTER_CUTOFF)
    history = {"m1": [(BEFORE, "digital"), (AFTER_CUTOFF, "print")]}
    assert decide(upgraded, tier_history=history).status is DeliveryStatus.NOT_ENTITLED


def test_an_upgrade_after_the_cut_off_with_no_history_does_not_get_that_issue() -> None:
    upgraded = membership(tier="print", price_since=AFTER_CUTOFF)
    assert decide(upgraded).status is DeliveryStatus.NOT_ENTITLED


def test_a_downgrade_after_the_cut_off_still_gets_that_issue() -> None:
    downgraded = membership(tier="digital", price_since=AFTER_CUTOFF)
    history = {"m1": [(BEFORE, "print"), (AFTER_CUTOFF, "digital")]}
    decision = decide(downgraded, tier_history=history)
    assert decision.status is DeliveryStatus.RECEIVES
    assert decision.address == HOME


def test_a_plan_change_before_the_cut_off_counts_for_the_issue() -> None:
    upgraded = membership(tier="print", price_since=CUTOFF - timedelta(hours=1))
    history = {"m1": [(BEFORE, "digital")]}  # the ledger missed the change: the price says
    assert decide(upgraded, tier_history=history).status is DeliveryStatus.RECEIVES


def test_the_tier_at_the_cut_off_is_the_latest_in_the_history_before_it() -> None:
    moved = membership(tier="digital", price_since=AFTER_CUTOFF)
    history = [
        (CUTOFF - timedelta(days=2), "print"),
        (BEFORE, "digital"),
        (AFTER_CUTOFF, "digital"),
    ]
    assert tier_at_cutoff(moved, CUTOFF, history) == "print"
    assert tier_at_cutoff(moved, CUTOFF, []) is None
    assert tier_at_cutoff(membership(price_since=None), CUTOFF, []) == "print"


def test_a_past_due_membership_in_its_grace_at_the_cut_off_ships() -> None:
    dunning = membership(status=Status.PAST_DUE, paid_through=CUTOFF - timedelta(days=1))
    assert decide(dunning).status is DeliveryStatus.RECEIVES


def test_a_past_due_membership_past_its_grace_does_not_ship() -> None:
    lapsed = membership(status=Status.PAST_DUE, paid_through=CUTOFF - timedelta(days=10))
    assert decide(lapsed).status is DeliveryStatus.NOT_ENTITLED


def test_a_trial_ships() -> None:
    assert decide(membership(status=Status.TRIALING)).status is DeliveryStatus.RECEIVES


def test_a_comp_of_the_tier_running_past_the_ship_day_ships() -> None:
    assert decide(grants=(grant(),)).status is DeliveryStatus.RECEIVES


def test_a_grant_ending_before_the_ship_day_does_not_ship() -> None:
    short = grant(ends_at=CUTOFF + timedelta(days=1))
    assert decide(grants=(short,)).status is DeliveryStatus.ENDED


def test_a_grant_revoked_before_the_cut_off_gives_nothing() -> None:
    revoked = grant(revoked_at=CUTOFF - timedelta(hours=1))
    assert decide(grants=(revoked,)).status is DeliveryStatus.NOT_ENTITLED


def test_a_grant_revoked_after_the_cut_off_still_ships() -> None:
    revoked = grant(revoked_at=CUTOFF + timedelta(hours=1))
    assert decide(grants=(revoked,)).status is DeliveryStatus.RECEIVES


def test_a_grant_of_the_entitlement_alone_ships() -> None:
    from membership_sdk import Entitlement

    extra = grant(tier=None, entitlements=(Entitlement(PRINT),))
    assert decide(grants=(extra,)).status is DeliveryStatus.RECEIVES


def test_the_best_of_several_holdings_counts() -> None:
    paused = membership(status=Status.PAUSED)
    assert decide(paused, grants=(grant(),)).status is DeliveryStatus.RECEIVES


def test_an_entitled_member_without_an_address_is_listed_as_missing_one() -> None:
    assert decide(membership(), addresses=()).status is DeliveryStatus.MISSING_ADDRESS


def test_an_address_kept_after_the_cut_off_counts_from_the_next_issue() -> None:
    late = ShippingAddress.create(
        name="Ada",
        line1="Neue Str. 2",
        postcode="80331",
        city="München",
        country="DE",
        valid_from=CUTOFF + timedelta(minutes=1),
    )
    assert decide(membership(), addresses=(late,)).status is DeliveryStatus.MISSING_ADDRESS
    assert decide(membership(), addresses=(HOME, late)).address == HOME


def test_the_address_valid_at_the_cut_off_is_the_latest_before_it() -> None:
    newer = ShippingAddress.create(
        name="Ada",
        line1="Neue Str. 2",
        postcode="80331",
        city="München",
        country="DE",
        valid_from=CUTOFF - timedelta(days=1),
    )
    assert address_at([newer, HOME], CUTOFF) == newer


# -- forecasts ----------------------------------------------------------------------------------
def test_a_forecast_takes_a_renewing_membership_to_renew() -> None:
    now = CUTOFF - timedelta(days=40)
    renewing = membership(current_period_end=now + timedelta(days=10))
    decision = decide_delivery(ISSUE, CATALOG, memberships=[renewing], addresses=[HOME], now=now)
    assert decision.status is DeliveryStatus.RECEIVES


def test_a_forecast_says_a_membership_ending_before_the_ship_day_ends() -> None:
    now = CUTOFF - timedelta(days=40)
    ends = now + timedelta(days=10)
    leaving = membership(cancel_at_period_end=True, canceled_at=now, current_period_end=ends)
    decision = decide_delivery(ISSUE, CATALOG, memberships=[leaving], addresses=[HOME], now=now)
    assert (decision.status, decision.until) == (DeliveryStatus.ENDED, ends)


def test_asked_after_the_cut_off_the_answer_is_as_at_the_cut_off() -> None:
    stale = membership(current_period_end=CUTOFF - timedelta(days=10))
    later = CUTOFF + timedelta(days=1)
    assert decide_delivery(ISSUE, CATALOG, memberships=[stale], now=later).status is (
        DeliveryStatus.NOT_ENTITLED
    )


# -- the manifest -------------------------------------------------------------------------------
def test_the_manifest_lists_every_entitled_member_and_nobody_else() -> None:
    members = [
        MemberRecord("b", memberships=[membership(member_id="b")], addresses=[HOME]),
        MemberRecord("a", memberships=[membership(member_id="a")]),
        MemberRecord("c", memberships=[membership(member_id="c", tier="digital")]),
        MemberRecord("d", memberships=[membership(member_id="d", status=Status.PAUSED)]),
        MemberRecord(
            "e",
            memberships=[membership(id="m5", tier="digital", price_since=CUTOFF + timedelta(1))],
            addresses=[HOME],
            tier_history={"m5": [(BEFORE, "print")]},  # moved down after the cut-off
        ),
    ]
    lines = build_manifest(ISSUE, CATALOG, members, grace=timedelta(days=3))
    assert [(line.member_id, line.status) for line in lines] == [
        ("a", DeliveryStatus.MISSING_ADDRESS),
        ("b", DeliveryStatus.RECEIVES),
        ("d", DeliveryStatus.PAUSED),
        ("e", DeliveryStatus.RECEIVES),
    ]
    assert lines[1].address == HOME
    assert lines[1].quantity == 1


def test_the_catalog_says_which_tiers_include_which_products() -> None:
    assert delivery_keys(CATALOG) == {PRINT}
    assert tiers_including(CATALOG, PRINT) == {"print"}


# -- products and issues ------------------------------------------------------------------------
def test_a_product_key_must_be_a_delivery_entitlement() -> None:
    with pytest.raises(DeliveryError, match=r"must start with 'delivery\.'"):
        DeliveryProduct("content.print", "Print")
    with pytest.raises(DeliveryError, match="invalid entitlement key"):
        DeliveryProduct("delivery.Print Edition", "Print")
    assert DeliveryProduct(PRINT, "Print edition").key == PRINT


def test_an_issue_cut_off_must_come_before_the_ship_day() -> None:
    with pytest.raises(DeliveryError, match="must be before the ship day 2026-04-01"):
        Issue("i2", PRINT, "April", date(2026, 4, 1), datetime(2026, 4, 1, 9, tzinfo=UTC))
    with pytest.raises(DeliveryError, match="aware datetime"):
        Issue("i2", PRINT, "April", date(2026, 4, 1), datetime(2026, 3, 1))
    with pytest.raises(DeliveryError, match="needs a title"):
        Issue("i2", PRINT, " ", date(2026, 4, 1), CUTOFF)


def test_a_default_cut_off_is_whole_days_before_the_ship_day() -> None:
    assert default_cutoff(date(2026, 4, 1), 7) == datetime(2026, 3, 25, tzinfo=UTC)


# -- addresses ----------------------------------------------------------------------------------
def address(**changes: str) -> ShippingAddress:
    fields = {
        "name": "Ada Lovelace",
        "line1": "Street 1",
        "postcode": "10115",
        "city": "Berlin",
        "country": "DE",
    }
    fields.update(changes)
    return ShippingAddress.create(**fields)


@pytest.mark.parametrize(
    ("country", "typed", "kept"),
    [
        ("DE", "10115", "10115"),
        ("DE", "101 15", "10115"),
        ("NL", "1234ab", "1234 AB"),
        ("NL", "1234 AB", "1234 AB"),
        ("PL", "00-950", "00-950"),
        ("PL", "00950", "00-950"),
        ("DK", "2100", "2100"),
        ("DK", "DK-2100", "2100"),
        ("SE", "11455", "114 55"),
        ("GB", "sw1a1aa", "SW1A 1AA"),
        ("US", "12345-6789", "12345-6789"),
        ("IE", "D02 X285", "D02 X285"),
    ],
)
def test_postcodes_are_kept_in_their_countrys_format(country: str, typed: str, kept: str) -> None:
    assert address(country=country.lower(), postcode=typed).postcode == kept


@pytest.mark.parametrize(
    ("country", "typed", "expected"),
    [
        ("DE", "1011", "'1011' is not a postcode of DE; expected one like '12345'"),
        ("NL", "0123 AB", "'0123 AB' is not a postcode of NL; expected one like '1234 AB'"),
        ("PL", "12-3456", "'12-3456' is not a postcode of PL; expected one like '12-345'"),
        ("DK", "12345", "'12345' is not a postcode of DK; expected one like '1234'"),
    ],
)
def test_a_postcode_of_the_wrong_format_is_refused_naming_the_format(
    country: str, typed: str, expected: str
) -> None:
    with pytest.raises(AddressError) as caught:
        address(country=country, postcode=typed)
    assert caught.value.errors == {"postcode": expected}


def test_every_problem_of_an_address_is_reported_at_once_per_field() -> None:
    with pytest.raises(AddressError) as caught:
        address(name=" ", line1="", city="", country="XX")
    assert set(caught.value.errors) == {"name", "line1", "city", "country"}
    assert caught.value.errors["country"] == (
        "'XX' is not an ISO 3166-1 alpha-2 country code such as 'DE'"
    )
    assert isinstance(caught.value, MembershipError)
    assert "line1: this field is required" in str(caught.value)


def test_control_characters_and_overlong_fields_are_refused() -> None:
    with pytest.raises(AddressError) as caught:
        ShippingAddress("Ada", "Street 1", "10115", "x" * 101, "DE", line2="a\nb")
    assert caught.value.errors == {
        "line2": "control characters (tabs, line breaks) are not allowed",
        "city": "at most 100 characters, got 101",
    }


def test_line_breaks_typed_into_a_field_become_spaces() -> None:
    assert address(line1="Street\n1").line1 == "Street 1"


def test_an_address_in_a_country_not_shipped_to_is_refused() -> None:
    with pytest.raises(AddressError) as caught:
        ShippingAddress.create(
            name="A", line1="B", postcode="1000", city="C", country="BE", countries=["DE", "NL"]
        )
    assert caught.value.errors == {"country": "we do not ship to 'BE'; we ship to DE, NL"}


def test_an_invalid_address_cannot_be_built_directly() -> None:
    with pytest.raises(AddressError):
        ShippingAddress("A", "B", "1", "C", "DE")


def test_spaces_are_tidied_and_a_label_has_one_line_each() -> None:
    tidy = address(name="  Ada   Lovelace ", line2="Hinterhaus", country="de")
    assert tidy.lines == ("Ada Lovelace", "Street 1", "Hinterhaus", "10115 Berlin", "DE")
    assert tidy.same_place(address(line2="Hinterhaus"))
    assert normalize_postcode("DE", " 10115 ") == "10115"
