"""System checks name settings that would let content or money slip through."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core import checks
from django.test import override_settings

from membership_sdk.providers import Setting, SettingsSpec
from membership_sdk.providers.fake import DEV_SECRET as FAKE_DEV_SECRET
from membership_sdk.providers.fake import FakeProvider
from wagtail_paywall import checks as paywall_checks


def _ids(messages: list[checks.CheckMessage]) -> list[str]:
    return [m.id for m in messages if m.id]


def test_the_test_settings_pass_every_check() -> None:
    messages = checks.run_checks(tags=None)
    assert not [
        m for m in messages if m.id and m.id.startswith("wagtail_paywall.") and not m.is_silenced()
    ]


def _provider_messages() -> list[checks.CheckMessage]:
    return paywall_checks.check_providers()


@override_settings(DEBUG=False, PAYWALL={"PROVIDERS": {"fake": {"secret": "s"}, "manual": {}}})
def test_a_provider_receiving_webhooks_without_a_secret_is_an_error() -> None:
    messages = _provider_messages()
    assert _ids(messages) == ["wagtail_paywall.E001"]
    assert "'manual'" in messages[0].msg


@override_settings(DEBUG=False, PAYWALL={"PROVIDERS": {"fake": {}}})
def test_the_hint_names_the_settings_the_provider_reads() -> None:
    (message,) = _provider_messages()
    assert 'PAYWALL["PROVIDERS"]["fake"]["secret"]' in message.hint
    assert 'PAYWALL["PROVIDERS"]["fake"]["secrets"] (a list)' in message.hint
    assert "webhook_secret" not in message.hint


DEVELOPMENT = {"PROVIDERS": {"fake": {}}, "DEVELOPMENT_MODE": True}


@override_settings(DEBUG=True, PAYWALL=DEVELOPMENT)
def test_the_fake_provider_may_use_its_development_secret_in_development_mode() -> None:
    assert _provider_messages() == []


@override_settings(DEBUG=True, PAYWALL={"PROVIDERS": {"fake": {}}})
def test_debug_alone_is_not_development_mode() -> None:
    (message,) = _provider_messages()
    assert message.id == "wagtail_paywall.E001"
    assert "public development secret" in message.msg
    assert 'DEBUG = True with PAYWALL["DEVELOPMENT_MODE"] = True' in message.hint


@override_settings(DEBUG=False, PAYWALL=DEVELOPMENT)
def test_development_mode_counts_only_while_debugging() -> None:
    # A development settings file deployed with DEBUG off: the public secret is refused.
    assert _ids(_provider_messages()) == ["wagtail_paywall.E001"]


@override_settings(DEBUG=False, PAYWALL={"PROVIDERS": {"fake": {}}})
def test_the_fake_provider_without_a_secret_is_an_error_in_production() -> None:
    assert _ids(_provider_messages()) == ["wagtail_paywall.E001"]


@override_settings(DEBUG=False, PAYWALL={"PROVIDERS": {"fake": {"secret": FAKE_DEV_SECRET}}})
def test_a_secret_set_to_the_public_development_one_is_an_error_in_production() -> None:
    (message,) = _provider_messages()
    assert message.id == "wagtail_paywall.E001"
    assert "public development secret" in message.msg
    assert "switched off" in message.msg
    assert "a secret of your own" in message.hint


@override_settings(
    DEBUG=True,
    PAYWALL={"PROVIDERS": {"fake": {"secret": FAKE_DEV_SECRET}}, "DEVELOPMENT_MODE": True},
)
def test_the_public_development_secret_spelt_out_is_fine_in_development_mode() -> None:
    assert _provider_messages() == []


@override_settings(
    DEBUG=False, PAYWALL={"PROVIDERS": {"manual": {"secret": "s"}}, "DEFAULT_PROVIDER": "manual"}
)
def test_the_manual_provider_with_its_secret_passes() -> None:
    assert _provider_messages() == []


@override_settings(DEBUG=False, PAYWALL={"PROVIDERS": {"fake": {"secrets": ["new", "old"]}}})
def test_a_list_of_secrets_counts_as_a_secret() -> None:
    assert _provider_messages() == []


@override_settings(PAYWALL={"PROVIDERS": {"fake": {"secret": "s"}, "mollie": {"key": "x"}}})
def test_a_configured_provider_that_is_not_installed_is_an_error() -> None:
    messages = _provider_messages()
    assert _ids(messages) == ["wagtail_paywall.E007"]
    assert "'mollie'" in messages[0].msg


@override_settings(PAYWALL={"PROVIDERS": {"fake": {"secret": "s"}, "manaul": {}}})
def test_a_misspelt_provider_is_told_every_provider_it_could_have_meant() -> None:
    (message,) = _provider_messages()
    assert message.id == "wagtail_paywall.E007"
    assert "Installed: fake, manual, stripe." in message.hint


@override_settings(PAYWALL={"PROVIDERS": {"stripe": {"api_key": "not-a-stripe-key"}}})
def test_providers_that_cannot_be_built_are_an_error_naming_why() -> None:
    messages = _provider_messages()
    assert _ids(messages) == ["wagtail_paywall.E006"]
    # Without the stripe package the message says to install it; with it, the bad key.
    assert "stripe" in messages[0].msg.lower()


@override_settings(DEBUG=False, PAYWALL={"PROVIDERS": {"fake": {"webhook_secret": "s"}}})
def test_a_setting_the_provider_does_not_read_is_an_error_naming_the_keys_it_reads() -> None:
    # A key the fake provider never read: it would stay on its public secret.
    unread, no_secret = _provider_messages()
    assert unread.id == "wagtail_paywall.E011"
    assert "'webhook_secret'" in unread.msg
    assert "It reads: secret, secrets, portal_url" in unread.hint
    assert no_secret.id == "wagtail_paywall.E001"
    assert 'PAYWALL["PROVIDERS"]["fake"]["secret"]' in no_secret.hint
    assert "webhook_secret" not in no_secret.hint


@override_settings(DEBUG=True, PAYWALL={**DEVELOPMENT, "PROVIDERS": {"fake": {"secrte": "s"}}})
def test_a_misspelt_key_is_an_error_in_development_mode_too() -> None:
    (message,) = _provider_messages()
    assert message.id == "wagtail_paywall.E011"
    assert "'secrte'" in message.msg


@override_settings(DEBUG=False, PAYWALL={"PROVIDERS": {"fake": {"secret": "s", "livemode": False}}})
def test_the_livemode_flag_is_read_by_every_provider() -> None:
    assert _provider_messages() == []


@override_settings(DEBUG=False, PAYWALL={"PROVIDERS": {"fake": {"secret": "s"}}})
def test_a_setting_the_provider_declares_required_but_lacks_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    declared = FakeProvider.settings_spec
    requiring = SettingsSpec(
        settings=(*declared.settings, Setting("account", required=True)),
        receives_webhooks=declared.receives_webhooks,
    )
    monkeypatch.setattr(FakeProvider, "settings_spec", requiring)
    (message,) = _provider_messages()
    assert message.id == "wagtail_paywall.E008"
    assert "'account'" in message.msg


@override_settings(PAYWALL={"PROVIDERS": {"fake": {"secret": "s"}}, "PLUGINS": ["nope.missing"]})
def test_a_plugin_that_does_not_import_is_an_error_not_a_crash() -> None:
    (message,) = _provider_messages()
    assert message.id == "wagtail_paywall.E006"
    assert "plugin cannot be loaded" in message.msg
    assert "nope" in message.msg
    assert 'PAYWALL["PLUGINS"]' in message.hint


@override_settings(DEBUG=False, PAYWALL={"PROVIDERS": {"fake": {"secret": 123}}})
def test_a_setting_of_the_wrong_type_is_an_error_naming_the_provider() -> None:
    (message,) = _provider_messages()
    assert message.id == "wagtail_paywall.E006"
    assert "'fake'" in message.msg
    assert "'secret'" in message.msg


@override_settings(DEBUG=True, PAYWALL={"PROVIDERS": {"fake": {"secret": "s", "livemode": True}}})
def test_debug_with_a_provider_in_livemode_is_an_error() -> None:
    messages = _provider_messages()
    assert _ids(messages) == ["wagtail_paywall.E005"]
    assert "'fake'" in messages[0].msg


@override_settings(DEBUG=False, PAYWALL={"PROVIDERS": {"fake": {"secret": "s", "livemode": True}}})
def test_livemode_without_debug_passes() -> None:
    assert _provider_messages() == []


@pytest.mark.parametrize("method", ["redirect", "direct", None])
def test_documents_served_outside_the_serve_view_are_an_error(method: str | None) -> None:
    with override_settings(WAGTAILDOCS_SERVE_METHOD=method):
        assert _ids(paywall_checks.check_document_serving()) == ["wagtail_paywall.E002"]


def test_a_missing_middleware_is_an_error(settings: object) -> None:
    from django.conf import settings as django_settings

    middleware = [m for m in django_settings.MIDDLEWARE if "Paywall" not in m]
    with override_settings(MIDDLEWARE=middleware):
        assert _ids(paywall_checks.check_middleware()) == ["wagtail_paywall.E003"]


@override_settings(PAYWALL={"PROVIDERS": {"fake": {"secret": "s"}}, "DEFAULT_PROVIDER": "stripe"})
def test_a_default_provider_that_is_not_configured_is_an_error() -> None:
    assert _ids(paywall_checks.check_default_provider()) == ["wagtail_paywall.E004"]


@override_settings(
    DEBUG=False, CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
)
def test_a_per_process_cache_in_production_is_a_warning() -> None:
    assert _ids(paywall_checks.check_shared_cache()) == ["wagtail_paywall.W001"]


@override_settings(
    DEBUG=False,
    CACHES={"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache"}},
)
def test_a_shared_cache_passes() -> None:
    assert paywall_checks.check_shared_cache() == []


def test_media_served_by_djangos_static_view_is_a_warning() -> None:
    # Outside DEBUG (the test default): a site that serves media through Django in
    # production, by a pattern of its own.
    from types import ModuleType

    from django.conf import settings as django_settings
    from django.conf.urls.static import static

    urlconf = ModuleType("urls_serving_media")  # as a site's urls.py does in development
    with override_settings(DEBUG=True):
        urlconf.urlpatterns = static("/media/", document_root="/tmp")  # type: ignore[attr-defined]
    with override_settings(ROOT_URLCONF=urlconf):
        assert django_settings.MEDIA_URL == "/media/"
        assert _ids(paywall_checks.check_media_not_served()) == ["wagtail_paywall.W002"]


def test_media_not_served_by_django_passes() -> None:
    assert paywall_checks.check_media_not_served() == []


def test_a_new_project_serving_media_while_debugging_is_not_warned() -> None:
    from types import ModuleType

    from django.conf.urls.static import static

    urlconf = ModuleType("urls_of_a_new_project")  # what `wagtail start` writes
    with override_settings(DEBUG=True):
        urlconf.urlpatterns = static("/media/", document_root="/tmp")  # type: ignore[attr-defined]
        with override_settings(ROOT_URLCONF=urlconf):
            assert paywall_checks.check_media_not_served() == []


# -- a third-party provider is checked from its own declaration ---------------------------------
VOUCHER_SRC = Path(__file__).resolve().parents[2] / "examples" / "provider_plugin" / "src"


@pytest.fixture
def voucher_plugin(monkeypatch: pytest.MonkeyPatch) -> str:
    """The example plugin (examples/provider_plugin), registered as PAYWALL["PLUGINS"]."""
    monkeypatch.syspath_prepend(str(VOUCHER_SRC))
    return "membership_provider_voucher"


def test_a_third_party_provider_without_its_declared_secret_is_an_error(
    voucher_plugin: str,
) -> None:
    paywall = {"PROVIDERS": {"fake": {"secret": "s"}, "voucher": {}}, "PLUGINS": [voucher_plugin]}
    with override_settings(DEBUG=False, PAYWALL=paywall):
        messages = _provider_messages()
    assert _ids(messages) == ["wagtail_paywall.E001"]
    assert "'voucher'" in messages[0].msg
    assert 'PAYWALL["PROVIDERS"]["voucher"]["secret"]' in messages[0].hint


def test_a_third_party_provider_with_its_declared_secret_passes(voucher_plugin: str) -> None:
    paywall = {
        "PROVIDERS": {"fake": {"secret": "s"}, "voucher": {"secret": "v"}},
        "PLUGINS": [voucher_plugin],
    }
    with override_settings(DEBUG=False, PAYWALL=paywall):
        assert _provider_messages() == []


def test_a_third_party_provider_may_use_its_development_secret_in_development_mode(
    voucher_plugin: str,
) -> None:
    paywall = {
        "PROVIDERS": {"fake": {}, "voucher": {}},
        "PLUGINS": [voucher_plugin],
        "DEVELOPMENT_MODE": True,
    }
    with override_settings(DEBUG=True, PAYWALL=paywall):
        assert _provider_messages() == []


def test_an_installed_third_party_provider_the_site_does_not_configure_is_not_checked(
    voucher_plugin: str,
) -> None:
    # Installed but not configured: it has no endpoint, so nothing about it can be wrong.
    paywall = {"PROVIDERS": {"fake": {"secret": "s"}}, "PLUGINS": [voucher_plugin]}
    with override_settings(DEBUG=False, PAYWALL=paywall):
        assert _provider_messages() == []


def test_a_misspelt_provider_is_told_about_installed_third_party_providers_too(
    voucher_plugin: str,
) -> None:
    paywall = {"PROVIDERS": {"fake": {"secret": "s"}, "vouchre": {}}, "PLUGINS": [voucher_plugin]}
    with override_settings(DEBUG=False, PAYWALL=paywall):
        (message,) = _provider_messages()
    assert message.id == "wagtail_paywall.E007"
    assert "Installed: fake, manual, stripe, voucher." in message.hint


def _deploy_ids() -> list[str]:
    return _ids(checks.run_checks(include_deployment_checks=True))


@override_settings(DEBUG=False, PAYWALL={"PROVIDERS": {"fake": {"secret": "a-real-secret"}}})
def test_deploy_refuses_the_fake_provider_whatever_its_secret() -> None:
    messages = paywall_checks.check_development_only_providers()

    assert _ids(messages) == ["wagtail_paywall.E013"]
    assert "'fake' takes no money" in messages[0].msg
    assert "wagtail_paywall.E013" in _deploy_ids()


@override_settings(DEBUG=False, PAYWALL={"PROVIDERS": {"fake": {"secret": "a-real-secret"}}})
def test_a_test_suite_with_the_fake_provider_passes_the_checks_it_runs() -> None:
    # Django's test runner runs the checks without the deployment ones.
    assert "wagtail_paywall.E013" not in _ids(checks.run_checks())


@override_settings(DEBUG=True, PAYWALL=DEVELOPMENT)
def test_development_may_keep_the_fake_provider() -> None:
    assert paywall_checks.check_development_only_providers() == []


@override_settings(
    DEBUG=False,
    PAYWALL={
        "PROVIDERS": {"manual": {"secret": "bank-transfer-secret"}},
        "DEFAULT_PROVIDER": "manual",
    },
)
def test_a_provider_that_takes_money_is_not_development_only() -> None:
    assert paywall_checks.check_development_only_providers() == []
