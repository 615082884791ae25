"""Content attribution: the page (and paywall variant) a checkout started from, kept with
the membership or purchase when the provider's event arrives, on fake, bank transfer and
Stripe; and the "Pages by conversions" report."""

from __future__ import annotations

import csv as csv_module
import io
import json
import re
from collections.abc import Callable, Iterator
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core import signing
from django.test import Client, override_settings

from membership_sdk.providers import CheckoutSession
from membership_sdk.providers.fake import FakeProvider
from wagtail_paywall.billing import attribution
from wagtail_paywall.models import Attribution, Membership, PaywallTest, PaywallVariant, Price
from wagtail_paywall.program import get_program, reset_program
from wagtail_paywall.tasks import deliver

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.wagtail.gating_fixtures", "tests.wagtail.journey_fixtures"]

CHECKOUT = "/paywall/checkout/"
PRICING = "/paywall/pricing/"
REPORT = "/admin/paywall-page-conversions/"


@pytest.fixture
def article(make_article: Any, catalog: Any) -> Any:
    return make_article("tier", tiers=[catalog["supporter"], catalog["premium"]], title="Why")


@pytest.fixture
def member(client: Client, reader: Any) -> Client:
    client.force_login(reader)
    return client


def source_on(html: str) -> str:
    """The signed source the paywall's checkout forms carry."""
    found = re.search(r'name="source" value="([^"]+)"', html)
    assert found, "the paywall's forms carry the page they are on"
    return unescape(found.group(1))


def complete(fake: FakeProvider, response: Any) -> None:
    session_id = response["Location"].rstrip("/").rsplit("/", 1)[-1]
    webhook = fake.complete_checkout(session_id)
    deliver("fake", webhook.headers, webhook.body)


# -- the source -----------------------------------------------------------------------------
def test_a_checkout_from_a_paywall_records_the_page(
    member: Client, article: Any, reader: Any
) -> None:
    source = source_on(member.get(article.url).content.decode())

    member.post(CHECKOUT, {"price": "premium-monthly", "source": source})

    row = Attribution.objects.get()
    assert (row.member_id, row.page_id, row.price_id) == (
        str(reader.pk),
        article.pk,
        "premium-monthly",
    )
    assert row.converted_at is None
    assert row.currency == "EUR"


def test_the_provider_is_told_the_source_page(
    member: Client, article: Any, fake: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[Any] = []
    original = fake.create_checkout
    monkeypatch.setattr(fake, "create_checkout", lambda r: asked.append(r) or original(r))
    source = source_on(member.get(article.url).content.decode())

    member.post(CHECKOUT, {"price": "premium-monthly", "source": source})

    assert asked[0].metadata["source_page"] == str(article.pk)


def test_a_forged_source_is_ignored_and_the_checkout_still_starts(
    member: Client, article: Any
) -> None:
    forged = signing.dumps({"p": article.pk, "v": None}, salt="another-salt")

    response = member.post(CHECKOUT, {"price": "premium-monthly", "source": forged})

    assert response.status_code == 302
    assert not Attribution.objects.exists()


def test_a_raw_page_id_is_not_trusted(member: Client, article: Any) -> None:
    member.post(CHECKOUT, {"price": "premium-monthly", "source": str(article.pk)})
    member.get(f"{PRICING}?from={article.pk}")
    member.post(CHECKOUT, {"price": "premium-yearly"})

    assert not Attribution.objects.exists()


def test_an_expired_source_is_ignored(
    member: Client, article: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = attribution.sign_source(article.pk, None)
    monkeypatch.setattr(attribution, "MAX_AGE", -1)

    member.post(CHECKOUT, {"price": "premium-monthly", "source": source})

    assert not Attribution.objects.exists()


def test_the_source_travels_through_the_pricing_page_and_signing_in(
    client: Client, article: Any, reader: Any
) -> None:
    html = client.get(article.url).content.decode()  # anonymous: no forms, a pricing link
    link = unescape(re.search(r'href="(/paywall/pricing/\?from=[^"]+)"', html).group(1))
    client.get(link)
    client.force_login(reader)  # Django keeps the session's data across signing in

    client.post(CHECKOUT, {"price": "premium-yearly"})

    assert Attribution.objects.get().page_id == article.pk


def test_a_retry_of_one_checkout_records_it_once(member: Client, article: Any) -> None:
    source = source_on(member.get(article.url).content.decode())
    form = {"price": "premium-monthly", "source": source, "attempt": "nonce-1"}

    member.post(CHECKOUT, form)
    member.post(CHECKOUT, form)

    assert Attribution.objects.count() == 1


def test_a_deleted_page_keeps_its_figures_without_the_page(
    member: Client, article: Any, fake: FakeProvider
) -> None:
    source = source_on(member.get(article.url).content.decode())
    complete(fake, member.post(CHECKOUT, {"price": "premium-monthly", "source": source}))

    article.delete()

    row = Attribution.objects.get()
    assert row.page_id is None
    assert row.membership_id


# -- conversions, per provider --------------------------------------------------------------
def test_a_fake_subscription_converts_the_checkout_with_its_revenue(
    member: Client, article: Any, fake: FakeProvider, reader: Any
) -> None:
    source = source_on(member.get(article.url).content.decode())

    complete(fake, member.post(CHECKOUT, {"price": "premium-yearly", "source": source}))

    row = Attribution.objects.get()
    membership = Membership.objects.get(member_id=str(reader.pk))
    assert row.membership_id == membership.id
    assert row.converted_at is not None
    assert (row.amount, row.mrr, row.currency) == (12000, 1000, "EUR")


def test_a_trial_converts_with_nothing_paid_yet(
    member: Client, article: Any, fake: FakeProvider
) -> None:
    source = source_on(member.get(article.url).content.decode())

    complete(fake, member.post(CHECKOUT, {"price": "premium-monthly", "source": source}))

    row = Attribution.objects.get()
    assert row.membership_id
    assert (row.amount, row.mrr) == (0, 0)


def test_a_purchase_converts_the_checkout(member: Client, article: Any, fake: FakeProvider) -> None:
    source = source_on(member.get(article.url).content.decode())

    complete(fake, member.post(CHECKOUT, {"price": "report-2026", "source": source}))

    row = Attribution.objects.get()
    assert row.grant_id
    assert not row.membership_id
    assert (row.amount, row.mrr) == (900, 0)


def test_a_purchase_at_a_member_price_converts_with_what_the_member_paid(
    client: Client, make_article: Any, supporter: Any
) -> None:
    report = Price.objects.get(key="report-2026")
    report.member_amounts = {"supporter": 500}
    report.save()
    reset_program()
    sold = make_article("purchase", paywall_purchase_item="doc:annual-report", title="Report")
    client.force_login(supporter)
    source = source_on(client.get(sold.url).content.decode())

    fake = get_program().providers["fake"]
    complete(fake, client.post(CHECKOUT, {"price": "report-2026", "source": source}))

    assert Attribution.objects.values_list("amount", flat=True).get() == 500


def test_a_replayed_webhook_converts_once(member: Client, article: Any, fake: FakeProvider) -> None:
    source = source_on(member.get(article.url).content.decode())
    response = member.post(CHECKOUT, {"price": "premium-yearly", "source": source})
    webhook = fake.complete_checkout(response["Location"].rstrip("/").rsplit("/", 1)[-1])

    deliver("fake", webhook.headers, webhook.body)
    deliver("fake", webhook.headers, webhook.body)

    assert Attribution.objects.filter(converted_at__isnull=False).count() == 1


def test_another_members_checkout_is_not_converted_by_this_subscription(
    reader: Any, subscribe: Callable[..., Membership], article: Any
) -> None:
    Attribution.objects.create(
        member_id="someone-else",
        page=article,
        price_id="premium-yearly",
        provider="fake",
        started_at=get_program().clock(),
    )

    subscribe(reader)

    assert not Attribution.objects.filter(converted_at__isnull=False).exists()


def test_the_variant_shown_is_kept_with_the_conversion(
    member: Client, article: Any, fake: FakeProvider, catalog: Any
) -> None:
    test = PaywallTest.objects.create(name="T", status=PaywallTest.Status.RUNNING)
    control = PaywallVariant.objects.create(test=test, name="A", heading="Go")
    PaywallVariant.objects.create(test=test, name="B", heading="Go on", weight=0)
    source = source_on(member.get(article.url).content.decode())

    complete(fake, member.post(CHECKOUT, {"price": "premium-yearly", "source": source}))

    row = Attribution.objects.get()
    assert row.variant == control
    assert row.converted_at is not None


@pytest.fixture
def with_manual(catalog: Any) -> Iterator[Any]:
    Price.objects.filter(key="supporter-monthly").update(
        provider_ids={"fake": "fake_price_supporter_monthly", "manual": "manual_supporter"}
    )
    providers = {**settings.PAYWALL["PROVIDERS"], "manual": {"secret": "tests-manual"}}
    with override_settings(PAYWALL={**settings.PAYWALL, "PROVIDERS": providers}):
        reset_program()
        yield get_program().providers["manual"]
    reset_program()


def test_a_bank_transfer_paid_days_later_converts_the_checkout(
    with_manual: Any, member: Client, article: Any, reader: Any
) -> None:
    source = source_on(member.get(article.url).content.decode())
    response = member.post(
        CHECKOUT, {"price": "supporter-monthly", "provider": "manual", "source": source}
    )
    assert response.status_code == 200  # the instructions: no payment page
    row = Attribution.objects.get()
    assert row.provider == "manual"
    assert row.converted_at is None

    webhook = with_manual.confirm_payment(row.checkout_id)
    deliver("manual", webhook.headers, webhook.body)

    row.refresh_from_db()
    assert row.membership_id == Membership.objects.get(member_id=str(reader.pk)).id
    assert (row.amount, row.mrr) == (500, 500)


STRIPE_SECRET = "whsec_tests_attribution"
STRIPE_PAYLOAD = (
    Path(__file__).parents[1]
    / "stripe/payloads/2025-09-30.clover/customer.subscription.created.active.json"
)


@pytest.fixture
def with_stripe(catalog: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    pytest.importorskip("stripe")
    Price.objects.filter(key="premium-monthly").update(
        provider_ids={"fake": "fake_price_premium_monthly", "stripe": "price_PayGoldMonthly"},
        trial_days=0,
    )
    paywall = {
        **settings.PAYWALL,
        "PROVIDERS": {
            **settings.PAYWALL["PROVIDERS"],
            "stripe": {"api_key": "sk_test_attribution", "webhook_secret": STRIPE_SECRET},
        },
    }
    with override_settings(PAYWALL=paywall):
        reset_program()
        provider = get_program().providers["stripe"]
        sent: list[Any] = []

        def create_checkout(request: Any) -> CheckoutSession:
            # Stripe's API is not called here (tests/stripe replays it): what matters is
            # what the checkout asks Stripe to keep, and the webhook Stripe sends back.
            sent.append(request)
            return CheckoutSession("stripe", "cs_test_attr", "https://checkout.stripe.com/c/x")

        monkeypatch.setattr(provider, "create_checkout", create_checkout)
        monkeypatch.setattr(provider, "fetch_subscription", lambda _id: None)
        yield sent
    reset_program()


def test_a_stripe_subscription_converts_the_checkout(
    with_stripe: list[Any], member: Client, article: Any, reader: Any
) -> None:
    from tests.stripe.replay import sign

    source = source_on(member.get(article.url).content.decode())
    member.post(CHECKOUT, {"price": "premium-monthly", "provider": "stripe", "source": source})
    (request,) = with_stripe
    assert request.metadata["source_page"] == str(article.pk)
    event = json.loads(STRIPE_PAYLOAD.read_text())["event"]
    event["data"]["object"]["metadata"]["member_id"] = str(reader.pk)
    body = json.dumps(event)
    headers = {
        f"HTTP_{k.upper().replace('-', '_')}": v for k, v in sign(body, STRIPE_SECRET).items()
    }

    response = Client().post(
        "/paywall/webhooks/stripe/", data=body, content_type="application/json", **headers
    )

    assert response.status_code == 200
    row = Attribution.objects.get()
    membership = Membership.objects.get(member_id=str(reader.pk))
    assert row.membership_id == membership.id
    assert row.converted_at is not None
    assert row.provider == "stripe"
    assert row.currency == "EUR"


# -- the report -----------------------------------------------------------------------------
def test_the_report_lists_pages_by_conversions_with_revenue(
    member: Client,
    article: Any,
    fake: FakeProvider,
    make_article: Any,
    catalog: Any,
    editor: Any,
) -> None:
    source = source_on(member.get(article.url).content.decode())
    complete(fake, member.post(CHECKOUT, {"price": "premium-yearly", "source": source}))
    quiet = make_article("tier", tiers=[catalog["premium"]], title="Quiet")
    Attribution.objects.create(
        member_id="x",
        page=quiet,
        price_id="premium-monthly",
        provider="fake",
        currency="EUR",
        started_at=get_program().clock(),
    )
    admin = Client()
    admin.force_login(editor)

    html = admin.get(REPORT).content.decode()
    csv = admin.get(REPORT, {"format": "csv"}).content.decode().splitlines()

    assert html.index("Why") < html.index("Quiet")
    assert "120.00" in html
    assert "10.00" in html
    assert (
        csv[0]
        == "page_id,page,currency,checkouts_started,conversions,first_payments_minor,mrr_minor"
    )
    assert csv[1] == f"{article.pk},Why,EUR,1,1,12000,1000"
    assert csv[2] == f"{quiet.pk},Quiet,EUR,1,0,0,0"


def test_the_report_needs_its_permission(client: Client, make_user: Callable[..., Any]) -> None:
    from django.contrib.auth.models import Permission

    staff = make_user("staff", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="access_admin"))
    client.force_login(staff)

    assert client.get(REPORT).status_code in (302, 403)
    staff.user_permissions.add(Permission.objects.get(codename="view_attribution"))
    assert client.get(REPORT).status_code == 200


def test_the_reports_csv_never_starts_a_page_title_as_a_formula(
    make_article: Any, catalog: Any, editor: Any
) -> None:
    page = make_article("tier", tiers=[catalog["premium"]], title="=cmd|' /C calc'!A0")
    Attribution.objects.create(
        member_id="x",
        page=page,
        price_id="premium-monthly",
        provider="fake",
        currency="EUR",
        started_at=get_program().clock(),
    )
    admin = Client()
    admin.force_login(editor)

    rows = list(
        csv_module.reader(io.StringIO(admin.get(REPORT, {"format": "csv"}).content.decode()))
    )

    assert rows[1][1] == "'=cmd|' /C calc'!A0"
