"""Services: a quota of something staff deliver (``service.consultation: 2 per month``),
requested by members, redeemed or declined by staff, never overrun."""

from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from lifecycle_builders import NOW, Clock, lifecycle_catalog, make_program, subscribe

from membership_sdk import Catalog, GrantKind, MembershipProgram, hookimpl
from membership_sdk.entitlements import Period, Quota
from membership_sdk.services import (
    MemoryServices,
    RequestStatus,
    ServiceDesk,
    ServiceError,
    ServiceNotHeld,
    ServiceQuotaExhausted,
    ServiceRequest,
    ServiceRequestClosed,
    UnknownService,
    UnknownServiceRequest,
    is_service,
    next_period_start,
    service_label,
)

CONSULTATION = "service.consultation"


def services_catalog() -> Catalog:
    """The lifecycle catalog, premium also giving two consultations a month and basic
    unlimited newsletter reviews."""
    base = lifecycle_catalog()
    tiers = []
    for tier in base.tiers:
        if tier.slug == "premium":
            tier = dataclasses.replace(
                tier, entitlements=(*tier.entitlements, f"{CONSULTATION}: 2 per month")
            )
        if tier.slug == "basic":
            tier = dataclasses.replace(tier, entitlements=(*tier.entitlements, "service.review"))
        tiers.append(tier)
    return Catalog(tiers, base.prices)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, ServiceRequest]] = []

    @hookimpl
    def membership_service_requested(self, request: ServiceRequest) -> None:
        self.calls.append(("requested", request))

    @hookimpl
    def membership_service_closed(self, request: ServiceRequest) -> None:
        self.calls.append((request.status.value, request))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def program(clock: Clock, recorder: Recorder) -> MembershipProgram:
    program = make_program(clock, plugins=(recorder,))
    program.catalog = services_catalog()
    return program


@pytest.fixture
def desk(program: MembershipProgram) -> ServiceDesk:
    return ServiceDesk(program)


def comp(program: MembershipProgram, member: str = "ann", **options: Any) -> None:
    options.setdefault("tier", "premium")
    program.grant(member, GrantKind.COMP, days=options.pop("days", 90), **options)


def left(desk: ServiceDesk, member: str = "ann", service: str = CONSULTATION) -> int | None:
    (found,) = [a for a in desk.allowances(member) if a.service == service]
    return found.left


# -- what a service is --------------------------------------------------------------------------


def test_a_service_is_an_entitlement_key_under_service() -> None:
    assert is_service("service.consultation")
    assert not is_service("service.")
    assert not is_service("content.premium")


def test_a_service_has_a_readable_name_made_from_its_key() -> None:
    assert service_label("service.legal-advice") == "Legal advice"


@pytest.mark.parametrize(
    ("period", "now", "expected"),
    [
        (Period.MONTH, datetime(2026, 12, 31, 23, 0, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        (Period.WEEK, datetime(2026, 3, 4, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC)),
        (Period.YEAR, datetime(2026, 3, 4, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        (Period.DAY, datetime(2026, 3, 4, 5, tzinfo=UTC), datetime(2026, 3, 5, tzinfo=UTC)),
    ],
)
def test_the_next_period_starts_at_the_next_calendar_boundary(
    period: Period, now: datetime, expected: datetime
) -> None:
    assert next_period_start(period, now) == expected


# -- the quota ----------------------------------------------------------------------------------


def test_a_member_requests_until_the_quota_is_used_then_is_refused(
    program: MembershipProgram, desk: ServiceDesk
) -> None:
    comp(program)
    desk.request("ann", CONSULTATION, "Tuesday morning, please")
    desk.request("ann", CONSULTATION)
    with pytest.raises(
        ServiceQuotaExhausted, match=r"used all 2 of 'service.consultation'.*2026-04-01"
    ):
        desk.request("ann", CONSULTATION)
    assert left(desk) == 0
    assert len(program.store.services.rows) == 2  # type: ignore[attr-defined]


def test_the_allowance_says_what_is_used_left_and_when_it_renews(
    program: MembershipProgram, desk: ServiceDesk
) -> None:
    comp(program)
    request = desk.request("ann", CONSULTATION, "  about my pension  ")
    (allowance,) = [a for a in desk.allowances("ann") if a.service == CONSULTATION]
    assert (allowance.used, allowance.left, allowance.limit) == (1, 1, 2)
    assert allowance.renews_at == datetime(2026, 4, 1, tzinfo=UTC)
    assert allowance.open == (request,)
    assert request.note == "about my pension"


def test_a_new_month_gives_a_full_quota_and_old_requests_count_in_their_month(
    program: MembershipProgram, desk: ServiceDesk, clock: Clock
) -> None:
    comp(program)
    clock.now = datetime(2026, 3, 31, 23, 59, tzinfo=UTC)
    first = desk.request("ann", CONSULTATION)
    desk.request("ann", CONSULTATION)
    clock.now = datetime(2026, 4, 1, 0, 0, tzinfo=UTC)
    assert left(desk) == 2
    desk.redeem(first.id)  # redeemed in April, counted in March
    assert left(desk) == 2
    assert first.period_start == datetime(2026, 3, 1, tzinfo=UTC)


def test_two_grants_of_one_service_merge_to_the_larger_quota(
    program: MembershipProgram, desk: ServiceDesk
) -> None:
    comp(program)
    comp(program, tier=None, entitlements=[f"{CONSULTATION}: 5 per month"])
    for _ in range(5):
        desk.request("ann", CONSULTATION)
    with pytest.raises(ServiceQuotaExhausted):
        desk.request("ann", CONSULTATION)


def test_a_service_without_a_quota_is_not_limited(
    program: MembershipProgram, desk: ServiceDesk
) -> None:
    comp(program, tier="basic")
    for _ in range(5):
        desk.request("ann", "service.review")
    (allowance,) = desk.allowances("ann")
    assert (allowance.used, allowance.left, allowance.quota) == (5, None, None)


def test_a_member_holding_no_service_has_no_allowances(
    program: MembershipProgram, desk: ServiceDesk
) -> None:
    assert desk.allowances("nobody") == []


# -- giving a slot back -------------------------------------------------------------------------


def test_cancelling_an_open_request_gives_its_slot_back(
    program: MembershipProgram, desk: ServiceDesk
) -> None:
    comp(program)
    first = desk.request("ann", CONSULTATION)
    desk.request("ann", CONSULTATION)
    canceled = desk.cancel("ann", first.id)
    assert canceled.status is RequestStatus.CANCELED
    assert canceled.closed_by == "ann"
    assert left(desk) == 1
    desk.request("ann", CONSULTATION)


def test_a_declined_request_gives_its_slot_back_and_keeps_the_staff_note(
    program: MembershipProgram, desk: ServiceDesk
) -> None:
    comp(program)
    request = desk.request("ann", CONSULTATION)
    declined = desk.decline(request.id, note="Out of office that week", by="7")
    assert (declined.status, declined.staff_note, declined.closed_by) == (
        RequestStatus.DECLINED,
        "Out of office that week",
        "7",
    )
    assert left(desk) == 2


def test_a_redeemed_request_keeps_its_slot(program: MembershipProgram, desk: ServiceDesk) -> None:
    comp(program)
    request = desk.request("ann", CONSULTATION)
    redeemed = desk.redeem(request.id, note="Talked 40 minutes")
    assert redeemed.status is RequestStatus.REDEEMED
    assert redeemed.closed_at == NOW
    assert left(desk) == 1


# -- closing twice, and someone else's ----------------------------------------------------------


def test_redeeming_twice_is_refused_saying_when_it_was_redeemed(
    program: MembershipProgram, desk: ServiceDesk
) -> None:
    comp(program)
    request = desk.request("ann", CONSULTATION)
    desk.redeem(request.id)
    with pytest.raises(ServiceRequestClosed, match=r"was redeemed on 2026-03-01"):
        desk.redeem(request.id)


def test_a_canceled_request_cannot_be_redeemed(
    program: MembershipProgram, desk: ServiceDesk
) -> None:
    comp(program)
    request = desk.request("ann", CONSULTATION)
    desk.cancel("ann", request.id)
    with pytest.raises(ServiceRequestClosed, match="was canceled"):
        desk.redeem(request.id)
    assert program.store.services.get(request.id).status is RequestStatus.CANCELED  # type: ignore[attr-defined]


def test_a_member_cannot_cancel_a_redeemed_request(
    program: MembershipProgram, desk: ServiceDesk
) -> None:
    comp(program)
    request = desk.request("ann", CONSULTATION)
    desk.redeem(request.id)
    with pytest.raises(ServiceRequestClosed):
        desk.cancel("ann", request.id)
    assert left(desk) == 1


def test_a_member_cannot_cancel_someone_elses_request(
    program: MembershipProgram, desk: ServiceDesk
) -> None:
    comp(program)
    request = desk.request("ann", CONSULTATION)
    with pytest.raises(UnknownServiceRequest, match=repr(request.id)):
        desk.cancel("bob", request.id)
    assert program.store.services.get(request.id).open  # type: ignore[attr-defined]


def test_an_unknown_request_id_is_named(desk: ServiceDesk) -> None:
    with pytest.raises(UnknownServiceRequest, match="'srv_nope'"):
        desk.redeem("srv_nope")


# -- who may request ----------------------------------------------------------------------------


def test_a_member_without_the_service_is_refused_naming_the_tiers_giving_it(
    program: MembershipProgram, desk: ServiceDesk
) -> None:
    comp(program, tier="basic")
    with pytest.raises(
        ServiceNotHeld, match=r"'ann' does not hold 'service.consultation'.*premium"
    ):
        desk.request("ann", CONSULTATION)
    assert program.store.services.rows == {}  # type: ignore[attr-defined]


def test_a_lapsed_grant_gives_no_service(
    program: MembershipProgram, desk: ServiceDesk, clock: Clock
) -> None:
    comp(program, days=10)
    clock.now = NOW + timedelta(days=11)
    with pytest.raises(ServiceNotHeld):
        desk.request("ann", CONSULTATION)
    assert desk.allowances("ann") == []


@pytest.mark.parametrize("key", ["content.premium", "service.", "", 3])
def test_a_key_that_is_no_service_is_refused_naming_it(
    program: MembershipProgram, desk: ServiceDesk, key: Any
) -> None:
    comp(program)
    with pytest.raises(UnknownService, match=repr(key)):
        desk.request("ann", key)


def test_a_note_longer_than_2000_characters_is_refused(
    program: MembershipProgram, desk: ServiceDesk
) -> None:
    comp(program)
    with pytest.raises(ServiceError, match="at most 2000 characters; this one has 2001"):
        desk.request("ann", CONSULTATION, "x" * 2001)
    assert left(desk) == 2


# -- memberships of each provider ---------------------------------------------------------------


@pytest.mark.parametrize("provider", ["fake", "manual"])
def test_a_paying_member_of_each_provider_gets_the_tiers_services(
    program: MembershipProgram, desk: ServiceDesk, provider: str
) -> None:
    subscribe(program, provider, price="premium-monthly")
    desk.request("ann", CONSULTATION)
    assert left(desk) == 1


@pytest.mark.parametrize("provider", ["fake", "manual"])
def test_a_paused_membership_gives_services_only_while_its_paid_period_lasts(
    program: MembershipProgram, desk: ServiceDesk, clock: Clock, provider: str
) -> None:
    membership = subscribe(program, provider, price="premium-monthly")  # paid to 1 April
    clock.now = NOW + timedelta(days=1)
    program.pause(membership.id, months=2)
    desk.request("ann", CONSULTATION)  # March was paid for
    clock.now = NOW + timedelta(days=32)
    with pytest.raises(ServiceNotHeld):
        desk.request("ann", CONSULTATION)


def test_no_services_while_paused_when_pauses_give_no_access(clock: Clock) -> None:
    program = make_program(clock, pause_access="none")
    program.catalog = services_catalog()
    membership = subscribe(program, "fake", price="premium-monthly")
    clock.now = NOW + timedelta(days=1)
    program.pause(membership.id, months=1)
    with pytest.raises(ServiceNotHeld):
        ServiceDesk(program).request("ann", CONSULTATION)


# -- hooks --------------------------------------------------------------------------------------


def test_requests_and_their_outcomes_fire_hooks_once_each(
    program: MembershipProgram, desk: ServiceDesk, recorder: Recorder
) -> None:
    comp(program)
    first = desk.request("ann", CONSULTATION, "hello")
    second = desk.request("ann", CONSULTATION)
    desk.redeem(first.id)
    desk.cancel("ann", second.id)
    with pytest.raises(ServiceRequestClosed):
        desk.decline(second.id)
    assert [(name, r.id) for name, r in recorder.calls] == [
        ("requested", first.id),
        ("requested", second.id),
        ("redeemed", first.id),
        ("canceled", second.id),
    ]


# -- concurrency --------------------------------------------------------------------------------


def test_parallel_requests_never_take_more_than_the_quota(
    program: MembershipProgram, desk: ServiceDesk
) -> None:
    comp(program)
    start = threading.Barrier(8)

    def attempt(_: int) -> str:
        start.wait()
        try:
            desk.request("ann", CONSULTATION)
        except ServiceQuotaExhausted:
            return "refused"
        return "taken"

    with ThreadPoolExecutor(8) as pool:
        outcomes = sorted(pool.map(attempt, range(8)))
    assert outcomes == ["refused"] * 6 + ["taken"] * 2


def test_parallel_redeems_of_one_request_close_it_once() -> None:
    store = MemoryServices()
    request = ServiceRequest("srv_1", "ann", CONSULTATION, NOW, NOW.replace(day=1))
    assert store.reserve(request, 2) == 1
    start = threading.Barrier(6)

    def attempt(_: int) -> str:
        start.wait()
        try:
            store.close("srv_1", RequestStatus.REDEEMED, NOW, note="", by="staff")
        except ServiceRequestClosed:
            return "refused"
        return "redeemed"

    with ThreadPoolExecutor(6) as pool:
        assert sorted(pool.map(attempt, range(6))) == ["redeemed"] + ["refused"] * 5


# -- the store port -----------------------------------------------------------------------------


def test_a_desk_needs_a_store_that_keeps_services(program: MembershipProgram) -> None:
    class Bare:
        pass

    program.store = Bare()  # type: ignore[assignment]
    with pytest.raises(ServiceError, match="Bare keeps no service requests"):
        ServiceDesk(program)


def test_the_store_lists_this_periods_requests_and_older_open_ones() -> None:
    store = MemoryServices()
    march, feb = NOW.replace(day=1), NOW.replace(month=2, day=1)
    old_open = ServiceRequest("srv_1", "ann", CONSULTATION, feb, feb)
    old_done = ServiceRequest("srv_2", "ann", CONSULTATION, feb, feb)
    new = ServiceRequest("srv_3", "ann", CONSULTATION, NOW, march)
    for request in (old_open, old_done, new):
        store.reserve(request, None)
    store.close("srv_2", RequestStatus.REDEEMED, feb, note="", by="")
    assert [r.id for r in store.for_member("ann", march)] == ["srv_3", "srv_1"]


def test_an_allowance_with_a_quota_counts_down_to_zero_not_below() -> None:
    from membership_sdk.services import Allowance

    allowance = Allowance(CONSULTATION, Quota(2), used=3, period_start=NOW, renews_at=NOW)
    assert allowance.left == 0
