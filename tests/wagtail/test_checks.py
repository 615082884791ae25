"""System checks name settings that would let content or money slip through."""

from __future__ import annotations

import pytest
from django.core import checks
from django.test import override_settings

from wagtail_paywall import checks as paywall_checks


def _ids(messages: list[checks.CheckMessage]) -> list[str]:
    return [m.id for m in messages if m.id]


def test_the_test_settings_pass_every_check() -> None:
    messages = checks.run_checks(tags=None)
    assert not [
        m for m in messages if m.id and m.id.startswith("wagtail_paywall.") and not m.is_silenced()
    ]


@override_settings(PAYWALL={"PROVIDERS": {"fake": {"secret": "s"}, "stripe": {"api_key": "sk"}}})
def test_a_provider_without_a_webhook_secret_is_an_error() -> None:
    messages = paywall_checks.check_webhook_secrets()
    assert _ids(messages) == ["wagtail_paywall.E001"]
    assert "'stripe'" in messages[0].msg


@override_settings(DEBUG=True, PAYWALL={"PROVIDERS": {"fake": {}}})
def test_the_fake_provider_may_use_its_development_secret_while_debugging() -> None:
    assert paywall_checks.check_webhook_secrets() == []


@override_settings(DEBUG=False, PAYWALL={"PROVIDERS": {"fake": {}}})
def test_the_fake_provider_without_a_secret_is_an_error_in_production() -> None:
    assert _ids(paywall_checks.check_webhook_secrets()) == ["wagtail_paywall.E001"]


@override_settings(PAYWALL={"PROVIDERS": {"manual": {}}, "DEFAULT_PROVIDER": "manual"})
def test_the_manual_provider_needs_no_webhook_secret() -> None:
    assert paywall_checks.check_webhook_secrets() == []


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


@pytest.mark.parametrize(
    "config",
    [
        {"api_key": "sk_live_51abc", "webhook_secret": "whsec_x"},
        {"api_key": "rk_live_51abc", "webhook_secret": "whsec_x"},
        {"secret": "s", "livemode": True},
    ],
)
def test_debug_with_live_keys_is_an_error(config: dict[str, object]) -> None:
    with override_settings(DEBUG=True, PAYWALL={"PROVIDERS": {"stripe": config}}):
        messages = paywall_checks.check_debug_with_live_keys()
    assert _ids(messages) == ["wagtail_paywall.E005"]
    assert "'stripe'" in messages[0].msg


@override_settings(
    DEBUG=True, PAYWALL={"PROVIDERS": {"stripe": {"api_key": "sk_test_51abc", "secret": "s"}}}
)
def test_debug_with_test_keys_passes() -> None:
    assert paywall_checks.check_debug_with_live_keys() == []


@override_settings(
    DEBUG=False, PAYWALL={"PROVIDERS": {"stripe": {"api_key": "sk_live_51abc", "secret": "s"}}}
)
def test_live_keys_without_debug_pass() -> None:
    assert paywall_checks.check_debug_with_live_keys() == []


def test_media_served_by_djangos_static_view_is_a_warning() -> None:
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
