"""Loyalty rewards on the site: set in the admin, given by ``manage.py paywall_loyalty``
once per member and reward (also twice at once, on PostgreSQL), shown on the account page
with the member's standing, and a personal code no one else can see or use."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from membership_sdk import CouponError, MembershipProgram, Status
from membership_sdk.membership import Membership
from membership_sdk.providers.fake import FakeProvider
from membership_sdk.providers.simulated import add_interval
from wagtail_paywall import program as program_module
from wagtail_paywall.billing.loyalty import give_due_rewards, member_standing
from wagtail_paywall.models import (
    Coupon,
    CouponRedemption,
    Grant,
    LoyaltyAward,
    LoyaltyReward,
    Tier,
)

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.wagtail.journey_fixtures"]

ACCOUNT = "/paywall/account/"


def months_ago(n: int) -> datetime:
    return add_interval(timezone.now(), "month", -n) if n else timezone.now()


@pytest.fixture
def rewards(catalog: dict[str, Tier]) -> None:
    """After 12 paid months 20% off a year (a personal code); after 24 the archive."""
    LoyaltyReward.objects.create(
        key="year-one",
        name="20% off a year",
        after_months=12,
        coupon_prefix="LOYAL",
        percent_off=20,
    )
    LoyaltyReward.objects.create(
        key="archive", name="The archive", after_months=24, entitlement="downloads.archive"
    )


def paid_for(
    program: MembershipProgram,
    user: Any,
    months: int,
    *,
    provider: str = "fake",
    status: Status = Status.ACTIVE,
) -> Membership:
    """Store a membership of ``user`` through ``provider`` that has paid ``months``
    months up to now (and the month running)."""
    membership = Membership(
        id=f"{provider}-{user.pk}-{months}",
        member_id=str(user.pk),
        tier="premium",
        status=status,
        provider=provider,
        price_id="premium-monthly",
        provider_subscription_id=f"sub_{provider}_{user.pk}",
        started_at=months_ago(months) - timedelta(hours=1),
        current_period_end=months_ago(-1),
        paid_through=months_ago(-1),
    )
    program.store.memberships.save(membership)
    return membership


def run_job() -> str:
    out = StringIO()
    call_command("paywall_loyalty", stdout=out)
    return out.getvalue()


# -- the admin --------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client: Client, editor: Any) -> Client:
    client.force_login(editor)
    return client


def reward_form(**changes: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "key": "year-one",
        "name": "20% off a year",
        "after_months": 12,
        "entitlement": "",
        "days": "",
        "coupon_prefix": "LOYAL",
        "percent_off": 20,
        "amount_off": "",
        "currency": "",
        "duration": "once",
        "months": "",
        "active": "on",
    }
    form.update(changes)
    return form


def test_a_publisher_adds_a_reward_in_the_admin(admin_client: Client) -> None:
    response = admin_client.post(reverse("paywall_loyalty:add"), reward_form())

    assert response.status_code == 302
    [reward] = LoyaltyReward.objects.all()
    assert reward.to_core().coupon is not None
    assert reward.to_core().coupon.percent_off == 20  # type: ignore[union-attr]


def test_the_admin_refuses_a_reward_with_an_entitlement_and_a_coupon(
    admin_client: Client,
) -> None:
    response = admin_client.post(
        reverse("paywall_loyalty:add"), reward_form(entitlement="downloads.archive")
    )

    assert response.status_code == 200
    assert "Give either an entitlement or a coupon, not both." in response.content.decode()
    assert not LoyaltyReward.objects.exists()


def test_the_admin_refuses_coupon_terms_the_core_would_refuse(admin_client: Client) -> None:
    response = admin_client.post(reverse("paywall_loyalty:add"), reward_form(months=3))

    assert response.status_code == 200
    assert "months is only for a repeating coupon" in response.content.decode()
    assert not LoyaltyReward.objects.exists()


def test_the_admin_refuses_a_reward_after_zero_months(admin_client: Client) -> None:
    response = admin_client.post(reverse("paywall_loyalty:add"), reward_form(after_months=0))

    assert response.status_code == 200
    assert not LoyaltyReward.objects.exists()


def test_a_member_cannot_open_the_rewards_admin(client: Client, reader: Any) -> None:
    client.force_login(reader)

    response = client.get(reverse("paywall_loyalty:index"))

    assert response.status_code in (302, 403)


# -- the job ----------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["fake", "manual", "stripe"])
def test_a_member_with_a_year_paid_gets_a_personal_code(
    rewards: None, program: MembershipProgram, reader: Any, provider: str
) -> None:
    paid_for(program, reader, 13, provider=provider)

    output = run_job()

    [award] = LoyaltyAward.objects.filter(member_id=str(reader.pk))
    assert award.reward == "year-one"
    coupon = Coupon.objects.get(code=award.coupon_code)
    assert (coupon.member_id, coupon.max_redemptions, coupon.percent_off) == (
        str(reader.pk),
        1,
        20,
    )
    assert "Gave 1 loyalty reward(s): 0 entitlement(s), 1 personal coupon code(s)." in output


def test_two_years_paid_grant_the_archive(
    rewards: None, program: MembershipProgram, reader: Any
) -> None:
    paid_for(program, reader, 25)

    run_job()

    grant = Grant.objects.get(source=f"loyalty:archive:{reader.pk}")
    assert grant.ends_at is None
    assert "downloads.archive" in program_module.get_program().context(str(reader.pk)).entitlements


def test_running_the_job_twice_gives_one_reward(
    rewards: None, program: MembershipProgram, reader: Any
) -> None:
    paid_for(program, reader, 25)
    run_job()

    output = run_job()

    assert "Gave 0 loyalty reward(s)" in output
    assert LoyaltyAward.objects.count() == 2
    assert Grant.objects.filter(source__startswith="loyalty:").count() == 1
    assert Coupon.objects.filter(member_id=str(reader.pk)).count() == 1


def test_trial_and_unpaid_months_do_not_count(
    rewards: None, program: MembershipProgram, reader: Any
) -> None:
    membership = paid_for(program, reader, 13)
    program.store.memberships.save(
        membership.replace(trial_end=months_ago(12), status=Status.PAST_DUE, paid_through=None)
    )
    program.store.memberships.save(
        membership.replace(
            trial_end=months_ago(12),
            status=Status.PAST_DUE,
            paid_through=months_ago(1),
            current_period_end=months_ago(0),
        )
    )

    run_job()

    assert not LoyaltyAward.objects.exists()


def test_an_inactive_reward_is_not_given(
    rewards: None, program: MembershipProgram, reader: Any
) -> None:
    LoyaltyReward.objects.update(active=False)
    paid_for(program, reader, 30)

    assert give_due_rewards() == []


def test_a_reward_given_stays_when_the_membership_ends(
    rewards: None, program: MembershipProgram, reader: Any
) -> None:
    membership = paid_for(program, reader, 25)
    run_job()

    program.store.memberships.save(
        membership.replace(status=Status.CANCELED, current_period_end=timezone.now())
    )
    run_job()

    grant = Grant.objects.get(source=f"loyalty:archive:{reader.pk}")
    assert grant.revoked_at is None
    assert LoyaltyAward.objects.filter(member_id=str(reader.pk)).count() == 2


def test_the_job_reads_memberships_in_bulk(
    rewards: None,
    program: MembershipProgram,
    make_user: Callable[..., Any],
    django_assert_max_num_queries: Any,
) -> None:
    for i in range(10):
        paid_for(program, make_user(f"short{i}"), 5)

    with django_assert_max_num_queries(5):
        assert give_due_rewards() == []


# -- the account page -------------------------------------------------------------------------


def test_the_account_page_shows_the_standing_the_code_and_the_next_reward(
    rewards: None, program: MembershipProgram, reader: Any, login: Callable[[Any], Client]
) -> None:
    membership = paid_for(program, reader, 13)
    run_job()
    code = LoyaltyAward.objects.get(member_id=str(reader.pk)).coupon_code

    page = login(reader).get(ACCOUNT).content.decode()

    since = membership.started_at
    assert since is not None
    assert f"Member since {since:%B %Y} · 13 paid months" in page
    assert "20% off a year" in page
    assert code in page
    assert "In 11 paid months: The archive" in page


def test_the_account_page_shows_the_entitlement_until_when(
    catalog: dict[str, Tier],
    program: MembershipProgram,
    reader: Any,
    login: Callable[[Any], Client],
) -> None:
    LoyaltyReward.objects.create(
        key="month",
        name="A month of the archive",
        after_months=6,
        entitlement="downloads.archive",
        days=30,
    )
    paid_for(program, reader, 7)
    run_job()
    grant = Grant.objects.get(source=f"loyalty:month:{reader.pk}")
    assert grant.ends_at is not None

    page = login(reader).get(ACCOUNT).content.decode()

    assert f"A month of the archive \N{EN DASH} until {date_format(grant.ends_at)}" in page
    # Listed once: in the loyalty section, not again under "Other access".
    assert "Other access" not in page


def test_someone_who_never_paid_sees_no_standing(
    rewards: None, reader: Any, login: Callable[[Any], Client]
) -> None:
    page = login(reader).get(ACCOUNT).content.decode()

    assert "Your standing" not in page
    assert "Member since" not in page


def test_another_member_sees_neither_your_code_nor_your_standing(
    rewards: None,
    program: MembershipProgram,
    reader: Any,
    make_user: Callable[..., Any],
    login: Callable[[Any], Client],
) -> None:
    paid_for(program, reader, 13)
    run_job()
    code = LoyaltyAward.objects.get(member_id=str(reader.pk)).coupon_code
    other = make_user("other")

    page = login(other).get(ACCOUNT).content.decode()

    assert code not in page
    assert "Member since" not in page


def test_only_its_member_may_use_a_personal_code_at_checkout(
    rewards: None, program: MembershipProgram, reader: Any, make_user: Callable[..., Any]
) -> None:
    paid_for(program, reader, 13)
    run_job()
    code = LoyaltyAward.objects.get(member_id=str(reader.pk)).coupon_code
    other = str(make_user("other").pk)
    site = program_module.get_program()

    with pytest.raises(CouponError) as refused:
        site.start_checkout(
            other,
            "premium-yearly",
            provider="fake",
            success_url="/",
            cancel_url="/",
            coupon=code,
        )
    session = site.start_checkout(
        str(reader.pk),
        "premium-yearly",
        provider="fake",
        success_url="/",
        cancel_url="/",
        coupon=code.lower(),
    )

    assert refused.value.reason == "unknown"
    assert session.id


# -- using the personal code: on the running membership, or at checkout -----------------------


def loyal_subscriber(subscribe: Callable[..., Any], user: Any) -> tuple[str, str]:
    """``user`` subscribed to supporter monthly (€5) through the fake provider 13 months
    ago and got the year-one code: (their code, their membership's id)."""
    row = subscribe(user, "supporter-monthly")
    type(row).objects.filter(pk=row.pk).update(started_at=months_ago(13) - timedelta(hours=1))
    give_due_rewards()
    return LoyaltyAward.objects.get(member_id=str(user.pk)).coupon_code, row.pk


def use_code(client: Client, code: str, membership: str) -> Any:
    return client.post(reverse("paywall:loyalty_use"), {"code": code, "membership": membership})


def test_a_loyal_member_uses_their_personal_code_on_their_membership(
    rewards: None,
    program: MembershipProgram,
    fake: FakeProvider,
    subscribe: Callable[..., Any],
    reader: Any,
    login: Callable[[Any], Client],
) -> None:
    code, membership_id = loyal_subscriber(subscribe, reader)
    client = login(reader)
    page = client.get(ACCOUNT).content.decode()
    assert "Use it on my membership" in page

    response = use_code(client, code, membership_id)

    assert response.status_code == 302
    assert response["Location"] == ACCOUNT
    after = program_module.get_program().store.memberships.get(membership_id)
    assert after is not None
    assert (after.coupon, after.amount) == (code, 400)  # 20% off €5
    page = client.get(ACCOUNT).content.decode()
    assert f"Your code {code} is on your membership" in page
    assert "Use it on my membership" not in page
    assert f"{code}</code> \N{EN DASH} used" in page
    # Redeemed: the checkout takes it no more (its member would get "already used").
    assert CouponRedemption.objects.get(code=code).held_until is None


def test_a_checkout_of_a_member_with_a_membership_sends_them_to_the_account_page_button(
    rewards: None,
    subscribe: Callable[..., Any],
    reader: Any,
    login: Callable[[Any], Client],
) -> None:
    code, _ = loyal_subscriber(subscribe, reader)
    client = login(reader)

    response = client.post(
        "/paywall/checkout/",
        {"price": "premium-yearly", "coupon": code, "attempt": os.urandom(8).hex()},
    )

    assert response.status_code == 302
    assert response["Location"] == ACCOUNT
    assert "Use it on my membership" in client.get(ACCOUNT).content.decode()


def test_a_former_member_enters_their_personal_code_at_the_checkout(
    rewards: None,
    program: MembershipProgram,
    fake: FakeProvider,
    reader: Any,
    login: Callable[[Any], Client],
) -> None:
    ended = paid_for(program, reader, 13)
    program.store.memberships.save(
        ended.replace(status=Status.CANCELED, canceled_at=timezone.now())
    )
    give_due_rewards()
    code = LoyaltyAward.objects.get(member_id=str(reader.pk)).coupon_code
    client = login(reader)
    page = client.get(ACCOUNT).content.decode()
    assert "enter it at checkout" in page
    assert "Use it on my membership" not in page

    response = client.post(
        "/paywall/checkout/",
        {"price": "premium-yearly", "coupon": code, "attempt": os.urandom(8).hex()},
    )

    assert response.status_code == 302
    assert "/account/" not in response["Location"]
    (session,) = fake.sessions.values()
    assert session.discount is not None
    assert (session.discount.code, session.discount.amount) == (code, 12000 * 80 // 100)


def test_a_code_cannot_go_on_another_members_membership(
    rewards: None,
    subscribe: Callable[..., Any],
    reader: Any,
    make_user: Callable[..., Any],
    login: Callable[[Any], Client],
) -> None:
    code, _ = loyal_subscriber(subscribe, reader)
    other = make_user("other")
    theirs = subscribe(other, "supporter-monthly")

    response = use_code(login(reader), code, theirs.pk)

    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.coupon == ""
    assert not CouponRedemption.objects.exists()


def test_another_member_cannot_put_your_code_on_their_membership(
    rewards: None,
    subscribe: Callable[..., Any],
    reader: Any,
    make_user: Callable[..., Any],
    login: Callable[[Any], Client],
) -> None:
    code, _ = loyal_subscriber(subscribe, reader)
    other = make_user("other")
    theirs = subscribe(other, "supporter-monthly")

    response = use_code(login(other), code, theirs.pk)

    assert response.status_code == 409
    assert "This code is not valid" in response.content.decode()
    theirs.refresh_from_db()
    assert theirs.coupon == ""


def test_using_a_code_without_the_csrf_token_is_refused(
    rewards: None, subscribe: Callable[..., Any], reader: Any, strict_client: Client
) -> None:
    code, membership_id = loyal_subscriber(subscribe, reader)
    strict_client.force_login(reader)

    response = use_code(strict_client, code, membership_id)

    assert response.status_code == 403
    assert not CouponRedemption.objects.exists()


def test_a_code_is_refused_while_a_discount_runs_on_the_membership(
    rewards: None,
    subscribe: Callable[..., Any],
    reader: Any,
    login: Callable[[Any], Client],
) -> None:
    code, membership_id = loyal_subscriber(subscribe, reader)
    site = program_module.get_program()
    site.apply_discount(membership_id, code="STAY", percent_off=30, months=3)
    client = login(reader)
    assert "once the discount it has now has ended" in client.get(ACCOUNT).content.decode()

    response = use_code(client, code, membership_id)

    assert response.status_code == 409
    assert "already has a discount running" in response.content.decode()
    after = site.store.memberships.get(membership_id)
    assert after is not None
    assert after.coupon == "STAY"
    assert not CouponRedemption.objects.exists()


def test_using_a_code_twice_applies_it_once(
    rewards: None,
    subscribe: Callable[..., Any],
    reader: Any,
    login: Callable[[Any], Client],
) -> None:
    code, membership_id = loyal_subscriber(subscribe, reader)
    client = login(reader)
    use_code(client, code, membership_id)

    response = use_code(client, code, membership_id)

    assert response.status_code == 409
    assert "You have already used this code." in response.content.decode()


def test_an_anonymous_visitor_is_sent_to_log_in(client: Client) -> None:
    response = use_code(client, "LOYAL-ABCDEFGH", "m1")

    assert response.status_code == 302
    assert "login" in response["Location"]


# -- once, on PostgreSQL with real concurrency ------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL"), reason="parallel transactions need PostgreSQL"
)
def test_two_jobs_at_once_give_each_reward_once(
    rewards: None, program: MembershipProgram, make_user: Callable[..., Any]
) -> None:
    members = [make_user(f"loyal{i}") for i in range(5)]
    for member in members:
        paid_for(program, member, 25)
    start = threading.Barrier(4)

    def job(_: int) -> int:
        start.wait()
        try:
            return len(give_due_rewards())
        finally:
            connections.close_all()

    with ThreadPoolExecutor(4) as pool:
        given = sum(pool.map(job, range(4)))

    assert given == 10
    assert LoyaltyAward.objects.count() == 10
    assert Grant.objects.filter(source__startswith="loyalty:").count() == 5
    assert Coupon.objects.exclude(member_id="").count() == 5


# -- system checks -------------------------------------------------------------------------------


def _loyalty_errors() -> list[str]:
    from wagtail_paywall.checks import check_loyalty_rewards

    return [e.id for e in check_loyalty_rewards(databases=["default"]) if e.id]


def test_a_reward_saved_outside_the_admin_that_the_core_refuses_stops_the_site(
    catalog: dict[str, Tier],
) -> None:
    LoyaltyReward.objects.create(key="broken", name="Broken", after_months=6)

    assert _loyalty_errors() == ["wagtail_paywall.E033"]


def test_a_coupon_reward_in_a_currency_nothing_is_sold_in_stops_the_site(
    catalog: dict[str, Tier],
) -> None:
    LoyaltyReward.objects.create(
        key="usd",
        name="$5 off",
        after_months=6,
        coupon_prefix="USD",
        amount_off=500,
        currency="USD",
    )

    assert _loyalty_errors() == ["wagtail_paywall.E034"]


def test_valid_rewards_pass_the_checks(rewards: None) -> None:
    assert _loyalty_errors() == []


def test_the_standing_costs_one_query_on_a_site_with_no_reward(
    catalog: dict[str, Tier],
    program: MembershipProgram,
    reader: Any,
    django_assert_num_queries: Any,
) -> None:
    paid_for(program, reader, 3)
    memberships = list(program.store.memberships.for_member(str(reader.pk)))

    with django_assert_num_queries(1):
        found = member_standing(str(reader.pk), memberships)

    assert found is not None
    assert found[0].tenure.paid_months == 3
