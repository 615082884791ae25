"""No free access through development secrets.

The fake provider (like any provider declaring a ``dev_default``) falls back to a
*published* webhook secret. Anyone can sign a ``subscription.created`` with it, so a site
takes such webhooks only in explicit development mode: ``DEBUG`` on *and*
``PAYWALL["DEVELOPMENT_MODE"] = True``. Otherwise the provider is switched off (its
endpoint answers 404, it sells nothing) and check ``wagtail_paywall.E001`` says which
key to set. An installed provider the site did not configure has no endpoint either.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client, override_settings

from membership_sdk import EventType, Status, SubscriptionSnapshot
from membership_sdk.providers import Webhook
from membership_sdk.providers.fake import DEV_SECRET, SIGNATURE_HEADER
from membership_sdk.providers.webhooks import WebhookSigner, encode_event, utcnow
from wagtail_paywall import checks as paywall_checks
from wagtail_paywall.models import Membership, WebhookEvent
from wagtail_paywall.program import get_program

pytestmark = pytest.mark.django_db

URL = "/paywall/webhooks/fake/"
SITE_SECRET = "a-secret-of-the-sites-own"
VOUCHER_SRC = Path(__file__).resolve().parents[2] / "examples" / "provider_plugin" / "src"


def premium_created(member_id: str, secret: str, header: str = SIGNATURE_HEADER) -> Webhook:
    """A ``subscription.created`` for a year of Premium, signed with ``secret``: what an
    attacker sends when ``secret`` is the published development one."""
    now = utcnow()
    snapshot = SubscriptionSnapshot(
        id="sub_forged",
        customer_id="cus_forged",
        price="fake_price_premium_yearly",
        status=Status.ACTIVE,
        version=1,
        current_period_end=now + timedelta(days=365),
        started_at=now,
    )
    body = encode_event(
        "evt_forged", str(EventType.SUBSCRIPTION_CREATED), now, snapshot, member_id=member_id
    )
    return WebhookSigner(secret, header=header).sign(body)


def post(client: Client, webhook: Webhook, url: str = URL) -> Any:
    headers = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in webhook.headers.items()}
    return client.post(url, data=webhook.body, content_type="application/json", **headers)


def assert_no_access_was_given() -> None:
    assert not Membership.objects.exists()
    assert not WebhookEvent.objects.exists()


def paywall(fake: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"PROVIDERS": {"fake": fake}, "DEFAULT_PROVIDER": "fake", **extra}


# -- the public development secret outside development mode -----------------------------------
@pytest.mark.parametrize(
    ("debug", "paywall_settings"),
    [
        pytest.param(False, paywall({}), id="no-secret"),
        pytest.param(False, paywall({"secret": DEV_SECRET}), id="dev-secret-spelt-out"),
        pytest.param(True, paywall({}), id="debug-alone"),
        pytest.param(False, paywall({}, DEVELOPMENT_MODE=True), id="development-mode-alone"),
        pytest.param(False, paywall({"webhook_secret": SITE_SECRET}), id="a-key-it-never-reads"),
    ],
)
def test_a_webhook_forged_with_the_public_secret_gives_nothing(
    client: Client, catalog: Any, reader: Any, debug: bool, paywall_settings: dict[str, Any]
) -> None:
    with override_settings(DEBUG=debug, PAYWALL=paywall_settings):
        response = post(client, premium_created(str(reader.pk), DEV_SECRET))

    assert response.status_code == 404
    assert_no_access_was_given()


@override_settings(DEBUG=False, PAYWALL=paywall({}))
def test_a_provider_switched_off_sells_nothing(client: Client, catalog: Any, reader: Any) -> None:
    client.force_login(reader)

    response = client.post("/paywall/checkout/", {"price": "premium-monthly", "provider": "fake"})

    assert response.status_code == 404
    assert "fake" not in get_program().providers


@override_settings(DEBUG=False, PAYWALL=paywall({}))
def test_the_site_is_told_which_key_to_set() -> None:
    (message,) = paywall_checks.check_providers()

    assert message.id == "wagtail_paywall.E001"
    assert "switched off" in message.msg
    assert 'PAYWALL["PROVIDERS"]["fake"]["secret"]' in message.hint


# -- following the hint ---------------------------------------------------------------------
@override_settings(DEBUG=False, PAYWALL=paywall({"secret": SITE_SECRET}))
def test_following_the_hint_passes_the_check_and_verifies_with_the_sites_secret(
    client: Client, catalog: Any, reader: Any
) -> None:
    assert paywall_checks.check_providers() == []

    forged = post(client, premium_created(str(reader.pk), DEV_SECRET))
    assert forged.status_code == 400
    assert_no_access_was_given()

    genuine = post(client, premium_created(str(reader.pk), SITE_SECRET))
    assert genuine.status_code == 200
    assert Membership.objects.get(member_id=str(reader.pk)).status == "active"


# -- development mode ---------------------------------------------------------------------------
@override_settings(DEBUG=True, PAYWALL=paywall({}, DEVELOPMENT_MODE=True))
def test_in_development_mode_the_fake_provider_works_without_a_secret(
    client: Client, catalog: Any, reader: Any
) -> None:
    assert paywall_checks.check_providers() == []

    response = post(client, premium_created(str(reader.pk), DEV_SECRET))

    assert response.status_code == 200
    assert Membership.objects.get(member_id=str(reader.pk)).status == "active"


# -- installed but not configured -----------------------------------------------------------
@pytest.fixture
def voucher_installed(monkeypatch: pytest.MonkeyPatch) -> str:
    """The example third-party provider (examples/provider_plugin), installed."""
    monkeypatch.syspath_prepend(str(VOUCHER_SRC))
    return "membership_provider_voucher"


def test_an_installed_provider_the_site_did_not_configure_has_no_endpoint(
    client: Client, catalog: Any, reader: Any, voucher_installed: str
) -> None:
    from membership_provider_voucher import DEV_SECRET as VOUCHER_DEV_SECRET

    # Even in development mode, where its public secret would otherwise be taken.
    settings = paywall({}, DEVELOPMENT_MODE=True, PLUGINS=[voucher_installed])
    with override_settings(DEBUG=True, PAYWALL=settings):
        webhook = premium_created(str(reader.pk), VOUCHER_DEV_SECRET, "Voucher-Signature")
        response = post(client, webhook, url="/paywall/webhooks/voucher/")
        registered = set(get_program().providers)

    assert response.status_code == 404
    assert registered == {"fake"}
    assert_no_access_was_given()


def test_a_configured_third_party_provider_without_its_secret_is_switched_off(
    client: Client, catalog: Any, reader: Any, voucher_installed: str
) -> None:
    from membership_provider_voucher import DEV_SECRET as VOUCHER_DEV_SECRET

    settings = {
        "PROVIDERS": {"fake": {"secret": SITE_SECRET}, "voucher": {}},
        "PLUGINS": [voucher_installed],
    }
    with override_settings(DEBUG=False, PAYWALL=settings):
        webhook = premium_created(str(reader.pk), VOUCHER_DEV_SECRET, "Voucher-Signature")
        response = post(client, webhook, url="/paywall/webhooks/voucher/")
        (message,) = paywall_checks.check_providers()

    assert response.status_code == 404
    assert_no_access_was_given()
    assert message.id == "wagtail_paywall.E001"
    assert 'PAYWALL["PROVIDERS"]["voucher"]["secret"]' in message.hint
