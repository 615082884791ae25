"""The currency a visitor is offered first (docs/wagtail.md, Local formats and currencies):
from ``?currency=`` (remembered), the CDN's country header, Accept-Language's region, the
active language, else the default; and shared caches keep each visitor's currency apart."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import checks
from django.test import Client, override_settings
from django.utils import translation

from wagtail_paywall.currency import SESSION_KEY
from wagtail_paywall.models import Price, Tier

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.wagtail.gating_fixtures"]

PRICING = "/paywall/pricing/"
NBSP = "\xa0"
CDN = {"COUNTRY_HEADER": "HTTP_CF_IPCOUNTRY"}


@pytest.fixture
def currencies(catalog: dict[str, Tier]) -> None:
    """Premium is also sold in PLN, DKK and USD; Supporter only in EUR."""
    for currency, monthly in (("PLN", 4900), ("DKK", 8900), ("USD", 1300)):
        Price.objects.create(
            key=f"premium-month-{currency.lower()}",
            tier=catalog["premium"],
            amount=monthly,
            currency=currency,
            interval="month",
            provider_ids={"fake": f"fake_premium_month_{currency.lower()}"},
        )


def pricing(client: Client, query: str = "", **headers: str) -> Any:
    response = client.get(f"{PRICING}{query}", **headers)
    assert response.status_code == 200
    return response


def premium_column(response: Any) -> str:
    html = response.content.decode()
    start = html.find('data-tier="premium"')
    assert start != -1
    end = html.find('<li class="pw-tier', start)
    return html[start : end if end != -1 else len(html)]


def test_without_any_hint_the_default_currency_is_offered(client: Client, currencies: None) -> None:
    premium = premium_column(pricing(client))
    assert "€12.00 a month" in premium
    assert "PLN" not in premium


def test_the_active_language_chooses_the_currency(client: Client, currencies: None) -> None:
    with translation.override("pl"):
        premium = premium_column(pricing(client))
    assert f"49,00{NBSP}zł" in premium
    assert "€" not in premium


def test_accept_languages_region_chooses_the_currency(client: Client, currencies: None) -> None:
    premium = premium_column(pricing(client, HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.8"))
    assert "$13.00 a month" in premium


@override_settings(PAYWALL=CDN)
def test_the_cdns_country_header_wins_over_the_language(client: Client, currencies: None) -> None:
    response = pricing(client, HTTP_CF_IPCOUNTRY="DK", HTTP_ACCEPT_LANGUAGE="pl-PL")
    assert "DKK89.00 a month" in premium_column(response)
    assert "Cf-Ipcountry" in response["Vary"]


@override_settings(PAYWALL=CDN)
def test_an_unknown_country_from_the_cdn_falls_back_to_accept_language(
    client: Client, currencies: None
) -> None:
    response = pricing(client, HTTP_CF_IPCOUNTRY="XX", HTTP_ACCEPT_LANGUAGE="pl-PL")
    assert "PLN49.00 a month" in premium_column(response)


def test_the_query_string_overrides_the_country_and_is_remembered(
    client: Client, currencies: None
) -> None:
    chosen = pricing(client, "?currency=dkk", HTTP_ACCEPT_LANGUAGE="pl-PL")
    later = pricing(client, HTTP_ACCEPT_LANGUAGE="pl-PL")

    assert "DKK89.00 a month" in premium_column(chosen)
    assert "DKK89.00 a month" in premium_column(later)
    assert client.session[SESSION_KEY] == "DKK"


@pytest.mark.parametrize("asked", ["XYZ", "GBP", "", "%00", "EUR%27%22"])
def test_an_unknown_or_unsold_currency_is_ignored(
    client: Client, currencies: None, asked: str
) -> None:
    response = pricing(client, f"?currency={asked}", HTTP_ACCEPT_LANGUAGE="pl-PL")
    assert "PLN49.00 a month" in premium_column(response)
    assert SESSION_KEY not in client.session


def test_a_tier_with_no_price_in_the_currency_shows_the_prices_it_has(
    client: Client, currencies: None
) -> None:
    html = pricing(client, "?currency=PLN").content.decode()
    assert 'data-tier="supporter"' in html
    assert "€5.00 a month" in html
    assert "€12.00" not in html  # premium is sold in PLN: only that price


def test_the_pricing_page_links_the_other_currencies(client: Client, currencies: None) -> None:
    html = pricing(client, "?currency=PLN&interval=month").content.decode()
    assert "Other currencies:" in html
    for code in ("DKK", "EUR", "USD"):
        assert f"/paywall/pricing/?currency={code}&amp;interval=month" in html


def test_the_pricing_page_varies_on_what_chose_the_currency(
    client: Client, currencies: None
) -> None:
    vary = pricing(client)["Vary"]
    assert "Accept-Language" in vary
    assert "Cookie" in vary


def test_a_currency_chosen_from_the_visitor_keeps_the_page_out_of_shared_caches(
    client: Client, currencies: None
) -> None:
    assert "private" in pricing(client, HTTP_ACCEPT_LANGUAGE="en-GB")["Cache-Control"]


def test_a_currency_named_in_the_url_leaves_the_page_cacheable(
    client: Client, currencies: None
) -> None:
    assert "private" not in pricing(client, "?currency=PLN").get("Cache-Control", "")


def test_a_site_selling_one_currency_leaves_the_page_cacheable(
    client: Client, catalog: dict[str, Tier]
) -> None:
    assert "private" not in pricing(client, HTTP_ACCEPT_LANGUAGE="pl-PL").get("Cache-Control", "")


def test_the_paywall_offers_the_visitors_currency_and_links_the_others(
    client: Client, currencies: None, make_article: Any, catalog: dict[str, Tier]
) -> None:
    page = make_article("tier", paywall_min_tier=catalog["premium"])

    response = client.get(page.url, HTTP_ACCEPT_LANGUAGE="da-DK")
    html = response.content.decode()

    assert "DKK89.00 a month" in html
    assert "€12.00 a month" not in html
    assert f"{page.url}?currency=EUR" in html
    assert "Accept-Language" in response["Vary"]
    assert "private" in response["Cache-Control"]


def test_the_paywall_shows_every_price_of_an_offer_not_sold_in_the_currency(
    client: Client, currencies: None, make_article: Any, catalog: dict[str, Tier]
) -> None:
    page = make_article("tier", paywall_min_tier=catalog["supporter"])

    html = client.get(page.url, HTTP_ACCEPT_LANGUAGE="da-DK").content.decode()

    assert "€5.00 a month" in html  # Supporter: EUR only
    assert "DKK89.00 a month" in html  # Premium: in the visitor's currency


CACHED = [
    "django.middleware.cache.UpdateCacheMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "wagtail_paywall.middleware.PaywallMiddleware",
    "django.middleware.cache.FetchFromCacheMiddleware",
]


@override_settings(
    MIDDLEWARE=CACHED,
    CACHE_MIDDLEWARE_SECONDS=60,
    CACHE_MIDDLEWARE_KEY_PREFIX="currency-test",
)
def test_a_shared_cache_never_serves_one_visitors_currency_to_another(
    currencies: None,
) -> None:
    """Django's page cache stands in for a shared cache. It keys Accept-Language on the
    active language only, so pl-PL and en-US would share a page if it were stored."""
    polish = pricing(Client(), HTTP_ACCEPT_LANGUAGE="pl-PL")
    danish = pricing(Client(), HTTP_ACCEPT_LANGUAGE="da-DK")
    american = pricing(Client(), HTTP_ACCEPT_LANGUAGE="en-US")
    named = [pricing(Client(), f"?currency={code}") for code in ("DKK", "PLN", "DKK")]
    chose_usd = Client()
    pricing(chose_usd, "?currency=USD")
    usd_later = pricing(chose_usd, HTTP_ACCEPT_LANGUAGE="pl-PL")
    polish_again = pricing(Client(), HTTP_ACCEPT_LANGUAGE="pl-PL")

    assert "PLN49.00" in premium_column(polish)
    assert "DKK89.00" in premium_column(danish)
    assert "$13.00" in premium_column(usd_later)
    assert "PLN49.00" in premium_column(polish_again)
    assert "$13.00" in premium_column(american)
    assert ["DKK89.00" in premium_column(r) for r in named] == [True, False, True]


def ids(paywall: dict[str, Any]) -> list[str]:
    with override_settings(PAYWALL=paywall):
        return [m.id for m in checks.run_checks() if m.id and m.id[-4:] in CURRENCY_CHECKS]


CURRENCY_CHECKS = {"E025", "E026", "E027", "E028"}


def test_the_default_currency_settings_pass_their_checks() -> None:
    assert ids({}) == []


@pytest.mark.parametrize(
    ("paywall", "expected"),
    [
        ({"CURRENCY_BY_COUNTRY": {"pl": "PLN"}}, "wagtail_paywall.E025"),
        ({"CURRENCY_BY_COUNTRY": {"PL": "ZLOTY"}}, "wagtail_paywall.E025"),
        ({"CURRENCY_BY_COUNTRY": ["PL", "PLN"]}, "wagtail_paywall.E025"),
        ({"CURRENCY_BY_LANGUAGE": {"Polish": "PLN"}}, "wagtail_paywall.E026"),
        ({"CURRENCY_BY_LANGUAGE": {"pl": 985}}, "wagtail_paywall.E026"),
        ({"DEFAULT_CURRENCY": "EURO"}, "wagtail_paywall.E027"),
        ({"COUNTRY_HEADER": "CF-IPCountry"}, "wagtail_paywall.E028"),
    ],
)
def test_a_bad_currency_setting_is_reported_by_name(paywall: dict[str, Any], expected: str) -> None:
    assert ids(paywall) == [expected]


def test_a_bad_mapping_never_fails_the_page(client: Client, currencies: None) -> None:
    with override_settings(PAYWALL={"CURRENCY_BY_COUNTRY": ["PL"], "DEFAULT_CURRENCY": 7}):
        response = pricing(client, HTTP_ACCEPT_LANGUAGE="pl-PL")
    # No mapping and no default: the first currency sold, alphabetically.
    assert "DKK89.00 a month" in premium_column(response)
