"""A/B tests of the paywall: who sees which variant, what is counted, what the editor
does with the result, and that no cache or variant ever mixes visitors or leaks."""

from __future__ import annotations

import csv as csv_module
import io
from collections.abc import Callable
from typing import Any

import pytest
from django.core import signing
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from membership_sdk.experiments import assign
from tests.wagtail.gating_helpers import PREMIUM, TEASER
from wagtail_paywall import experiments
from wagtail_paywall.models import Attribution, PaywallExposure, PaywallTest, PaywallVariant
from wagtail_paywall.program import get_program

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.wagtail.gating_fixtures", "tests.wagtail.journey_fixtures"]

REPORT = "/admin/paywall-ab-tests/"
CONTROL_HEADING = "Join the newsroom"
B_HEADING = "Support independent journalism"


@pytest.fixture
def ab_test(catalog: Any) -> PaywallTest:
    """A running test: the control changes the heading, variant B the heading, the
    meter (5 free reads instead of the page's 2), the offers (Premium only) and which
    price comes first (yearly)."""
    test = PaywallTest.objects.create(name="Heading test", status=PaywallTest.Status.RUNNING)
    PaywallVariant.objects.create(test=test, name="Control", heading=CONTROL_HEADING, sort_order=0)
    PaywallVariant.objects.create(
        test=test,
        name="B",
        heading=B_HEADING,
        body="Five free articles a month.",
        meter_free=5,
        offers="premium",
        first_price="premium-yearly",
        sort_order=1,
    )
    return test


def variants(test: PaywallTest) -> tuple[PaywallVariant, PaywallVariant]:
    control, b = test.variants.order_by("sort_order")
    return control, b


def cookie_for(
    test: PaywallTest, variant: PaywallVariant, uid: str = "visitor", exposed: int = 0
) -> str:
    """A valid assignment cookie, as the site would have set it."""
    return signing.dumps(
        {"t": test.pk, "u": uid, "v": variant.pk, "e": exposed}, salt=experiments.SALT
    )


def anonymous_in(test: PaywallTest, variant: PaywallVariant, uid: str = "visitor") -> Client:
    client = Client()
    client.cookies[experiments.COOKIE] = cookie_for(test, variant, uid)
    return client


def member_in(
    test: PaywallTest, index: int, make_user: Callable[..., Any], prefix: str = "m"
) -> Any:
    """A new member whose id the hash puts in variant ``index``."""
    weights = [v.weight for v in test.variants.order_by("sort_order")]
    for n in range(200):
        user = make_user(f"{prefix}{index}-{n}")
        if assign(str(user.pk), f"paywall-test:{test.pk}", weights) == index:
            return user
        user.delete()
    raise AssertionError("no member hashed into the variant")


@pytest.fixture
def tier_page(make_article: Any, catalog: Any) -> Any:
    return make_article("tier", tiers=[catalog["premium"]])


@pytest.fixture
def metered_pages(make_article: Any, catalog: Any) -> list[Any]:
    return [
        make_article("metered", paywall_min_tier=catalog["supporter"], paywall_meter_free=2)
        for _ in range(4)
    ]


# -- assignment -----------------------------------------------------------------------------
def test_an_anonymous_visitor_gets_a_signed_cookie_and_keeps_their_variant(
    client: Client, ab_test: PaywallTest, tier_page: Any
) -> None:
    first = client.get(tier_page.url).content.decode()
    cookie = client.cookies[experiments.COOKIE].value
    again = [client.get(tier_page.url).content.decode() for _ in range(3)]

    heading = CONTROL_HEADING if CONTROL_HEADING in first else B_HEADING
    assert heading in first
    assert all(heading in html for html in again)
    assert signing.loads(cookie, salt=experiments.SALT)["t"] == ab_test.pk


def test_anonymous_visitors_are_split_between_the_variants(
    ab_test: PaywallTest, tier_page: Any
) -> None:
    seen = {CONTROL_HEADING in Client().get(tier_page.url).content.decode() for _ in range(40)}

    assert seen == {True, False}


def test_a_tampered_cookie_is_ignored_and_the_visitor_reassigned(
    ab_test: PaywallTest, tier_page: Any
) -> None:
    _, b = variants(ab_test)
    client = Client()
    forged = cookie_for(ab_test, b)
    client.cookies[experiments.COOKIE] = forged[:-2] + ("AA" if not forged.endswith("AA") else "BB")

    response = client.get(tier_page.url)

    fresh = signing.loads(client.cookies[experiments.COOKIE].value, salt=experiments.SALT)
    assert fresh["u"] != "visitor"
    assert response.status_code == 200


def test_a_cookie_of_another_test_is_ignored(ab_test: PaywallTest, tier_page: Any) -> None:
    _, b = variants(ab_test)
    client = Client()
    client.cookies[experiments.COOKIE] = signing.dumps(
        {"t": ab_test.pk + 1000, "u": "old", "v": b.pk, "e": 1}, salt=experiments.SALT
    )

    client.get(tier_page.url)
    client.get(tier_page.url)  # back with the new cookie: counted

    assert (
        signing.loads(client.cookies[experiments.COOKIE].value, salt=experiments.SALT)["t"]
        == ab_test.pk
    )
    (exposure,) = PaywallExposure.objects.all()
    assert exposure.visitor.startswith("a:")
    assert exposure.visitor != "a:old"


def test_a_member_keeps_their_variant_by_id_on_every_device(
    ab_test: PaywallTest, tier_page: Any, make_user: Callable[..., Any]
) -> None:
    member = member_in(ab_test, 1, make_user)
    laptop, phone = Client(), Client()
    laptop.force_login(member)
    phone.force_login(member)

    assert B_HEADING in laptop.get(tier_page.url).content.decode()
    assert B_HEADING in phone.get(tier_page.url).content.decode()
    assert experiments.COOKIE not in laptop.cookies  # members need no cookie


def test_the_variant_shows_its_own_offers_with_its_first_price_first(
    ab_test: PaywallTest, tier_page: Any, make_article: Any, catalog: Any
) -> None:
    page = make_article("tier", tiers=[catalog["supporter"], catalog["premium"]])
    control, b = variants(ab_test)
    assert "Supporter" in anonymous_in(ab_test, control).get(page.url).content.decode()

    html = anonymous_in(ab_test, b).get(page.url).content.decode()

    assert "Five free articles a month." in html
    assert "Supporter" not in html.split('class="paywall"')[1]
    prices = html.split('class="paywall__offers"')[1]
    assert prices.index(" a year") < prices.index(" a month")


# -- exposures ------------------------------------------------------------------------------
def test_an_anonymous_exposure_is_counted_once_per_visitor(
    client: Client, ab_test: PaywallTest, tier_page: Any
) -> None:
    for _ in range(3):
        client.get(tier_page.url)
    other = Client()
    for _ in range(2):
        other.get(tier_page.url)

    assert PaywallExposure.objects.filter(test=ab_test).count() == 2


def test_visitors_who_keep_no_cookie_such_as_crawlers_are_never_counted(
    ab_test: PaywallTest, tier_page: Any
) -> None:
    for _ in range(5):
        response = Client().get(tier_page.url)
        assert experiments.COOKIE in response.cookies  # the assignment is offered

    assert not PaywallExposure.objects.exists()


def test_an_anonymous_visitor_is_counted_in_the_variant_they_were_shown_when_they_come_back(
    client: Client, ab_test: PaywallTest, tier_page: Any
) -> None:
    first = client.get(tier_page.url).content.decode()
    assert not PaywallExposure.objects.exists()
    shown = B_HEADING if B_HEADING in first else CONTROL_HEADING

    client.get(tier_page.url)

    (exposure,) = PaywallExposure.objects.all()
    assert exposure.variant.heading == shown


def test_a_warm_anonymous_page_view_writes_no_exposure(
    client: Client, ab_test: PaywallTest, tier_page: Any
) -> None:
    client.get(tier_page.url)
    client.get(tier_page.url)  # counted

    with CaptureQueriesContext(connection) as queries:
        client.get(tier_page.url)

    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert "paywallexposure" not in sql
    assert "paywalltest" not in sql


def test_a_member_exposure_is_counted_once_across_devices(
    ab_test: PaywallTest, tier_page: Any, reader: Any
) -> None:
    for _ in range(2):
        device = Client()
        device.force_login(reader)
        device.get(tier_page.url)
        device.get(tier_page.url)

    (exposure,) = PaywallExposure.objects.filter(test=ab_test)
    assert exposure.visitor == f"m:{reader.pk}"


def test_a_visitor_with_access_is_not_exposed(
    ab_test: PaywallTest, tier_page: Any, premium: Any, client: Client
) -> None:
    client.force_login(premium)
    client.get(tier_page.url)

    assert not PaywallExposure.objects.exists()


def test_a_warm_page_view_reads_nothing_of_the_test_from_the_database(
    ab_test: PaywallTest, tier_page: Any, reader: Any, client: Client
) -> None:
    client.force_login(reader)
    client.get(tier_page.url)  # warms the caches and counts the exposure

    with CaptureQueriesContext(connection) as queries:
        client.get(tier_page.url)

    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert "paywalltest" not in sql
    assert "paywallvariant" not in sql
    assert "paywallexposure" not in sql


# -- the meter ------------------------------------------------------------------------------
def test_the_variants_meter_size_decides_how_many_articles_are_free(
    ab_test: PaywallTest, metered_pages: list[Any]
) -> None:
    control, b = variants(ab_test)
    in_control, in_b = anonymous_in(ab_test, control, "c"), anonymous_in(ab_test, b, "b")

    control_reads = [PREMIUM in in_control.get(p.url).content.decode() for p in metered_pages]
    b_reads = [PREMIUM in in_b.get(p.url).content.decode() for p in metered_pages]

    assert control_reads == [True, True, False, False]  # the page's own 2
    assert b_reads == [True, True, True, True]  # the variant's 5


def test_a_members_meter_follows_their_variant(
    ab_test: PaywallTest, metered_pages: list[Any], make_user: Callable[..., Any]
) -> None:
    member = member_in(ab_test, 1, make_user)
    client = Client()
    client.force_login(member)

    reads = [PREMIUM in client.get(p.url).content.decode() for p in metered_pages]

    assert reads == [True, True, True, True]


# -- caches ---------------------------------------------------------------------------------
CACHED_MIDDLEWARE = [
    "django.middleware.cache.UpdateCacheMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "wagtail_paywall.middleware.PaywallMiddleware",
    "django.middleware.cache.FetchFromCacheMiddleware",
]


def test_a_page_whose_paywall_depends_on_the_variant_stays_out_of_shared_caches(
    ab_test: PaywallTest, tier_page: Any
) -> None:
    _, b = variants(ab_test)

    response = anonymous_in(ab_test, b).get(tier_page.url)

    assert "private" in response["Cache-Control"]
    assert "Cookie" in response["Vary"]


@override_settings(MIDDLEWARE=CACHED_MIDDLEWARE, CACHE_MIDDLEWARE_SECONDS=600)
def test_the_cache_middleware_never_serves_one_visitors_variant_to_another(
    ab_test: PaywallTest, tier_page: Any
) -> None:
    control, b = variants(ab_test)
    first = [anonymous_in(ab_test, control, f"c{n}").get(tier_page.url) for n in range(2)]
    second = [anonymous_in(ab_test, b, f"b{n}").get(tier_page.url) for n in range(2)]
    fresh = Client().get(tier_page.url).content.decode()

    assert all(CONTROL_HEADING in r.content.decode() for r in first)
    assert all(B_HEADING in r.content.decode() for r in second)
    assert all(B_HEADING not in r.content.decode() for r in first)
    assert (CONTROL_HEADING in fresh) != (B_HEADING in fresh)


# -- leaks ----------------------------------------------------------------------------------
@pytest.mark.parametrize("variant_index", [0, 1])
def test_premium_text_never_leaks_in_any_variant(
    ab_test: PaywallTest, tier_page: Any, variant_index: int, make_user: Callable[..., Any]
) -> None:
    variant = variants(ab_test)[variant_index]
    member = member_in(ab_test, variant_index, make_user)
    signed_in = Client()
    signed_in.force_login(member)

    for client in (anonymous_in(ab_test, variant), signed_in):
        html = client.get(tier_page.url).content.decode()
        assert TEASER in html
        assert PREMIUM not in html


# -- the report and the end of a test -------------------------------------------------------
def test_the_report_shows_each_variants_rate_interval_and_p_value(
    ab_test: PaywallTest, editor: Any, client: Client, reader: Any
) -> None:
    control, b = variants(ab_test)
    PaywallExposure.objects.bulk_create(
        [PaywallExposure(test=ab_test, variant=control, visitor=f"a:c{n}") for n in range(100)]
        + [PaywallExposure(test=ab_test, variant=b, visitor=f"a:b{n}") for n in range(100)]
    )
    for variant, n in ((control, 5), (b, 20)):
        for i in range(n):
            Attribution.objects.create(
                member_id=f"{variant.name}{i}",
                variant=variant,
                price_id="premium-monthly",
                provider="fake",
                started_at="2026-01-01T00:00:00Z",
                converted_at="2026-01-02T00:00:00Z",
            )
    client.force_login(editor)

    html = client.get(REPORT).content.decode()
    csv = client.get(REPORT, {"format": "csv"}).content.decode()

    assert "5.00%" in html
    assert "20.00%" in html
    assert "0.0013" in html  # p-value of 5/100 against 20/100 (z = 3.21)
    assert "significant" in html
    assert "Heading test,running,B,100,20,0.2000" in csv


def test_the_csv_never_starts_a_test_or_variant_name_as_a_formula(
    ab_test: PaywallTest, editor: Any, client: Client
) -> None:
    control, b = variants(ab_test)
    PaywallTest.objects.filter(pk=ab_test.pk).update(name='=HYPERLINK("http://x","go")')
    PaywallVariant.objects.filter(pk=b.pk).update(name="@SUM(1+1)")
    client.force_login(editor)

    rows = list(
        csv_module.reader(io.StringIO(client.get(REPORT, {"format": "csv"}).content.decode()))
    )

    assert {r[0] for r in rows[1:]} == {'\'=HYPERLINK("http://x","go")'}
    assert {r[2] for r in rows[1:]} == {control.name, "'@SUM(1+1)"}


def test_the_report_is_refused_without_permission(
    ab_test: PaywallTest, client: Client, make_user: Callable[..., Any]
) -> None:
    from django.contrib.auth.models import Permission

    user = make_user("staff", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="access_admin"))
    client.force_login(user)

    response = client.get(REPORT)

    assert response.status_code in (302, 403)
    assert "Heading test" not in response.content.decode()


def test_ending_a_test_keeps_the_winner_for_everyone(
    ab_test: PaywallTest, tier_page: Any, editor: Any, client: Client, make_user: Callable[..., Any]
) -> None:
    _control, b = variants(ab_test)
    client.force_login(editor)

    response = client.post(REPORT, {"test": ab_test.pk, "winner": b.pk})

    ab_test.refresh_from_db()
    assert response.status_code == 302
    assert ab_test.status == PaywallTest.Status.ENDED
    assert ab_test.winner == b
    visitor = Client()
    html = visitor.get(tier_page.url).content.decode()
    assert B_HEADING in html
    assert experiments.COOKIE not in visitor.cookies  # nothing to assign any more
    member = make_user("after-the-end")
    member_client = Client()
    member_client.force_login(member)
    assert B_HEADING in member_client.get(tier_page.url).content.decode()


def test_a_kept_winners_meter_size_applies_to_everyone(
    ab_test: PaywallTest, metered_pages: list[Any], editor: Any, client: Client
) -> None:
    _, b = variants(ab_test)
    client.force_login(editor)
    client.post(REPORT, {"test": ab_test.pk, "winner": b.pk})

    visitor = Client()
    reads = [PREMIUM in visitor.get(p.url).content.decode() for p in metered_pages]

    assert reads == [True, True, True, True]


def test_ending_with_a_variant_of_another_test_changes_nothing(
    ab_test: PaywallTest, editor: Any, client: Client
) -> None:
    other = PaywallTest.objects.create(name="Other")
    stranger = PaywallVariant.objects.create(test=other, name="X")
    client.force_login(editor)

    client.post(REPORT, {"test": ab_test.pk, "winner": stranger.pk}, follow=True)

    ab_test.refresh_from_db()
    assert ab_test.status == PaywallTest.Status.RUNNING
    assert ab_test.winner is None


def test_a_second_running_test_is_refused_naming_the_first(ab_test: PaywallTest) -> None:
    from django.core.exceptions import ValidationError

    second = PaywallTest(name="Second", status=PaywallTest.Status.RUNNING)

    with pytest.raises(ValidationError, match="Heading test"):
        second.full_clean()


def test_the_editor_sets_up_a_test_in_the_admin(editor: Any, client: Client, catalog: Any) -> None:
    client.force_login(editor)
    url = "/admin/snippets/wagtail_paywall/paywalltest/add/"
    data = {
        "name": "Price order",
        "status": "running",
        "meter": "articles",
        "variants-TOTAL_FORMS": "2",
        "variants-INITIAL_FORMS": "0",
        "variants-MIN_NUM_FORMS": "0",
        "variants-MAX_NUM_FORMS": "1000",
    }
    for n, name in enumerate(["Monthly first", "Yearly first"]):
        data.update(
            {
                f"variants-{n}-name": name,
                f"variants-{n}-weight": "1",
                f"variants-{n}-first_price": "premium-yearly" if n else "premium-monthly",
                f"variants-{n}-ORDER": str(n + 1),
                f"variants-{n}-DELETE": "",
                f"variants-{n}-id": "",
            }
        )

    response = client.post(url, data)

    assert response.status_code == 302, response.content.decode()[:2000]
    test = PaywallTest.objects.get(name="Price order")
    assert [v.name for v in test.variants.all()] == ["Monthly first", "Yearly first"]
    assert test.started_at is not None
    get_program()  # the next request's catalog check reloads the set-up
    assert experiments.setup().test_id == test.pk


# -- the query budget -----------------------------------------------------------------------
def test_a_decision_with_a_meter_variant_costs_one_query_cold_and_none_warm(
    ab_test: PaywallTest, make_user: Callable[..., Any], rf: Any, django_assert_max_num_queries: Any
) -> None:
    from wagtail_paywall.access import member_context

    member = member_in(ab_test, 1, make_user)
    get_program()  # the site's catalog check, done once per request before any decision
    cold, warm = rf.get("/"), rf.get("/")
    cold.user = warm.user = member

    with django_assert_max_num_queries(1):
        ctx = member_context(cold)
    with django_assert_max_num_queries(0):
        member_context(warm)

    assert ctx.meter_free == {"articles": 5}
