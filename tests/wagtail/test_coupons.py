"""Coupons on the Wagtail site: the catalog reads them from the database, a bad code is a
form error on the pricing page that changes nothing, and redemptions hold under
parallel checkouts (on PostgreSQL when ``DATABASE_URL`` is set)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from membership_sdk.providers.fake import FakeProvider
from wagtail_paywall.models import Coupon, CouponRedemption, Price, Tier
from wagtail_paywall.program import get_program
from wagtail_paywall.store import DjangoRedemptions

pytest_plugins = ["tests.wagtail.billing.manual_fixtures"]


@pytest.fixture
def spring(catalog: dict[str, Tier]) -> Coupon:
    coupon = Coupon.objects.create(code="SPRING", percent_off=50, max_redemptions=10)
    coupon.tiers.add(catalog["supporter"])
    return coupon


def post_checkout(client: Any, coupon: str, price: str = "supporter-monthly") -> Any:
    return client.post(
        reverse("paywall:checkout"),
        {"price": price, "provider": "fake", "coupon": coupon, "attempt": "a1"},
    )


def fake() -> FakeProvider:
    provider = get_program().providers["fake"]
    assert isinstance(provider, FakeProvider)
    return provider


def test_the_catalog_holds_the_sites_coupons_with_their_limits(spring: Coupon) -> None:
    coupon = get_program().catalog.coupon("spring")
    assert coupon is not None
    assert (coupon.percent_off, coupon.tiers, coupon.max_redemptions) == (50, ("supporter",), 10)


def test_a_price_with_an_intro_offer_reaches_the_catalog(catalog: dict[str, Tier]) -> None:
    Price.objects.filter(key="supporter-monthly").update(intro_amount=100, intro_periods=3)
    from wagtail_paywall.program import catalog_changed

    catalog_changed()
    price = get_program().catalog.price("supporter-monthly")
    assert (price.intro_amount, price.intro_periods) == (100, 3)


def test_a_good_code_sends_the_member_to_pay_the_discounted_price(
    client: Any, reader: Any, spring: Coupon
) -> None:
    client.force_login(reader)
    response = post_checkout(client, "spring")
    assert response.status_code == 302
    [session] = fake().sessions.values()
    assert session.discount is not None
    assert (session.discount.code, session.discount.amount) == ("SPRING", 250)
    assert CouponRedemption.objects.filter(code="SPRING", member_id=str(reader.pk)).exists()


@pytest.mark.parametrize(
    ("code", "price", "says"),
    [
        ("NOPE", "supporter-monthly", "This code is not valid. Check its spelling."),
        ("SPRING", "premium-monthly", "This code is not valid for this plan."),
    ],
)
def test_a_bad_code_is_a_form_error_on_the_pricing_page_and_changes_nothing(
    client: Any, reader: Any, spring: Coupon, code: str, price: str, says: str
) -> None:
    client.force_login(reader)
    response = post_checkout(client, code, price)
    assert response.status_code == 400
    page = response.content.decode()
    assert says in page
    assert f'value="{code}"' in page
    assert fake().sessions == {}
    assert not CouponRedemption.objects.exists()


def test_an_expired_code_says_so(client: Any, reader: Any, spring: Coupon) -> None:
    spring.expires_at = timezone.now() - timedelta(days=1)
    spring.save()
    client.force_login(reader)
    response = post_checkout(client, "SPRING")
    assert response.status_code == 400
    assert "This code has expired." in response.content.decode()


def test_the_pricing_page_has_a_code_field(client: Any, reader: Any, catalog: Any) -> None:
    client.force_login(reader)
    page = client.get(reverse("paywall:pricing")).content.decode()
    assert 'name="coupon"' in page


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_parallel_reservations_never_exceed_max_redemptions() -> None:
    if connection.vendor == "sqlite" and "memory" in str(connection.settings_dict["NAME"]):
        pytest.skip("an in-memory SQLite database is not shared between threads")
    store = DjangoRedemptions()
    now = timezone.now()

    def reserve(n: int) -> bool:
        try:
            return store.reserve("FIVE", f"m{n}", 5, now, now + timedelta(hours=1))
        finally:
            connection.close()

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(reserve, range(24)))
    assert results.count(True) == 5
    assert store.count("FIVE", now) == 5


def test_a_lapsed_hold_frees_the_code_and_a_confirmed_one_does_not(db: Any) -> None:
    store = DjangoRedemptions()
    now = timezone.now()
    assert store.reserve("ONE", "m1", 1, now, now + timedelta(hours=1))
    assert not store.reserve("ONE", "m2", 1, now, now + timedelta(hours=1))
    later = now + timedelta(hours=2)
    assert store.reserve("ONE", "m2", 1, later, later + timedelta(hours=1))
    store.confirm("ONE", "m2", later)
    store.release("ONE", "m2")
    assert store.count("ONE", later + timedelta(days=30)) == 1


@pytest.fixture
def admin_client(client: Any, editor: Any) -> Any:
    client.force_login(editor)
    return client


def coupon_form(**changes: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "code": "AUTUMN",
        "name": "",
        "percent_off": 20,
        "amount_off": "",
        "currency": "",
        "duration": "repeating",
        "months": 3,
        "max_redemptions": "",
        "expires_at": "",
        "provider_ids": "{}",
    }
    form.update(changes)
    return form


def test_a_coupon_added_in_the_admin_is_in_the_catalog(
    admin_client: Any, catalog: dict[str, Tier]
) -> None:
    form = coupon_form(tiers=[catalog["premium"].pk])
    response = admin_client.post(reverse("paywall_coupons:add"), form)
    assert response.status_code == 302
    coupon = get_program().catalog.coupon("AUTUMN")
    assert coupon is not None
    assert (coupon.months, coupon.tiers) == (3, ("premium",))


def test_the_admin_refuses_a_coupon_the_core_would_refuse(
    admin_client: Any, catalog: dict[str, Tier]
) -> None:
    response = admin_client.post(reverse("paywall_coupons:add"), coupon_form(months=""))
    assert response.status_code == 200
    assert "a repeating coupon needs months" in response.content.decode()
    assert not Coupon.objects.exists()


def test_the_admin_refuses_a_code_that_exists_in_another_case(
    admin_client: Any, spring: Coupon
) -> None:
    response = admin_client.post(reverse("paywall_coupons:add"), coupon_form(code="spring"))
    assert response.status_code == 200
    assert "The code SPRING already exists: codes ignore case." in response.content.decode()
    assert list(Coupon.objects.values_list("code", flat=True)) == ["SPRING"]


def test_a_clashing_coupon_made_outside_the_admin_is_left_out_and_the_site_stays_up(
    client: Any, reader: Any, spring: Coupon
) -> None:
    from wagtail_paywall.program import catalog_changed

    # "STRASSE" and "straße" are one code to the catalog (casefold), two to LOWER().
    Coupon.objects.create(code="STRASSE", percent_off=10)
    Coupon.objects.create(code="straße", percent_off=90)
    catalog_changed()
    client.force_login(reader)
    assert client.get(reverse("paywall:pricing")).status_code == 200
    coupon = get_program().catalog.coupon("strasse")
    assert coupon is not None
    assert coupon.percent_off == 10


def test_the_coupons_are_listed_in_the_paywall_menu(admin_client: Any, spring: Coupon) -> None:
    assert "Coupons" in admin_client.get(reverse("wagtailadmin_home")).content.decode()
    assert "SPRING" in admin_client.get(reverse("paywall_coupons:index")).content.decode()


def pay_with_code(client: Any, user: Any, code: str) -> None:
    """``user`` checks out the supporter price with ``code`` and pays on the fake page;
    the provider's webhook reaches the site."""
    from wagtail_paywall.tasks import deliver

    client.force_login(user)
    assert post_checkout(client, code).status_code == 302
    [session] = fake().sessions.values()
    page = client.get(reverse("paywall:fake_checkout", args=[session.id])).content.decode()
    assert f'data-coupon="{code}"' in page
    webhook = fake().complete_checkout(session.id)
    deliver("fake", webhook.headers, webhook.body)


def test_the_fake_payment_page_and_the_account_page_show_the_discount(
    client: Any, reader: Any, spring: Coupon
) -> None:
    spring.duration, spring.months = "repeating", 3
    spring.save()
    pay_with_code(client, reader, "SPRING")
    page = client.get(reverse("paywall:account")).content.decode()
    assert 'data-coupon="SPRING"' in page
    assert "Coupon SPRING:" in page
    assert "€2.50 a month" in page
    assert "then €5.00" in page


def test_a_paid_code_counts_as_redeemed_in_the_admin(
    client: Any, reader: Any, editor: Any, spring: Coupon
) -> None:
    pay_with_code(client, reader, "SPRING")
    assert spring.redeemed_count() == 1


def test_the_paywall_and_the_pricing_page_show_an_intro_offer(
    client: Any, reader: Any, catalog: dict[str, Tier]
) -> None:
    from django.template.loader import render_to_string

    from membership_sdk import Decision, MinTier, Resource, decide
    from wagtail_paywall.program import catalog_changed
    from wagtail_paywall.templatetags.paywall_tags import paywall_context

    Price.objects.filter(key="supporter-monthly").update(intro_amount=100, intro_periods=3)
    catalog_changed()
    client.force_login(reader)
    pricing_page = client.get(reverse("paywall:pricing")).content.decode()
    assert "Intro offer: the first 3 periods at €1.00" in pricing_page
    program = get_program()
    decision: Decision = decide(Resource("page:1", MinTier("supporter")), program.context(None))
    paywall = render_to_string("wagtail_paywall/paywall.html", paywall_context(decision, None))
    assert "intro offer: the first 3 periods at €1.00" in paywall


def test_a_bank_transfer_with_a_code_is_invoiced_at_the_discounted_amount_after_a_restart(
    client: Any, reader: Any, spring: Coupon, site: Any
) -> None:
    """The discount is kept with the invoice and the subscription in the database: the
    renewal after the coupon's one period, issued by a restarted site, is at list price."""
    from wagtail_paywall import program as program_module
    from wagtail_paywall.models import ManualInvoice, ManualSubscription

    client.force_login(reader)
    response = client.post(
        reverse("paywall:checkout"),
        {"price": "supporter-monthly", "provider": "manual", "coupon": "SPRING", "attempt": "b"},
    )
    assert response.status_code == 200
    assert "Amount due: €2.50" in response.content.decode()
    invoice = ManualInvoice.objects.get()
    assert (invoice.amount, invoice.list_amount, invoice.coupon) == (250, 500, "SPRING")
    program_module.reset_program()  # a restart: the provider reads it all back
    manual = program_module.get_program().providers["manual"]
    manual.confirm_payment(invoice.reference)
    sub = ManualSubscription.objects.get()
    assert (sub.amount, sub.coupon, sub.list_amount) == (250, "SPRING", 500)
    program_module.reset_program()
    manual = program_module.get_program().providers["manual"]
    assert manual.issue_renewal(sub.id).amount == 500
