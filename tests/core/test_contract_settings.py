"""The contract suite holds a provider to what its settings declaration says of webhook
secrets, required settings and live prefixes: these run its tests on providers that break
the declaration."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import pytest

from membership_sdk import PluginError, hookimpl
from membership_sdk.providers import Provider, Setting, SettingsSpec, Webhook
from membership_sdk.providers.fake import DEV_SECRET, FakeProvider
from membership_sdk.testing import ProviderContract

NAME = "declared"


def provider_class(*extra: Setting) -> type[FakeProvider]:
    """The fake provider under another name, declaring ``extra`` settings too."""

    class Declared(FakeProvider):
        settings_spec = SettingsSpec(
            (*FakeProvider.settings_spec.settings, *extra), receives_webhooks=True
        )

    return Declared


def registering(build: Callable[[Mapping[str, Any]], FakeProvider | None]) -> object:
    """A plugin registering what ``build`` makes of ``provider_config[NAME]``, if anything."""

    class Plugin:
        @hookimpl
        def membership_register_providers(
            self, register: Callable[[Provider], None], config: Mapping[str, Mapping[str, Any]]
        ) -> None:
            provider = build(config.get(NAME, {}))
            if provider is not None:
                register(provider)

    return Plugin()


def contract(plugin: object) -> ProviderContract:
    class Contract(ProviderContract):  # not Test...: pytest must not collect it
        provider_name = NAME
        provider_config = MappingProxyType({"api_key": "test_contract"})

        def pay(self, provider: FakeProvider, session: Any) -> Webhook:
            return provider.complete_checkout(session.id)

        def sign(self, provider: FakeProvider, body: bytes) -> Webhook:
            return provider.signer.sign(body)

    Contract.plugin = plugin
    return Contract()


REQUIRED = provider_class(Setting("api_key", "an API key", secret=True, required=True))


def test_a_provider_built_without_its_required_setting_fails_the_contract() -> None:
    lenient = registering(lambda config: REQUIRED(name=NAME))

    with pytest.raises(AssertionError, match="registered without its required setting 'api_key'"):
        contract(lenient).test_every_required_setting_is_required()


def test_a_provider_refusing_to_build_without_its_required_setting_passes_the_contract() -> None:
    def build(config: Mapping[str, Any]) -> FakeProvider:
        if missing := REQUIRED.settings_spec.missing_required(config):
            raise PluginError(f"{NAME} settings need {missing}")
        return REQUIRED(name=NAME)

    contract(registering(build)).test_every_required_setting_is_required()


def test_a_provider_registering_nothing_without_its_required_setting_passes_the_contract() -> None:
    def build(config: Mapping[str, Any]) -> FakeProvider | None:
        return REQUIRED(name=NAME) if "api_key" in config else None

    contract(registering(build)).test_every_required_setting_is_required()


def test_a_live_prefix_matching_every_value_fails_the_contract() -> None:
    everything = provider_class(Setting("api_key", "an API key", secret=True, live_prefixes=("",)))
    plugin = registering(lambda config: everything(name=NAME))

    with pytest.raises(AssertionError, match="'api_key' = 'contract-test-value' is live"):
        contract(plugin).test_a_value_without_a_live_prefix_is_not_live()


# -- webhook secrets -------------------------------------------------------------------------
KEYED = provider_class(Setting("api_key", "an API key", secret=True))


def test_a_provider_that_never_reads_its_declared_secret_fails_the_contract() -> None:
    deaf = registering(lambda config: KEYED(name=NAME))  # always its public secret

    with pytest.raises(pytest.fail.Exception, match="does not read 'secret'"):
        contract(deaf).test_every_declared_webhook_secret_is_read()


def test_a_provider_still_taking_its_public_secret_beside_the_sites_fails_the_contract() -> None:
    def build(config: Mapping[str, Any]) -> FakeProvider:
        own = KEYED.settings_spec.webhook_secrets(config)
        return KEYED(name=NAME, secrets=[*own, DEV_SECRET])

    with pytest.raises(pytest.fail.Exception, match="public development default still verified"):
        contract(
            registering(build)
        ).test_a_secret_set_under_any_declared_key_replaces_the_public_dev_default()


def test_a_provider_reading_its_secret_passes_the_webhook_secret_contract() -> None:
    def build(config: Mapping[str, Any]) -> FakeProvider:
        return KEYED(name=NAME, secrets=KEYED.settings_spec.webhook_secrets(config) or DEV_SECRET)

    honest = contract(registering(build))

    honest.test_every_declared_webhook_secret_is_read()
    honest.test_a_secret_set_under_any_declared_key_replaces_the_public_dev_default()
    honest.test_without_a_secret_of_its_own_it_is_withheld_outside_development_mode()
