"""Referrals on the site: the link keeps the code and the pricing page shows the friend's
offer; the friend's checkout gets the offer (fake and bank transfer) and the referral is
recorded when the provider's webhook brings their membership; the job rewards the referrer
with a free month once, within the monthly cap (under concurrency on PostgreSQL); the
account page shows the link; the report is for staff; bad settings stop the site."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from membership_sdk.providers.fake import FakeProvider
from wagtail_paywall import checks
from wagtail_paywall import program as program_module
from wagtail_paywall.admin.referrals import revenue
from wagtail_paywall.billing import manual as bank
from wagtail_paywall.models import (
    Coupon,
    DjangoReferrals,
    LedgerEntry,
    ManualInvoice,
    Membership,
    Price,
    Referral,
    ReferralClaim,
    Tier,
)
from wagtail_paywall.tasks import deliver

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.wagtail.journey_fixtures"]

PRICING = "/paywall/pricing/"
ACCOUNT = "/paywall/account/"
CHECKOUT = "/paywall/checkout/"
REPORT = "/admin/paywall-referrals/"
MANUAL_SECRET = "tests-manual-secret"
REFERRALS = {"FRIEND_COUPON": "FRIEND", "MONTHLY_CAP": 2}


def site_settings(**referrals: Any) -> dict[str, Any]:
    return {
        "PROVIDERS": {
            "fake": {"secret": "tests-webhook-secret"},
            "manual": {"secret": MANUAL_SECRET},
        },
        "DEFAULT_PROVIDER": "fake",
        "GRACE_DAYS": 3,
        "REFERRALS": {**REFERRALS, **referrals},
    }


@pytest.fixture(autouse=True)
def referral_site(catalog: dict[str, Tier]) -> Iterator[None]:
    """A site with referrals on: friends get 50% off their first month (FRIEND), the
    referrer a free month per friend, two a month at most. Supporter monthly is also
    sold by bank transfer."""
    Coupon.objects.create(code="FRIEND", percent_off=50)
    price = Price.objects.get(key="supporter-monthly")
    price.provider_ids = {**price.provider_ids, "manual": "manual_supporter_monthly"}
    price.save()
    with override_settings(PAYWALL=site_settings()):
        program_module.reset_program()
        yield
    program_module.reset_program()


@pytest.fixture
def ann(make_user: Callable[..., Any]) -> Any:
    """The referrer."""
    return make_user("ann", first_name="Ann", last_name="Lee")


@pytest.fixture
def code(ann: Any) -> str:
    return DjangoReferrals().code_for(str(ann.pk))


def follow_link(client: Client, code: str) -> Any:
    return client.get(f"/paywall/r/{code}/")


def check_out(client: Client, price: str = "supporter-monthly", **fields: Any) -> Any:
    return client.post(CHECKOUT, {"price": price, "attempt": os.urandom(8).hex(), **fields})


def pay(fake: FakeProvider, response: Any) -> None:
    """Complete the fake checkout ``response`` redirected to, delivering its webhook."""
    assert response.status_code == 302, response.content
    session_id = response["Location"].rstrip("/").rsplit("/", 1)[1]
    webhook = fake.complete_checkout(session_id)
    deliver("fake", webhook.headers, webhook.body)


def referred_friend(client: Client, fake: FakeProvider, code: str, user: Any) -> Membership:
    """``user`` follows the link, checks out on the fake provider and pays."""
    client.force_login(user)
    follow_link(client, code)
    pay(fake, check_out(client))
    return Membership.objects.get(member_id=str(user.pk))


def run_job(days: float = 15) -> str:
    out = StringIO()
    moment = timezone.now() + timedelta(days=days)
    call_command("paywall_referrals", "--now", moment.isoformat(), stdout=out)
    return out.getvalue()


# -- the link ---------------------------------------------------------------------------------


def test_the_link_sends_the_visitor_to_the_pricing_page_with_the_friends_offer(
    client: Client, code: str
) -> None:
    response = follow_link(client, code.lower())

    assert response.status_code == 302
    assert response["Location"] == f"{PRICING}?referral=1"
    page = client.get(response["Location"]).content.decode()
    assert "Ann Lee invited you." in page
    assert "50% off the first period" in page


def test_a_made_up_code_is_a_404_naming_it_and_remembers_nothing(client: Client, code: str) -> None:
    response = follow_link(client, "NOSUCHCODE")

    assert response.status_code == 404
    assert "No member has the referral code “NOSUCHCODE”" in response.content.decode()
    assert "invited you" not in client.get(PRICING).content.decode()


def test_the_link_is_a_404_while_referrals_are_off(client: Client, code: str) -> None:
    with override_settings(PAYWALL={**site_settings(), "REFERRALS": {}}):
        response = follow_link(client, code)

    assert response.status_code == 404
    assert "does not run a referral programme" in response.content.decode()


def test_the_pricing_page_of_a_visitor_without_a_link_shows_no_offer(client: Client) -> None:
    assert "invited you" not in client.get(PRICING).content.decode()


# -- the friend's checkout --------------------------------------------------------------------


def test_a_friends_checkout_gets_the_offer(
    client: Client, fake: FakeProvider, code: str, reader: Any
) -> None:
    client.force_login(reader)
    follow_link(client, code)

    response = check_out(client)

    (session,) = fake.sessions.values()
    assert session.discount is not None
    assert session.discount.code == "FRIEND"
    assert session.discount.amount == 250  # the first month at 50% off
    assert response.status_code == 302


def test_the_checkout_records_a_claim_and_no_referral_until_the_webhook(
    client: Client, fake: FakeProvider, code: str, ann: Any, reader: Any
) -> None:
    client.force_login(reader)
    follow_link(client, code)
    response = check_out(client)

    assert ReferralClaim.objects.filter(friend_id=str(reader.pk)).exists()
    assert not Referral.objects.exists()

    pay(fake, response)

    referral = Referral.objects.get()
    assert (referral.referrer_id, referral.friend_id, referral.status) == (
        str(ann.pk),
        str(reader.pk),
        "pending",
    )
    assert Membership.objects.get(member_id=str(reader.pk)).coupon == "FRIEND"
    assert not ReferralClaim.objects.exists()


def test_a_code_the_friend_enters_wins_over_the_offer(
    client: Client, fake: FakeProvider, code: str, reader: Any
) -> None:
    Coupon.objects.create(code="BIGGER", percent_off=80)
    client.force_login(reader)
    follow_link(client, code)

    pay(fake, check_out(client, coupon="BIGGER"))

    assert Membership.objects.get(member_id=str(reader.pk)).coupon == "BIGGER"
    assert Referral.objects.get().friend_id == str(reader.pk)


def test_buying_a_one_off_item_through_the_link_claims_no_referral(
    client: Client, fake: FakeProvider, code: str, reader: Any
) -> None:
    client.force_login(reader)
    follow_link(client, code)

    pay(fake, check_out(client, price="report-2026"))

    assert not ReferralClaim.objects.exists()
    # A membership the friend starts later, without the link, is nobody's referral.
    later = Client()
    later.force_login(reader)
    pay(fake, check_out(later))
    assert Membership.objects.get(member_id=str(reader.pk)).status == "active"
    assert not Referral.objects.exists()


def test_a_friend_paying_by_bank_transfer_is_referred_when_the_transfer_arrives(
    client: Client, code: str, ann: Any, reader: Any
) -> None:
    client.force_login(reader)
    follow_link(client, code)

    response = check_out(client, provider="manual")

    (invoice,) = ManualInvoice.objects.all()
    assert response.status_code == 200
    assert invoice.amount == 250
    assert not Referral.objects.exists()
    row = bank.mark_received(invoice.reference)
    deliver(row.provider, row.headers, bytes(row.body))
    referral = Referral.objects.get()
    assert (referral.referrer_id, referral.status) == (str(ann.pk), "pending")


def test_following_ones_own_link_gives_no_offer_and_no_referral(
    client: Client, fake: FakeProvider, code: str, ann: Any
) -> None:
    client.force_login(ann)
    follow_link(client, code)

    assert "invited you" not in client.get(PRICING).content.decode()
    pay(fake, check_out(client))
    assert Membership.objects.get(member_id=str(ann.pk)).coupon == ""
    assert not Referral.objects.exists()
    assert not ReferralClaim.objects.exists()


def test_a_second_account_with_the_referrers_email_gets_no_offer(
    client: Client, fake: FakeProvider, code: str, make_user: Callable[..., Any]
) -> None:
    twin = make_user("ann2")
    twin.email = "ANN@example.com"
    twin.save()
    client.force_login(twin)
    follow_link(client, code)

    pay(fake, check_out(client))

    assert Membership.objects.get(member_id=str(twin.pk)).coupon == ""
    assert not Referral.objects.exists()


def test_a_former_member_gets_no_offer(
    client: Client,
    fake: FakeProvider,
    code: str,
    reader: Any,
    subscribe: Callable[..., Membership],
    program: Any,
) -> None:
    old = subscribe(reader, "supporter-monthly")
    program.cancel(old.id, at_period_end=False)
    client.force_login(reader)
    follow_link(client, code)

    assert "invited you" not in client.get(PRICING).content.decode()
    check_out(client)
    (session,) = [s for s in fake.sessions.values() if s.state == "open"]
    assert session.discount is None


# -- the reward -------------------------------------------------------------------------------


def test_the_job_gives_the_referrer_a_free_month_once(
    client: Client,
    fake: FakeProvider,
    code: str,
    ann: Any,
    reader: Any,
    subscribe: Callable[..., Membership],
) -> None:
    subscribe(ann, "supporter-monthly")
    referred_friend(client, fake, code, reader)

    first = run_job()
    second = run_job()

    assert first.startswith("Referrals: 1 qualified, 0 rejected, 1 rewarded")
    assert second.startswith("Referrals: 0 qualified, 0 rejected, 0 rewarded")
    membership = Membership.objects.get(member_id=str(ann.pk))
    assert membership.coupon.startswith("REFERRAL-")
    assert membership.amount == 0
    referral = Referral.objects.get()
    assert (referral.status, referral.reward_membership_id) == ("rewarded", membership.pk)


def test_the_job_before_the_window_ends_decides_nothing(
    client: Client, fake: FakeProvider, code: str, reader: Any
) -> None:
    referred_friend(client, fake, code, reader)

    assert run_job(days=13).startswith("Referrals: 0 qualified, 0 rejected, 0 rewarded")
    assert Referral.objects.get().status == "pending"


def test_a_friend_refunded_in_the_window_earns_nothing(
    client: Client, fake: FakeProvider, code: str, reader: Any, program: Any
) -> None:
    friend = referred_friend(client, fake, code, reader)
    program.refund(friend.pk)

    run_job()

    referral = Referral.objects.get()
    assert (referral.status, referral.reason) == ("rejected", "refunded")


def test_the_job_refuses_to_run_while_referrals_are_off() -> None:
    off = override_settings(PAYWALL={**site_settings(), "REFERRALS": {}})
    with off, pytest.raises(CommandError, match=r"referrals are off: set PAYWALL\['REFERRALS'\]"):
        run_job()


# -- the account page -------------------------------------------------------------------------


def test_the_account_page_shows_the_members_link_and_what_it_brought(
    client: Client,
    fake: FakeProvider,
    code: str,
    ann: Any,
    make_user: Callable[..., Any],
    subscribe: Callable[..., Membership],
) -> None:
    subscribe(ann, "supporter-monthly")
    referred_friend(Client(), fake, code, make_user("bob"))
    client.force_login(ann)

    page = client.get(ACCOUNT).content.decode()

    assert f"http://testserver/paywall/r/{code}/" in page
    assert "1 friend joined through your link" in page
    assert "0 rewards received" in page
    assert "1 reward pending" in page
    run_job()
    page = client.get(ACCOUNT).content.decode()
    assert "1 reward received" in page
    assert "0 rewards pending" in page


def test_a_members_code_is_made_once_and_kept(client: Client, reader: Any) -> None:
    client.force_login(reader)

    first = client.get(ACCOUNT).content.decode()
    second = client.get(ACCOUNT).content.decode()

    code = DjangoReferrals().code_for(str(reader.pk))
    assert f"/paywall/r/{code}/" in first
    assert f"/paywall/r/{code}/" in second


def test_the_account_page_asks_nothing_about_referrals_while_they_are_off(
    client: Client, reader: Any
) -> None:
    client.force_login(reader)
    off = override_settings(PAYWALL={**site_settings(), "REFERRALS": {}})
    with off, CaptureQueriesContext(connection) as queries:
        page = client.get(ACCOUNT).content.decode()

    assert "Invite a friend" not in page
    assert not [q for q in queries.captured_queries if "referral" in q["sql"]]


# -- the report -------------------------------------------------------------------------------


def test_the_report_lists_each_referral_with_its_revenue_and_totals(
    client: Client, fake: FakeProvider, code: str, reader: Any, editor: Any
) -> None:
    referred_friend(Client(), fake, code, reader)
    client.force_login(editor)

    page = client.get(REPORT).content.decode()

    assert "reader@example.com" in page
    assert "ann@example.com" in page
    assert "Pending" in page
    assert "€2.50" in page  # the friend's first month, at 50% off
    assert 'data-total="all">1<' in page


def paid_stretch(price: str, start: datetime, end: datetime, mrr: int) -> Referral:
    """A referral whose friend's membership on ``price`` was paid from ``start`` until it
    ended at ``end``, as the ledger records it."""
    Membership.objects.create(
        id="m-friend", member_id="2", tier="premium", status="canceled", provider="fake",
        price_id=price,
    )  # fmt: skip
    common = {"membership_id": "m-friend", "member_id": "2", "tier": "premium",
              "currency": "EUR"}  # fmt: skip
    LedgerEntry.objects.create(
        **common, seq=1, at=start, kind="new", status_before="", status_after="active",
        state_before="none", state_after="paid", mrr_before=0, mrr_after=mrr,
        month=start.date(), paid=1,
    )  # fmt: skip
    LedgerEntry.objects.create(
        **common, seq=2, at=end, kind="churned", status_before="active",
        status_after="canceled", state_before="paid", state_after="none",
        mrr_before=mrr, mrr_after=0, month=end.date(), paid=-1,
    )  # fmt: skip
    return Referral.objects.create(
        id="rfriend", code="ABCDEFGHJK", referrer_id="1", friend_id="2",
        membership_id="m-friend", created_at=start, status="qualified",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("price", "start", "end", "mrr", "paid"),
    [
        # 1 Jan -> 1 Feb: 31 days, one monthly period.
        (
            "premium-monthly",
            datetime(2026, 1, 1, tzinfo=UTC),
            datetime(2026, 2, 1, tzinfo=UTC),
            900,
            900,
        ),
        # 1 Feb -> 1 Mar: 28 days, one monthly period too.
        (
            "premium-monthly",
            datetime(2026, 2, 1, tzinfo=UTC),
            datetime(2026, 3, 1, tzinfo=UTC),
            900,
            900,
        ),
        # A day into the second month: two periods begun.
        (
            "premium-monthly",
            datetime(2026, 1, 1, tzinfo=UTC),
            datetime(2026, 2, 2, tzinfo=UTC),
            900,
            1800,
        ),
        # A leap year (366 days) is one yearly period.
        (
            "premium-yearly",
            datetime(2028, 1, 1, tzinfo=UTC),
            datetime(2029, 1, 1, tzinfo=UTC),
            1000,
            12000,
        ),
    ],
    ids=["a-31-day-month", "a-28-day-february", "into-a-second-month", "a-leap-year"],
)
def test_the_referral_report_counts_one_paid_month_once(
    price: str, start: datetime, end: datetime, mrr: int, paid: int
) -> None:
    referral = paid_stretch(price, start, end, mrr)

    assert revenue([referral], end + timedelta(days=40)) == {referral.id: ("EUR", paid)}


def test_the_report_is_refused_to_a_member(client: Client, reader: Any) -> None:
    client.force_login(reader)

    response = client.get(REPORT)

    assert response.status_code in (302, 403)


def test_the_report_as_csv(
    client: Client, fake: FakeProvider, code: str, reader: Any, editor: Any
) -> None:
    referred_friend(Client(), fake, code, reader)
    client.force_login(editor)

    lines = client.get(f"{REPORT}?format=csv").content.decode().splitlines()

    assert lines[0].startswith("referrer_id,friend_id,status")
    assert lines[1].endswith(",EUR,250")


# -- settings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("referrals", "check_id", "text"),
    [
        ({"FRIEND": "X"}, "wagtail_paywall.E036", "unknown key(s) ['FRIEND']"),
        ({"MONTHLY_CAP": 0}, "wagtail_paywall.E037", "monthly_cap must be >= 1, got 0"),
    ],
)
def test_bad_referral_settings_stop_the_site_naming_them(
    referrals: dict[str, Any], check_id: str, text: str
) -> None:
    with override_settings(PAYWALL={**site_settings(), "REFERRALS": referrals}):
        found = checks.check_referrals()

    assert [m.id for m in found] == [check_id]
    assert text in found[0].msg


def test_a_window_shorter_than_the_withdrawal_period_stops_a_site_offering_withdrawal() -> None:
    settings = {**site_settings(QUALIFY_DAYS=7), "WITHDRAWAL_BUTTON": True}
    with override_settings(PAYWALL=settings):
        found = checks.check_referrals()

    assert [m.id for m in found] == ["wagtail_paywall.E038"]


def test_the_built_in_providers_can_all_give_the_reward() -> None:
    assert checks.check_referrals() == []


# -- the cap under concurrency, on PostgreSQL ------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL"), reason="parallel transactions need PostgreSQL"
)
def test_parallel_jobs_never_reserve_more_rewards_than_the_monthly_cap() -> None:
    now = timezone.now()
    ids = []
    for i in range(8):
        Referral.objects.create(
            id=f"r{i}",
            code="C",
            referrer_id="ann",
            friend_id=f"f{i}",
            membership_id=f"m{i}",
            created_at=now,
        )
        ids.append(f"r{i}")
    start = threading.Barrier(len(ids))

    def qualify(referral_id: str) -> str:
        start.wait()
        try:
            stored = DjangoReferrals().qualify(referral_id, date(2026, 3, 1), 3, now)
            assert stored is not None
            return stored.status.value
        finally:
            connections.close_all()

    with ThreadPoolExecutor(len(ids)) as pool:
        outcomes = sorted(pool.map(qualify, ids))

    assert outcomes == ["qualified"] * 3 + ["rejected"] * 5
    assert Referral.objects.filter(status="qualified").count() == 3
