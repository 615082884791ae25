"""How a site configures Stripe: registration through the plugin hook, keys and modes.

No Stripe server is involved; providers built here get the replay client so nothing can
reach the network.
"""

from __future__ import annotations

import importlib.util

import pytest

from membership_sdk import PluginError
from membership_sdk.plugins import Providers, get_plugin_manager
from membership_sdk.providers.stripe import WEBHOOK_EVENTS, StripeProvider, livemode_of

from .replay import ReplayClient

pytestmark = pytest.mark.stripe_replay


def providers(config: dict) -> Providers:
    return Providers(get_plugin_manager(load_entrypoints=False), config)


def test_stripe_registers_like_any_plugin_when_configured() -> None:
    registered = providers(
        {
            "stripe": {
                "api_key": "sk_test_x",
                "webhook_secret": "whsec_1",
                "http_client": ReplayClient(),
            }
        }
    )
    assert isinstance(registered["stripe"], StripeProvider)


def test_stripe_without_a_webhook_secret_is_withheld_naming_the_keys_to_set() -> None:
    registered = providers({"stripe": {"api_key": "sk_test_x", "http_client": ReplayClient()}})
    assert "stripe" not in registered
    assert registered.withheld["stripe"] == (
        "no webhook secret is set; set 'webhook_secret' or 'webhook_secrets' (a list)"
    )


def test_stripe_stays_out_of_the_way_when_not_configured() -> None:
    assert "stripe" not in providers({})


def test_configuring_stripe_without_the_package_names_the_extra(monkeypatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "stripe" else real(name, *a)
    )
    with pytest.raises(PluginError, match=r"membership-sdk\[stripe\]"):
        providers({"stripe": {"api_key": "sk_test_x"}})


def test_settings_without_an_api_key_are_refused_naming_the_keys_given() -> None:
    with pytest.raises(PluginError, match=r"need an 'api_key'.*webhook_secret"):
        providers({"stripe": {"webhook_secret": "whsec_1"}})


def test_a_misspelt_setting_is_refused_naming_it_and_the_known_ones() -> None:
    with pytest.raises(PluginError, match=r"unknown Stripe setting\(s\) \['webhook_secert'\]"):
        StripeProvider.from_config({"api_key": "sk_test_x", "webhook_secert": "whsec_1"})


def test_products_given_as_one_string_are_refused() -> None:
    with pytest.raises(PluginError, match="lists of ids"):
        StripeProvider.from_config({"api_key": "sk_test_x", "products": "prod_1"})


@pytest.mark.parametrize(
    ("key", "live"),
    [("sk_live_abc", True), ("rk_live_abc", True), ("sk_test_abc", False), ("rk_test_abc", False)],
)
def test_the_key_prefix_decides_live_or_test_mode(key: str, live: bool) -> None:
    assert livemode_of(key) is live


def test_a_key_that_is_neither_live_nor_test_is_refused_without_echoing_it() -> None:
    with pytest.raises(PluginError, match="neither a live key") as caught:
        StripeProvider("pk_live_publishable_key_123456")
    assert "publishable_key_123456" not in str(caught.value)


def test_a_single_secret_and_a_list_of_secrets_are_both_accepted() -> None:
    provider = StripeProvider.from_config(
        {
            "api_key": "sk_test_x",
            "webhook_secret": "whsec_new",
            "webhook_secrets": ["whsec_old"],
            "http_client": ReplayClient(),
        }
    )
    assert provider.webhook_secrets == ("whsec_new", "whsec_old")


def test_the_documented_webhook_events_are_the_ones_translated() -> None:
    assert "checkout.session.completed" in WEBHOOK_EVENTS
    assert "customer.subscription.updated" in WEBHOOK_EVENTS
    assert "invoice.payment_failed" in WEBHOOK_EVENTS
