"""The pricing page: tiers side by side, monthly or yearly, in the visitor's currency."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client, override_settings

from wagtail_paywall import program as program_module
from wagtail_paywall.models import Membership, Price, Tier

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.wagtail.journey_fixtures"]

PRICING = "/paywall/pricing/"


@pytest.fixture
def currencies(catalog: dict[str, Tier]) -> None:
    """Premium is also sold in PLN, DKK and USD (monthly and yearly)."""
    for currency, monthly in (("PLN", 4900), ("DKK", 8900), ("USD", 1300)):
        for interval, amount in (("month", monthly), ("year", monthly * 10)):
            Price.objects.create(
                key=f"premium-{interval}-{currency.lower()}",
                tier=catalog["premium"],
                amount=amount,
                currency=currency,
                interval=interval,
                provider_ids={"fake": f"fake_premium_{interval}_{currency.lower()}"},
            )


def page(client: Client, query: str = "") -> str:
    response = client.get(f"{PRICING}{query}")
    assert response.status_code == 200
    return response.content.decode()


def tier_block(html: str, slug: str) -> str:
    """The markup of one tier's column (up to the next column or the end of the list)."""
    start = html.find(f'data-tier="{slug}"')
    assert start != -1, f"no column for tier {slug!r}"
    end = html.find('<li class="pw-tier', start)
    return html[start : end if end != -1 else len(html)]


def test_the_pricing_page_shows_each_tier_with_its_entitlements(
    client: Client, catalog: dict[str, Tier]
) -> None:
    html = page(client)

    assert "Supporter" in tier_block(html, "supporter")
    premium = tier_block(html, "premium")
    assert "content.premium" in premium
    assert "downloads: 10 per month" in premium


def test_monthly_prices_are_shown_by_default(client: Client, catalog: dict[str, Tier]) -> None:
    premium = tier_block(page(client), "premium")

    assert "€12.00 a month" in premium
    assert "a year" not in premium


def test_the_yearly_switch_shows_yearly_prices(client: Client, catalog: dict[str, Tier]) -> None:
    premium = tier_block(page(client, "?interval=year"), "premium")

    assert "€120.00 a year" in premium
    assert "a month" not in premium


def test_a_trial_is_announced_with_its_price(client: Client, catalog: dict[str, Tier]) -> None:
    assert "First 14 days free" in tier_block(page(client), "premium")


def test_the_currency_choice_offers_eur_pln_dkk_and_usd(client: Client, currencies: None) -> None:
    html = page(client)

    for code in ("EUR", "PLN", "DKK", "USD"):
        assert f'<option value="{code}"' in html


@pytest.mark.parametrize(
    ("currency", "shown"),
    [("PLN", "PLN49.00 a month"), ("DKK", "DKK89.00 a month"), ("USD", "$13.00 a month")],
)
def test_choosing_a_currency_shows_the_prices_in_it(
    client: Client, currencies: None, currency: str, shown: str
) -> None:
    premium = tier_block(page(client, f"?currency={currency}"), "premium")

    assert shown in premium
    assert "EUR" not in premium


def test_a_tier_not_sold_in_the_chosen_currency_shows_the_prices_it_has(
    client: Client, currencies: None
) -> None:
    html = page(client, "?currency=PLN")

    assert "€5.00 a month" in tier_block(html, "supporter")


def test_an_unknown_currency_falls_back_to_one_on_sale(client: Client, currencies: None) -> None:
    assert "€12.00 a month" in tier_block(page(client, "?currency=XYZ"), "premium")


def test_an_archived_price_is_not_offered(client: Client, catalog: dict[str, Tier]) -> None:
    Price.objects.filter(key="supporter-monthly").update(archived=True)
    from wagtail_paywall.program import catalog_changed

    catalog_changed()

    assert 'data-price="supporter-monthly"' not in page(client)


def test_the_free_tier_is_shown_as_free(client: Client, catalog: dict[str, Tier]) -> None:
    assert "Free" in tier_block(page(client), "free")


def test_the_tier_the_member_holds_is_marked(
    client: Client, premium: Any, login: Callable[[Any], Client]
) -> None:
    html = page(login(premium))

    held = tier_block(html, "premium")
    assert 'aria-current="true"' in held
    assert "Your plan" in held
    assert "Your plan" not in tier_block(html, "supporter")


def test_the_held_tier_offers_management_instead_of_a_second_checkout(
    client: Client, premium: Any, login: Callable[[Any], Client]
) -> None:
    held = tier_block(page(login(premium)), "premium")

    assert "/paywall/account/" in held
    assert "/paywall/checkout/" not in held


def test_a_member_gets_a_checkout_form_with_a_csrf_token_for_each_price(
    client: Client, catalog: dict[str, Tier], reader: Any, login: Callable[[Any], Client]
) -> None:
    supporter = tier_block(page(login(reader)), "supporter")

    assert 'method="post" action="/paywall/checkout/"' in supporter
    assert 'name="csrfmiddlewaretoken"' in supporter
    assert 'name="price" value="supporter-monthly"' in supporter


def test_an_anonymous_visitor_is_asked_to_sign_in_instead(
    client: Client, catalog: dict[str, Tier]
) -> None:
    supporter = tier_block(page(client), "supporter")

    assert "Sign in to join Supporter" in supporter
    assert "/paywall/checkout/" not in supporter


def test_one_off_items_are_offered_for_purchase(
    client: Client, catalog: dict[str, Tier], reader: Any, login: Callable[[Any], Client]
) -> None:
    html = page(login(reader))

    assert "Annual report 2026" in html
    assert "€9.00 once" in html
    assert 'name="price" value="report-2026"' in html


def test_the_price_the_paywall_links_to_is_preselected_and_highlighted(
    client: Client, catalog: dict[str, Tier]
) -> None:
    html = page(client, "?price=premium-yearly")

    assert "€120.00 a year" in html
    assert 'class="pw-tier--highlighted" data-price="premium-yearly"' in html


def test_a_foreign_next_is_not_carried_into_the_checkout_form(
    client: Client, catalog: dict[str, Tier], reader: Any, login: Callable[[Any], Client]
) -> None:
    html = page(login(reader), "?next=https://evil.example/phish")

    assert "evil.example" not in html


def test_an_unknown_interval_falls_back_to_monthly(
    client: Client, catalog: dict[str, Tier]
) -> None:
    assert "€12.00 a month" in tier_block(page(client, "?interval=weekly"), "premium")


def test_a_post_on_the_pricing_page_is_405(client: Client, catalog: dict[str, Tier]) -> None:
    assert client.post(PRICING).status_code == 405


# -- several providers: how to pay ------------------------------------------------------------
@pytest.fixture
def card_or_transfer(catalog: dict[str, Tier]) -> Iterator[None]:
    """The site takes cards (fake, the default) and bank transfers (manual): Supporter
    monthly and the report are sold both ways, Premium only by card."""
    for key in ("supporter-monthly", "report-2026"):
        price = Price.objects.get(key=key)
        price.provider_ids = {**price.provider_ids, "manual": f"manual_{key}"}
        price.save()
    providers = {"fake": {"secret": "tests-webhook-secret"}, "manual": {"secret": "tests-manual"}}
    with override_settings(PAYWALL={"PROVIDERS": providers, "DEFAULT_PROVIDER": "fake"}):
        program_module.reset_program()
        yield
    program_module.reset_program()


def pay_by(block: str) -> list[tuple[str, str, bool]]:
    """The "Pay by" choices in a tier's markup: (provider, label, checked)."""
    found = re.findall(
        r'<input type="radio" name="provider" value="([^"]+)"( checked)?>\s*([^<]+?)\s*</label>',
        block,
    )
    return [(provider, label, bool(checked)) for provider, checked, label in found]


def test_a_price_sold_by_card_and_bank_transfer_lets_the_member_choose_card_first(
    card_or_transfer: None, reader: Any, login: Callable[[Any], Client]
) -> None:
    supporter = tier_block(page(login(reader)), "supporter")

    assert "<legend>Pay by</legend>" in supporter
    assert pay_by(supporter) == [
        ("fake", "Card (test payment)", True),
        ("manual", "Bank transfer", False),
    ]


def test_a_single_item_sold_both_ways_offers_the_choice_too(
    card_or_transfer: None, reader: Any, login: Callable[[Any], Client]
) -> None:
    html = page(login(reader))
    report = html[html.find('data-price="report-2026"') :]

    assert [provider for provider, _, _ in pay_by(report)] == ["fake", "manual"]


def test_a_price_sold_by_the_default_provider_alone_offers_no_choice(
    card_or_transfer: None, reader: Any, login: Callable[[Any], Client]
) -> None:
    premium = tier_block(page(login(reader)), "premium")

    assert "Join Premium" in premium
    assert "Pay by" not in premium
    assert 'name="provider"' not in premium


def test_a_price_sold_by_another_provider_alone_is_checked_out_with_it(
    card_or_transfer: None, reader: Any, login: Callable[[Any], Client]
) -> None:
    Price.objects.filter(key="premium-monthly").update(provider_ids={"manual": "manual_premium"})
    program_module.reset_program()

    premium = tier_block(page(login(reader)), "premium")

    assert "Pay by" not in premium
    assert '<input type="hidden" name="provider" value="manual">' in premium


def test_a_provider_the_site_does_not_configure_is_not_offered(
    catalog: dict[str, Tier], reader: Any, login: Callable[[Any], Client]
) -> None:
    # The price has a bank-transfer id, but this site takes no bank transfers.
    Price.objects.filter(key="supporter-monthly").update(
        provider_ids={"fake": "fake_price_supporter_monthly", "manual": "manual_supporter"}
    )
    program_module.reset_program()

    supporter = tier_block(page(login(reader)), "supporter")

    assert "Bank transfer" not in supporter
    assert 'name="provider"' not in supporter


def test_choosing_bank_transfer_on_the_pricing_page_shows_how_to_pay(
    card_or_transfer: None, reader: Any, login: Callable[[Any], Client]
) -> None:
    member = login(reader)
    supporter = tier_block(page(member), "supporter")
    # What the browser posts: the form's hidden fields and the "Bank transfer" radio.
    form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', supporter))
    form["provider"] = "manual"

    response = member.post("/paywall/checkout/", form)

    html = response.content.decode()
    assert response.status_code == 200
    assert "How to pay" in html
    assert "Amount due: €5.00" in html
    assert re.search(r"INV-\d{4}-\d{6}", html)  # the invoice reference to quote
    assert not Membership.objects.exists()
