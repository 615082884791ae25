"""Member prices on the site: the admin sets and checks them, the paywall and the pricing
page show "€9.00 once · members €5.00" and what membership saves, a member sees and pays
their own price (fake provider and bank transfer, end to end through the webhook), and
nothing a browser sends can get a member price for someone who is no member."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client, override_settings
from django.urls import reverse

from membership_sdk.providers.fake import FakeProvider
from tests.wagtail.gating_helpers import hold_membership, now
from wagtail_paywall import program as program_module
from wagtail_paywall.billing import manual as bank
from wagtail_paywall.checks import check_member_prices
from wagtail_paywall.models import Grant, ManualInvoice, Price, Tier
from wagtail_paywall.tasks import deliver

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.wagtail.journey_fixtures", "tests.wagtail.gating_fixtures"]

CHECKOUT = "/paywall/checkout/"
PRICING = "/paywall/pricing/"
ITEM = "doc:annual-report"


@pytest.fixture
def member_priced(catalog: dict[str, Tier]) -> Price:
    """The annual report: €9.00, €5.00 for Supporter members (and those ranked above)."""
    report = Price.objects.get(key="report-2026")
    report.member_amounts = {"supporter": 500}
    report.save()
    program_module.reset_program()
    return report


@pytest.fixture
def report_page(make_article: Callable[..., Any], member_priced: Price) -> Any:
    """An article sold as the annual report (a purchase rule)."""
    return make_article("purchase", paywall_purchase_item=ITEM)


def buy(client: Client, **fields: Any) -> Any:
    return client.post(CHECKOUT, {"price": "report-2026", "attempt": os.urandom(8).hex(), **fields})


def session_of(response: Any) -> str:
    assert response.status_code == 302, response.content
    return str(response["Location"].rstrip("/").rsplit("/", 1)[1])


# -- the admin ---------------------------------------------------------------------------------
def edit_report(admin_client: Client, member_amounts: str, **fields: Any) -> Any:
    price = Price.objects.get(key="report-2026")
    data = {
        "key": "report-2026",
        "nickname": "",
        "tier": "",
        "item": ITEM,
        "item_name": "Annual report 2026",
        "amount": 900,
        "currency": "EUR",
        "interval": "one_off",
        "trial_days": 0,
        "provider_ids": '{"fake": "fake_price_report"}',
        "member_amounts": member_amounts,
        **fields,
    }
    return admin_client.post(reverse("paywall_prices:edit", args=[price.pk]), data)


def test_member_prices_set_in_the_admin_reach_the_catalog(
    admin_client: Client, program: Any
) -> None:
    response = edit_report(admin_client, '{"supporter": 500, "premium": 300}')

    assert response.status_code == 302
    price = program_module.get_program().catalog.price("report-2026")
    assert price.member_amounts == {"supporter": 500, "premium": 300}


@pytest.mark.parametrize(
    ("member_amounts", "message"),
    [
        ('{"supporter": 900}', "The member price for supporter (900) must be above 0 and below"),
        ('{"supporter": 0}', "The member price for supporter (0) must be above 0"),
        ('{"platinum": 500}', "There is no tier platinum."),
        ('{"supporter": "5.00"}', "Enter the member prices as"),
        ("[500]", "Enter the member prices as"),
    ],
)
def test_the_admin_refuses_a_member_price_the_catalog_would_refuse_and_says_why(
    admin_client: Client, program: Any, member_amounts: str, message: str
) -> None:
    response = edit_report(admin_client, member_amounts)

    assert response.status_code == 200
    assert message in response.content.decode().replace("&#x27;", "'")
    assert Price.objects.get(key="report-2026").member_amounts == {}


def test_member_prices_are_refused_on_a_tier_price(catalog: dict[str, Tier]) -> None:
    price = Price.objects.get(key="supporter-monthly")
    price.member_amounts = {"premium": 300}

    with pytest.raises(ValidationError, match="Member prices are for one-off items"):
        price.full_clean()


def test_a_tier_deleted_after_its_member_price_leaves_the_site_working_and_the_check_names_it(
    member_priced: Price, client: Client
) -> None:
    Price.objects.filter(pk=member_priced.pk).update(member_amounts={"gone": 400})
    program_module.reset_program()

    assert client.get(PRICING).status_code == 200
    assert program_module.get_program().catalog.price("report-2026").member_amounts == {}
    [error] = check_member_prices(databases=["default"])
    assert error.id == "wagtail_paywall.E030"
    assert "'report-2026'" in error.msg
    assert "gone" in error.msg


def test_the_checks_name_member_prices_above_the_list_price_and_on_tier_prices(
    member_priced: Price,
) -> None:
    Price.objects.filter(pk=member_priced.pk).update(member_amounts={"supporter": 1000})
    Price.objects.filter(key="supporter-monthly").update(member_amounts={"premium": 100})

    errors = {e.id: e.msg for e in check_member_prices(databases=["default"])}

    assert set(errors) == {"wagtail_paywall.E031", "wagtail_paywall.E032"}
    assert "'report-2026'" in errors["wagtail_paywall.E031"]
    assert "'supporter-monthly'" in errors["wagtail_paywall.E032"]


def test_the_checks_ask_nothing_of_the_database_unless_told_to(member_priced: Price) -> None:
    Price.objects.filter(pk=member_priced.pk).update(member_amounts={"gone": 400})

    assert check_member_prices(databases=None) == []


# -- what the paywall and the pricing page show ----------------------------------------------
def test_the_paywall_shows_a_visitor_the_member_price_and_what_membership_saves(
    client: Client, report_page: Any
) -> None:
    html = client.get(report_page.url).content.decode()

    assert "€9.00 once" in html
    assert " · members €5.00" in html
    assert "Membership saves you €4.00 on this." in html
    assert 'href="/paywall/pricing/#members-pay-less"' in html


def test_a_member_sees_their_own_price_on_the_buy_button(
    client: Client, report_page: Any, supporter: Any
) -> None:
    client.force_login(supporter)
    html = client.get(report_page.url).content.decode()

    assert "your member price €5.00" in html
    assert "As a Supporter member you save €4.00." in html
    assert "Buy Annual report 2026 for €5.00" in html


def test_a_member_of_a_higher_ranked_tier_sees_the_member_price_too(
    client: Client, report_page: Any, premium: Any
) -> None:
    client.force_login(premium)

    assert "Buy Annual report 2026 for €5.00" in client.get(report_page.url).content.decode()


def test_a_lapsed_member_sees_the_list_price_on_the_buy_button(
    client: Client, report_page: Any, make_user: Callable[..., Any]
) -> None:
    user = make_user("formersupporter")
    hold_membership(user, "supporter", "expired", now() - timedelta(days=3))
    client.force_login(user)
    html = client.get(report_page.url).content.decode()

    assert "Buy Annual report 2026" in html
    assert "Buy Annual report 2026 for" not in html
    assert "your member price" not in html
    assert " · members €5.00" in html


def test_the_pricing_page_lists_what_members_pay_for_each_item(
    client: Client, member_priced: Price
) -> None:
    html = client.get(PRICING).content.decode()

    assert "Members pay less" in html
    assert "Supporter members: €5.00 (save €4.00)" in html
    assert "Premium members: €5.00 (save €4.00)" not in html  # only the tiers it names
    assert " · members €5.00" in html


def test_the_pricing_page_offers_a_member_their_price(
    client: Client, member_priced: Price, supporter: Any
) -> None:
    client.force_login(supporter)
    html = client.get(PRICING).content.decode()

    assert "Buy for €5.00" in html
    assert "You pay €5.00" in html


def test_the_pricing_page_has_no_member_section_without_member_prices(
    client: Client, program: Any
) -> None:
    assert "Members pay less" not in client.get(PRICING).content.decode()


def test_member_prices_cost_no_query_beyond_the_visitors_access(
    client: Client, member_priced: Price, supporter: Any, django_assert_max_num_queries: Any
) -> None:
    client.force_login(supporter)
    client.get(PRICING)  # warm the catalog and the member's cached rows
    with django_assert_max_num_queries(4):  # the session, the user, the access rows, ...
        html = client.get(PRICING).content.decode()
    assert "Buy for €5.00" in html


# -- the checkout charges it -------------------------------------------------------------------
def test_a_member_pays_the_member_price_on_the_fake_provider_and_gets_the_item(
    client: Client, member_priced: Price, supporter: Any, fake: FakeProvider, program: Any
) -> None:
    client.force_login(supporter)
    session_id = session_of(buy(client))

    page = client.get(f"/paywall/fake/checkout/{session_id}/").content.decode()
    assert "€5.00 instead of €9.00" in page
    assert fake.checkout(session_id).amount == 500
    hook = fake.complete_checkout(session_id)
    deliver("fake", hook.headers, hook.body)

    grant = Grant.objects.get(member_id=str(supporter.pk), kind="purchase")
    assert grant.item == ITEM
    assert ITEM in program_module.get_program().context(str(supporter.pk)).purchases


def test_a_member_pays_the_member_price_by_bank_transfer(
    client: Client, member_priced: Price, supporter: Any
) -> None:
    member_priced.provider_ids = {"manual": "manual_report"}
    member_priced.save()
    with override_settings(
        PAYWALL={
            "PROVIDERS": {"manual": {"secret": "tests-manual-secret"}},
            "DEFAULT_PROVIDER": "manual",
        }
    ):
        program_module.reset_program()
        program_module.get_program().grant(str(supporter.pk), "comp", tier="supporter", days=30)
        client.force_login(supporter)
        response = buy(client)
        (invoice,) = ManualInvoice.objects.all()
        assert response.status_code == 200
        assert "Amount due: €5.00" in response.content.decode()
        assert invoice.amount == 500
        row = bank.mark_received(invoice.reference)
        deliver(row.provider, row.headers, bytes(row.body))

    assert Grant.objects.filter(member_id=str(supporter.pk), kind="purchase", item=ITEM).exists()


def test_a_visitor_who_is_no_member_is_charged_the_list_price(
    client: Client, member_priced: Price, reader: Any, fake: FakeProvider
) -> None:
    client.force_login(reader)

    assert fake.checkout(session_of(buy(client))).amount == 900


def test_a_forged_post_cannot_get_the_member_price_for_someone_who_is_no_member(
    client: Client, member_priced: Price, reader: Any, supporter: Any, fake: FakeProvider
) -> None:
    client.force_login(reader)
    forged = buy(
        client,
        amount="500",
        member_tier="supporter",
        tier="supporter",
        member_id=str(supporter.pk),
        discount="500",
    )

    checkout = fake.checkout(session_of(forged))
    assert (checkout.amount, checkout.member_id, checkout.discount) == (900, str(reader.pk), None)


def test_a_checkout_post_without_csrf_is_refused(
    strict_client: Client, member_priced: Price, supporter: Any, fake: FakeProvider
) -> None:
    strict_client.force_login(supporter)

    assert buy(strict_client).status_code == 403
    assert fake.sessions == {}


def test_a_lapsed_member_is_charged_the_list_price(
    client: Client, member_priced: Price, make_user: Callable[..., Any], fake: FakeProvider
) -> None:
    user = make_user("formersupporter")
    hold_membership(user, "supporter", "past_due", now() - timedelta(days=5))  # grace over
    client.force_login(user)

    assert fake.checkout(session_of(buy(client))).amount == 900
