"""Gift memberships on the site: the "Give a gift" page to a paid gift (fake provider and
bank transfer, through their webhooks), the redeem page, the account page, refunds, the
gift emails, and a code redeemed once under concurrency on PostgreSQL."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connections
from django.test import Client, override_settings
from django.utils import timezone

from membership_sdk import GrantKind, MembershipProgram
from membership_sdk.gifts import GiftAlreadyRedeemed
from membership_sdk.providers.fake import FakeProvider
from wagtail_paywall import program as program_module
from wagtail_paywall.billing import manual as bank
from wagtail_paywall.billing.gifts import send_due
from wagtail_paywall.models import Gift, GiftOrder, Grant, ManualInvoice, Price, Tier
from wagtail_paywall.tasks import deliver

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.wagtail.journey_fixtures"]

GIVE = "/paywall/gifts/give/"
REDEEM = "/paywall/gifts/redeem/"
ACCOUNT = "/paywall/account/"


@pytest.fixture
def gift_prices(catalog: dict[str, Tier]) -> None:
    """The site sells 1, 3, 6 and 12 months of Premium as gifts."""
    for months in (1, 3, 6, 12):
        Price.objects.create(
            key=f"premium-gift-{months}",
            tier=catalog["premium"],
            amount=1000 * months,
            currency="EUR",
            interval=Price.Interval.ONE_OFF,
            gift_months=months,
            provider_ids={"fake": f"fake_premium_gift_{months}"},
        )
    program_module.reset_program()


@pytest.fixture
def committed(django_capture_on_commit_callbacks: Any) -> Any:
    """Run what waits for the transaction to commit, as production would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def pay(fake: FakeProvider) -> Callable[[Any], None]:
    """Complete the fake checkout a response redirected to, and deliver its webhook."""

    def run(response: Any) -> None:
        assert response.status_code == 302, response.content
        session_id = response["Location"].rstrip("/").rsplit("/", 1)[1]
        webhook = fake.complete_checkout(session_id)
        deliver("fake", webhook.headers, webhook.body)

    return run


def give(client: Client, months: int = 3, **fields: Any) -> Any:
    return client.post(
        GIVE, {"price": f"premium-gift-{months}", "attempt": os.urandom(8).hex(), **fields}
    )


# -- buying -------------------------------------------------------------------------------------


def test_the_give_page_offers_each_gift_price(
    gift_prices: None, reader: Any, login: Callable[[Any], Client]
) -> None:
    page = login(reader).get(GIVE).content.decode()

    for label in ("1 month: €10.00", "3 months: €30.00", "12 months: €120.00"):
        assert f"Premium for {label}" in page


def test_the_give_page_asks_anonymous_visitors_to_sign_in(
    gift_prices: None, client: Client
) -> None:
    response = client.get(GIVE)

    assert response.status_code == 302
    assert "login" in response["Location"]


def test_a_paid_gift_shows_its_code_on_the_buyers_account_and_gives_them_no_access(
    gift_prices: None,
    reader: Any,
    login: Callable[[Any], Client],
    pay: Callable[[Any], None],
    program: MembershipProgram,
) -> None:
    client = login(reader)

    pay(give(client, 3, recipient_email="bo@example.com", message="Enjoy!"))

    gift = Gift.objects.get(buyer_id=str(reader.pk))
    assert (gift.months, gift.recipient_email, gift.message) == (3, "bo@example.com", "Enjoy!")
    page = client.get(ACCOUNT).content.decode()
    assert gift.code in page
    assert "Not redeemed yet" in page
    assert not program.context(str(reader.pk)).tiers - {"free"}


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"recipient_email": "not an address"}, "Enter a valid email address."),
        ({"send_on": "2001-01-01", "recipient_email": "bo@example.com"}, "Choose today"),
        ({"send_on": "2099-01-01"}, "Give the recipient&#x27;s email"),
        ({"price": "premium-monthly"}, "Select a valid choice."),
    ],
)
def test_a_bad_gift_form_says_why_and_starts_no_checkout(
    gift_prices: None,
    reader: Any,
    login: Callable[[Any], Client],
    fake: FakeProvider,
    fields: dict[str, str],
    error: str,
) -> None:
    response = give(login(reader), **fields)

    assert response.status_code == 400
    assert error in response.content.decode()
    assert fake.sessions == {}
    assert not GiftOrder.objects.exists()


def test_a_gift_paid_by_bank_transfer_is_made_when_the_transfer_is_confirmed(
    gift_prices: None, reader: Any, login: Callable[[Any], Client]
) -> None:
    price = Price.objects.get(key="premium-gift-6")
    price.provider_ids = {"manual": "manual_premium_gift_6"}
    price.save()
    with override_settings(
        PAYWALL={
            "PROVIDERS": {"manual": {"secret": "tests-manual-secret"}},
            "DEFAULT_PROVIDER": "manual",
        }
    ):
        program_module.reset_program()
        response = give(login(reader), 6, recipient_email="bo@example.com")
        (invoice,) = ManualInvoice.objects.all()
        assert response.status_code == 200
        assert invoice.reference in response.content.decode()
        assert not Gift.objects.exists()
        row = bank.mark_received(invoice.reference)
        deliver(row.provider, row.headers, bytes(row.body))

    gift = Gift.objects.get(buyer_id=str(reader.pk))
    assert (gift.months, gift.recipient_email) == (6, "bo@example.com")
    assert gift.source.startswith("manual:")


# -- redeeming -------------------------------------------------------------------------------------


@pytest.fixture
def paid_gift(
    gift_prices: None, make_user: Callable[..., Any], program: MembershipProgram, fake: FakeProvider
) -> Gift:
    """A paid three-month gift of Premium, bought by ``buyer``."""
    buyer = make_user("buyer")
    session = program.start_gift_checkout(
        str(buyer.pk), "premium-gift-3", provider="fake", success_url="/ok", cancel_url="/no"
    )
    webhook = fake.complete_checkout(session.id)
    deliver("fake", webhook.headers, webhook.body)
    return Gift.objects.get(buyer_id=str(buyer.pk))


def test_redeeming_a_code_gives_the_tier_until_the_gift_ends(
    paid_gift: Gift, reader: Any, login: Callable[[Any], Client], program: MembershipProgram
) -> None:
    client = login(reader)

    response = client.post(REDEEM, {"code": paid_gift.code.lower().replace("-", " ")})

    assert response.status_code == 302
    grant = Grant.objects.get(member_id=str(reader.pk))
    assert grant.kind == GrantKind.GIFT
    assert grant.ends_at is not None
    assert timedelta(days=89) <= grant.ends_at - timezone.now() <= timedelta(days=92)
    assert "premium" in program.context(str(reader.pk)).tiers
    page = client.get(ACCOUNT).content.decode()
    assert "Gifts you hold" in page
    assert "Gift redeemed: you have Premium until" in page


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("ZZZZ-ZZZZ-ZZZZ-ZZZZ", "No gift has this code. Check it for typos."),
        ("", "This field is required."),
        ("x" * 65, "Ensure this value has at most 64 characters"),
    ],
)
def test_a_bad_code_is_a_form_error_that_says_why(
    paid_gift: Gift, reader: Any, login: Callable[[Any], Client], code: str, error: str
) -> None:
    response = login(reader).post(REDEEM, {"code": code})

    assert response.status_code == 400
    assert error in response.content.decode()
    assert not Grant.objects.filter(member_id=str(reader.pk)).exists()


def test_a_code_redeemed_before_is_refused_by_the_page(
    paid_gift: Gift,
    reader: Any,
    make_user: Callable[..., Any],
    login: Callable[[Any], Client],
    program: MembershipProgram,
) -> None:
    program.redeem_gift(paid_gift.code, str(make_user("first").pk))

    response = login(reader).post(REDEEM, {"code": paid_gift.code})

    assert response.status_code == 400
    assert "This gift code was already redeemed." in response.content.decode()


def test_the_redeem_page_asks_anonymous_visitors_to_sign_in(client: Client) -> None:
    response = client.post(REDEEM, {"code": "ABCD"})

    assert response.status_code == 302
    assert "login" in response["Location"]


def test_a_refund_after_redeeming_takes_the_gift_back(
    paid_gift: Gift, reader: Any, program: MembershipProgram, fake: FakeProvider
) -> None:
    program.redeem_gift(paid_gift.code, str(reader.pk))

    webhook = fake.refund(paid_gift.source.split(":", 1)[1])
    deliver("fake", webhook.headers, webhook.body)

    assert "premium" not in program.context(str(reader.pk)).tiers
    assert Gift.objects.get(pk=paid_gift.pk).refunded_at is not None
    assert Grant.objects.get(member_id=str(reader.pk)).revoked_at is not None


def test_a_refunded_gift_is_refused_by_the_page(
    paid_gift: Gift, reader: Any, login: Callable[[Any], Client], fake: FakeProvider
) -> None:
    webhook = fake.refund(paid_gift.source.split(":", 1)[1])
    deliver("fake", webhook.headers, webhook.body)

    response = login(reader).post(REDEEM, {"code": paid_gift.code})

    assert response.status_code == 400
    assert "This gift was refunded" in response.content.decode()


# -- emails ----------------------------------------------------------------------------------------


def test_the_buyer_is_emailed_the_code_and_a_recipient_without_a_day_at_once(
    gift_prices: None,
    reader: Any,
    login: Callable[[Any], Client],
    pay: Callable[[Any], None],
    committed: Any,
) -> None:
    client = login(reader)
    with committed():
        pay(give(client, 1, recipient_email="bo@example.com", message="For your trip"))

    gift = Gift.objects.get()
    by_address = {tuple(m.to): m for m in mail.outbox}
    assert set(by_address) == {("reader@example.com",), ("bo@example.com",)}
    assert gift.code in by_address["reader@example.com",].body
    received = by_address["bo@example.com",]
    assert received.subject == "You have been given Premium"
    assert "For your trip" in received.body
    assert f"/paywall/gifts/redeem/?code={gift.code}" in received.body
    assert send_due() == type(send_due())()  # nothing left to send


def test_a_recipient_is_emailed_on_the_chosen_day_once(
    gift_prices: None,
    reader: Any,
    login: Callable[[Any], Client],
    pay: Callable[[Any], None],
    committed: Any,
) -> None:
    day = timezone.localdate() + timedelta(days=5)
    with committed():
        pay(give(login(reader), 12, recipient_email="bo@example.com", send_on=day.isoformat()))
    assert [m.to for m in mail.outbox] == [["reader@example.com"]]
    mail.outbox.clear()

    early = send_due(now=timezone.now() + timedelta(days=4))
    on_the_day = send_due(now=timezone.now() + timedelta(days=5, hours=1))
    again = send_due(now=timezone.now() + timedelta(days=6))

    assert (early.recipients, on_the_day.recipients, again.recipients) == (0, 1, 0)
    assert [m.to for m in mail.outbox] == [["bo@example.com"]]


def test_a_redeemed_gift_is_not_emailed_to_its_recipient(
    gift_prices: None,
    reader: Any,
    login: Callable[[Any], Client],
    pay: Callable[[Any], None],
    program: MembershipProgram,
) -> None:
    day = timezone.localdate() + timedelta(days=5)
    pay(give(login(reader), 3, recipient_email="bo@example.com", send_on=day.isoformat()))
    program.redeem_gift(Gift.objects.get().code, str(reader.pk))

    assert send_due(now=timezone.now() + timedelta(days=6)).recipients == 0


def test_the_holder_is_offered_to_subscribe_a_week_before_the_gift_ends_once(
    paid_gift: Gift, reader: Any, program: MembershipProgram
) -> None:
    grant = program.redeem_gift(paid_gift.code, str(reader.pk))
    assert grant.ends_at is not None
    mail.outbox.clear()

    too_early = send_due(now=grant.ends_at - timedelta(days=8))
    mail.outbox.clear()  # the buyer's code, which the paid_gift fixture did not send
    first = send_due(now=grant.ends_at - timedelta(days=6))
    second = send_due(now=grant.ends_at - timedelta(days=5))

    assert (too_early.reminders, first.reminders, second.reminders) == (0, 1, 0)
    (email,) = mail.outbox
    assert email.to == ["reader@example.com"]
    assert email.subject == "Your gift of Premium ends soon"
    assert "/paywall/pricing/" in email.body


def test_the_command_reports_what_it_sent(paid_gift: Gift) -> None:
    out = StringIO()

    call_command("paywall_gifts", "--days", "3", stdout=out)

    assert out.getvalue().startswith("Sent 1 code(s) to buyers, 0 to recipients and 0 reminder")


# -- a code redeems once, on PostgreSQL with real concurrency -------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL"), reason="parallel transactions need PostgreSQL"
)
def test_members_redeeming_one_code_in_parallel_get_one_grant(
    paid_gift: Gift, make_user: Callable[..., Any]
) -> None:
    members = [str(make_user(f"m{i}").pk) for i in range(6)]
    start = threading.Barrier(len(members))

    def attempt(member: str) -> str:
        start.wait()
        try:
            program_module.get_program().redeem_gift(paid_gift.code, member)
        except GiftAlreadyRedeemed:
            return "refused"
        finally:
            connections.close_all()
        return "redeemed"

    with ThreadPoolExecutor(len(members)) as pool:
        outcomes = list(pool.map(attempt, members))

    assert sorted(outcomes) == ["redeemed"] + ["refused"] * 5
    assert Grant.objects.filter(kind=GrantKind.GIFT).count() == 1


def test_the_metrics_report_counts_gift_holders_apart_from_paying_members(
    paid_gift: Gift, reader: Any, program: MembershipProgram
) -> None:
    from wagtail_paywall.reports import membership as reports

    program.redeem_gift(paid_gift.code, str(reader.pk))

    members = reports.members_now()
    assert (members.gift, members.paid, members.trialing) == (1, 0, 0)
    assert reports.movements().mrr == {}


def test_the_pricing_page_links_to_gifts_when_some_are_on_sale(
    gift_prices: None, client: Client
) -> None:
    page = client.get("/paywall/pricing/").content.decode()

    assert 'href="/paywall/gifts/give/"' in page
    assert 'href="/paywall/gifts/redeem/"' in page
