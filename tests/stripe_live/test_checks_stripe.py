"""The system checks read Stripe's own declaration of its settings (with the ``stripe``
package installed, as a site selling through Stripe has it)."""

from __future__ import annotations

import pytest
from django.test import override_settings

from wagtail_paywall import checks as paywall_checks


def _ids(paywall: dict[str, object], *, debug: bool) -> list[str]:
    with override_settings(DEBUG=debug, PAYWALL=paywall):
        return [m.id or "" for m in paywall_checks.check_providers()]


def test_stripe_without_its_webhook_secret_is_an_error_naming_the_keys_it_reads() -> None:
    with override_settings(
        DEBUG=False, PAYWALL={"PROVIDERS": {"stripe": {"api_key": "sk_test_1"}}}
    ):
        (message,) = paywall_checks.check_providers()
    assert message.id == "wagtail_paywall.E001"
    assert 'PAYWALL["PROVIDERS"]["stripe"]["webhook_secret"]' in message.hint
    assert 'PAYWALL["PROVIDERS"]["stripe"]["webhook_secrets"] (a list)' in message.hint


def test_stripe_without_a_webhook_secret_is_an_error_while_debugging_too() -> None:
    # Stripe has no public development secret: nothing could be verified.
    paywall = {"PROVIDERS": {"stripe": {"api_key": "sk_test_1"}}}
    assert _ids(paywall, debug=True) == ["wagtail_paywall.E001"]


def test_a_list_of_stripe_webhook_secrets_passes() -> None:
    paywall = {"PROVIDERS": {"stripe": {"api_key": "sk_test_1", "webhook_secrets": ["whsec_a"]}}}
    assert _ids(paywall, debug=False) == []


@pytest.mark.parametrize("key", ["sk_live_51abc", "rk_live_51abc"])
def test_debug_with_a_live_stripe_key_is_an_error(key: str) -> None:
    paywall = {"PROVIDERS": {"stripe": {"api_key": key, "webhook_secret": "whsec_x"}}}
    assert _ids(paywall, debug=True) == ["wagtail_paywall.E005"]


def test_debug_with_a_test_stripe_key_passes() -> None:
    paywall = {"PROVIDERS": {"stripe": {"api_key": "sk_test_51abc", "webhook_secret": "whsec_x"}}}
    assert _ids(paywall, debug=True) == []


def test_a_live_stripe_key_without_debug_passes() -> None:
    paywall = {"PROVIDERS": {"stripe": {"api_key": "sk_live_51abc", "webhook_secret": "whsec_x"}}}
    assert _ids(paywall, debug=False) == []


def test_a_key_that_is_not_a_stripe_key_is_an_error_saying_so() -> None:
    with override_settings(PAYWALL={"PROVIDERS": {"stripe": {"api_key": "nonsense"}}}):
        (message,) = paywall_checks.check_providers()
    assert message.id == "wagtail_paywall.E006"
    assert "neither a live key" in message.msg
