"""Providers declare their settings: :class:`SettingsSpec` and the built-ins' declarations."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from membership_sdk import PluginError
from membership_sdk.errors import UnknownProvider, UnknownSetting
from membership_sdk.plugins import Providers, get_plugin_manager
from membership_sdk.providers import Setting, SettingsSpec
from membership_sdk.providers.fake import DEV_SECRET as FAKE_DEV_SECRET
from membership_sdk.providers.fake import FakeProvider
from membership_sdk.providers.manual import DEV_SECRET as MANUAL_DEV_SECRET
from membership_sdk.providers.manual import ManualProvider
from membership_sdk.providers.stripe import StripeProvider

PUBLIC = "acme-dev-only-secret"

#: A provider like the fake one: a secret or a list of them, falling back to a public one.
DEV = SettingsSpec(
    (
        Setting("secret", secret=True, verifies_webhooks=True, dev_default=PUBLIC),
        Setting("secrets", secret=True, many=True, verifies_webhooks=True, dev_default=PUBLIC),
        Setting("checkout_url", "where the payment page lives"),
    ),
    receives_webhooks=True,
)
#: A provider like Stripe: a required live-or-test key, secrets without any default.
LIVE = SettingsSpec(
    (
        Setting("api_key", secret=True, required=True, live_prefixes=("sk_live_", "rk_live_")),
        Setting("webhook_secret", secret=True, verifies_webhooks=True),
        Setting("webhook_secrets", secret=True, many=True, verifies_webhooks=True),
        Setting("products", many=True),
    ),
    receives_webhooks=True,
)
#: A provider that takes no webhooks at all.
QUIET = SettingsSpec((Setting("api_key", secret=True, required=True),))


# -- declaring ------------------------------------------------------------------------------


def test_a_setting_needs_a_key() -> None:
    with pytest.raises(PluginError, match="non-empty key"):
        Setting("")


def test_a_webhook_secret_must_be_marked_secret() -> None:
    with pytest.raises(PluginError, match="'signing' verifies webhooks but is not marked secret"):
        Setting("signing", verifies_webhooks=True)


def test_live_prefixes_given_as_one_string_are_refused() -> None:
    with pytest.raises(PluginError, match="tuple of prefixes"):
        Setting("api_key", live_prefixes="sk_live_")  # type: ignore[arg-type]


def test_a_key_declared_twice_is_refused() -> None:
    with pytest.raises(PluginError, match="'secret' is declared twice"):
        SettingsSpec((Setting("secret", secret=True), Setting("secret")))


def test_a_spec_holds_only_settings() -> None:
    with pytest.raises(PluginError, match="holds Setting objects; got str 'secret'"):
        SettingsSpec(("secret",))  # type: ignore[arg-type]


def test_a_list_of_settings_is_kept_as_a_tuple() -> None:
    spec = SettingsSpec([Setting("a"), Setting("b")])  # type: ignore[arg-type]

    assert spec.settings == (Setting("a"), Setting("b"))


def test_a_provider_receiving_webhooks_must_declare_the_key_of_their_secret() -> None:
    with pytest.raises(PluginError, match="must declare the setting holding their signing"):
        SettingsSpec((Setting("api_key", secret=True),), receives_webhooks=True)


def test_an_empty_spec_reads_nothing_and_receives_no_webhooks() -> None:
    spec = SettingsSpec()

    assert spec.declared_keys() == ()
    assert not spec.receives_webhooks
    assert not spec.lacks_webhook_secret({})


# -- looking settings up --------------------------------------------------------------------


def test_setting_finds_a_declared_key() -> None:
    assert DEV.setting("checkout_url").help == "where the payment page lives"


def test_setting_of_an_unknown_key_names_it_and_the_known_ones() -> None:
    with pytest.raises(UnknownSetting) as raised:
        DEV.setting("webhook_secret")

    assert str(raised.value) == (
        "no setting 'webhook_secret' is declared; known: secret, secrets, checkout_url"
    )


def test_an_unknown_setting_is_a_key_error_and_a_plugin_error() -> None:
    with pytest.raises(KeyError):
        QUIET.setting("secret")
    with pytest.raises(PluginError):
        QUIET.setting("secret")


def test_declared_keys_keep_the_declaration_order() -> None:
    assert LIVE.declared_keys() == ("api_key", "webhook_secret", "webhook_secrets", "products")


def test_webhook_secret_settings_are_those_that_verify_webhooks() -> None:
    assert [s.key for s in LIVE.webhook_secret_settings()] == ["webhook_secret", "webhook_secrets"]
    assert QUIET.webhook_secret_settings() == ()


# -- webhook secrets ------------------------------------------------------------------------


def test_webhook_secrets_are_the_configured_values_in_declaration_order() -> None:
    config = {"webhook_secrets": ["whsec_new", "whsec_old"], "webhook_secret": "whsec_one"}

    assert LIVE.webhook_secrets(config) == ["whsec_one", "whsec_new", "whsec_old"]


def test_webhook_secrets_drop_empty_values_and_repeats() -> None:
    config = {"webhook_secret": "whsec_1", "webhook_secrets": ["", None, "whsec_1", "whsec_2"]}

    assert LIVE.webhook_secrets(config) == ["whsec_1", "whsec_2"]


def test_one_string_under_a_list_setting_is_one_secret_not_its_letters() -> None:
    assert LIVE.webhook_secrets({"webhook_secrets": "whsec_1"}) == ["whsec_1"]


def test_webhook_secrets_ignore_settings_that_do_not_verify_webhooks() -> None:
    assert LIVE.webhook_secrets({"api_key": "sk_test_1", "products": ["prod_1"]}) == []


def test_a_secret_that_is_not_a_string_is_refused_without_showing_it() -> None:
    with pytest.raises(PluginError, match="'webhook_secret' must hold a string; got a bytes") as e:
        LIVE.webhook_secrets({"webhook_secret": b"whsec_private"})

    assert "whsec_private" not in str(e.value)


def test_public_defaults_are_every_dev_default() -> None:
    assert DEV.public_defaults() == frozenset({PUBLIC})
    assert LIVE.public_defaults() == frozenset()


def test_has_dev_default_when_a_webhook_secret_falls_back_to_a_public_one() -> None:
    assert DEV.has_dev_default()
    assert not LIVE.has_dev_default()
    assert not QUIET.has_dev_default()


def test_a_provider_receiving_webhooks_lacks_a_secret_when_none_is_set() -> None:
    assert LIVE.lacks_webhook_secret({"api_key": "sk_test_1"})
    assert LIVE.lacks_webhook_secret({"webhook_secret": "", "webhook_secrets": []})
    assert DEV.lacks_webhook_secret({})


def test_a_provider_receiving_webhooks_has_a_secret_under_any_of_its_keys() -> None:
    assert not LIVE.lacks_webhook_secret({"webhook_secrets": ["whsec_1"]})
    assert not DEV.lacks_webhook_secret({"secret": "s"})


def test_a_provider_receiving_no_webhooks_never_lacks_a_secret() -> None:
    assert not QUIET.lacks_webhook_secret({})


@pytest.mark.parametrize(
    "config",
    [{}, {"secret": ""}, {"secret": PUBLIC}, {"secrets": ["s_real", PUBLIC]}],
    ids=["unset", "empty", "set-to-the-default", "default-in-the-list"],
)
def test_webhooks_verify_with_a_public_secret(config: dict[str, Any]) -> None:
    assert DEV.verifies_with_public_secret(config)


def test_a_secret_of_ones_own_verifies_with_no_public_secret() -> None:
    assert not DEV.verifies_with_public_secret({"secret": "s_real"})
    assert not DEV.verifies_with_public_secret({"secrets": ["s_new", "s_old"]})


def test_without_a_dev_default_an_unset_secret_verifies_nothing_not_a_public_secret() -> None:
    assert not LIVE.verifies_with_public_secret({"api_key": "sk_test_1"})


def test_a_provider_receiving_no_webhooks_verifies_with_no_public_secret() -> None:
    spec = SettingsSpec((Setting("secret", secret=True, verifies_webhooks=True, dev_default="p"),))

    assert not spec.verifies_with_public_secret({})


# -- when a provider must not receive webhooks ----------------------------------------------


def test_without_a_secret_a_public_default_is_refused_outside_development_mode() -> None:
    problem = DEV.webhook_secret_problem({})

    assert problem is not None
    assert "public development default" in problem
    assert "set 'secret' or 'secrets' (a list) to a secret of your own" in problem


def test_in_development_mode_the_public_default_is_taken() -> None:
    assert DEV.webhook_secret_problem({}, development=True) is None
    assert DEV.webhook_secret_problem({"secret": PUBLIC}, development=True) is None


@pytest.mark.parametrize(
    "config",
    [{"secret": PUBLIC}, {"secrets": ["s_real", PUBLIC]}],
    ids=["set-to-the-default", "default-in-the-list"],
)
def test_a_secret_set_to_the_public_default_is_refused_outside_development_mode(
    config: dict[str, Any],
) -> None:
    problem = DEV.webhook_secret_problem(config)

    assert problem is not None
    assert "is its public development default" in problem


def test_a_secret_of_ones_own_is_never_a_problem() -> None:
    assert DEV.webhook_secret_problem({"secret": "s_real"}) is None
    assert LIVE.webhook_secret_problem({"webhook_secrets": ["whsec_1"]}) is None


def test_without_a_secret_or_a_default_webhooks_are_refused_even_in_development_mode() -> None:
    problem = LIVE.webhook_secret_problem({"api_key": "sk_test_1"}, development=True)

    assert problem == "no webhook secret is set; set 'webhook_secret' or 'webhook_secrets' (a list)"


def test_a_provider_receiving_no_webhooks_needs_no_secret() -> None:
    assert QUIET.webhook_secret_problem({"api_key": "k"}) is None


def test_undeclared_keys_are_listed_and_the_livemode_flag_is_not_one() -> None:
    config = {"secret": "s", "webhook_secret": "typo", "livemode": False, "colour": "red"}

    assert DEV.undeclared_keys(config) == ["colour", "webhook_secret"]


def test_check_keys_names_the_provider_the_keys_and_every_key_it_reads() -> None:
    with pytest.raises(UnknownSetting) as raised:
        DEV.check_keys({"webhook_secret": "s"}, "acme")

    assert raised.value.args[0] == (
        "payment provider 'acme' does not read the setting(s) 'webhook_secret'; "
        "it reads: secret, secrets, checkout_url"
    )


# -- the registry holds providers to their declaration ---------------------------------------


def _registry(config: dict[str, Any], **options: bool) -> Providers:
    return Providers(get_plugin_manager(load_entrypoints=False), config, **options)


def test_the_registry_withholds_a_provider_on_its_public_secret_outside_development_mode() -> None:
    providers = _registry({"fake": {}})

    assert "fake" not in providers
    assert "public development default" in providers.withheld["fake"]
    with pytest.raises(UnknownProvider, match="'fake' is not available: no webhook secret"):
        providers["fake"]


def test_the_registry_takes_a_provider_with_a_secret_of_its_own() -> None:
    providers = _registry({"fake": {"secret": "s_real"}})

    assert providers["fake"].signer.secrets == ("s_real",)  # type: ignore[attr-defined]


def test_the_registry_withholds_a_provider_whose_settings_hold_a_key_it_does_not_read() -> None:
    providers = _registry({"fake": {"webhook_secret": "s_real"}}, development=True)

    assert "fake" not in providers
    assert "does not read the setting(s) 'webhook_secret'" in providers.withheld["fake"]
    assert "it reads: secret, secrets" in providers.withheld["fake"]


def test_configured_only_withholds_an_installed_provider_the_site_did_not_configure() -> None:
    providers = _registry({"fake": {"secret": "s"}}, development=True, configured_only=True)

    assert set(providers) == {"fake"}
    assert providers.withheld["manual"] == "it is installed but not configured"
    assert {"fake", "manual"} <= set(providers.specs)


# -- required settings and live keys --------------------------------------------------------


@pytest.mark.parametrize("config", [{}, {"api_key": ""}, {"api_key": None}])
def test_a_required_setting_unset_or_empty_is_missing(config: dict[str, Any]) -> None:
    assert LIVE.missing_required(config) == ["api_key"]


def test_a_required_setting_that_is_set_is_not_missing() -> None:
    assert LIVE.missing_required({"api_key": "sk_test_1"}) == []
    assert DEV.missing_required({}) == []


@pytest.mark.parametrize("key", ["sk_live_abc", "rk_live_abc"])
def test_a_value_with_a_live_prefix_is_live(key: str) -> None:
    assert LIVE.is_live({"api_key": key})


def test_a_test_key_is_not_live() -> None:
    assert not LIVE.is_live({"api_key": "sk_test_abc", "webhook_secret": "whsec_1"})


def test_a_live_prefix_counts_only_under_the_setting_declaring_it() -> None:
    assert not LIVE.is_live({"api_key": "sk_test_abc", "webhook_secret": "sk_live_abc"})


def test_a_live_prefix_counts_in_every_value_of_a_list_setting() -> None:
    spec = SettingsSpec((Setting("keys", secret=True, many=True, live_prefixes=("live_",)),))

    assert spec.is_live({"keys": ["test_1", "live_2"]})


def test_livemode_true_marks_any_providers_settings_live() -> None:
    assert QUIET.is_live({"api_key": "anything", "livemode": True})
    assert not QUIET.is_live({"api_key": "anything", "livemode": "true"})
    assert not QUIET.is_live({"api_key": "anything"})


# -- the built-in providers' declarations ---------------------------------------------------


def _keywords(cls: type) -> set[str]:
    return set(inspect.signature(cls).parameters)


@pytest.mark.parametrize("cls", [FakeProvider, ManualProvider])
def test_a_simulated_provider_declares_every_keyword_it_is_built_with(cls: type) -> None:
    declared = set(cls.settings_spec.declared_keys())  # type: ignore[attr-defined]

    # `secrets` takes the `secret`/`secrets` settings; `name` is not a setting.
    assert declared - {"secret"} == _keywords(cls) - {"name"}


def test_stripe_declares_every_keyword_it_is_built_with() -> None:
    declared = set(StripeProvider.settings_spec.declared_keys())

    # The constructor's `webhook_secrets` takes both the single and the list setting.
    assert declared - {"webhook_secret"} == _keywords(StripeProvider)


@pytest.mark.parametrize(
    ("cls", "dev_secret"), [(FakeProvider, FAKE_DEV_SECRET), (ManualProvider, MANUAL_DEV_SECRET)]
)
def test_a_simulated_provider_receives_webhooks_falling_back_to_its_public_secret(
    cls: Any, dev_secret: str
) -> None:
    spec: SettingsSpec = cls.settings_spec

    assert spec.receives_webhooks
    assert [s.key for s in spec.webhook_secret_settings()] == ["secret", "secrets"]
    assert spec.public_defaults() == {dev_secret}
    assert spec.verifies_with_public_secret({})
    assert not spec.verifies_with_public_secret({"secret": "whsec_site"})


def test_stripe_has_no_public_secret_and_needs_a_live_or_test_key() -> None:
    spec = StripeProvider.settings_spec

    assert spec.receives_webhooks
    assert not spec.has_dev_default()
    assert spec.missing_required({}) == ["api_key"]
    assert spec.lacks_webhook_secret({"api_key": "sk_test_1"})
    assert spec.is_live({"api_key": "rk_live_1"})
    assert all(s.secret for s in spec.settings if s.key.startswith(("api_key", "webhook_")))


def test_undeclared_keys_are_not_read_by_the_fake_provider() -> None:
    provider = FakeProvider.from_config({"secret": "whsec_1", "webhook_secret": "whsec_typo"})

    assert provider.signer.secrets == ("whsec_1",)


def test_a_secret_and_a_list_of_secrets_all_verify_and_the_single_one_signs() -> None:
    provider = FakeProvider.from_config({"secret": "s_one", "secrets": ["s_new", "s_old"]})

    assert provider.signer.secrets == ("s_one", "s_new", "s_old")


@pytest.mark.parametrize("cls", [FakeProvider, ManualProvider])
def test_a_string_under_secrets_is_one_secret_not_a_list_of_characters(cls: Any) -> None:
    provider = cls.from_config({"secrets": "s_one"})

    assert provider.signer.secrets == ("s_one",)


@pytest.mark.parametrize("cls", [FakeProvider, ManualProvider])
def test_a_webhook_secret_that_is_not_a_string_is_refused_naming_its_key(cls: Any) -> None:
    with pytest.raises(PluginError, match="setting 'secrets' must hold strings; got a int"):
        cls.from_config({"secrets": [12345]})


def test_a_secret_set_to_the_public_default_is_still_the_dev_secret() -> None:
    assert FakeProvider.from_config({"secrets": [FAKE_DEV_SECRET]}).using_dev_secret
