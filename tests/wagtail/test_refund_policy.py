"""``PAYWALL["ON_REFUND"]`` and ``["ON_DISPUTE_LOST"]``: what a refunded or charged-back
subscription payment does to the member's access (see docs/stripe.md)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import override_settings

from wagtail_paywall import checks as paywall_checks
from wagtail_paywall import conf
from wagtail_paywall.program import get_program, reset_program


def test_a_refund_keeps_access_to_the_period_end_and_a_lost_chargeback_ends_it_by_default() -> None:
    assert (conf.get("ON_REFUND"), conf.get("ON_DISPUTE_LOST")) == (
        "keep_to_period_end",
        "end_now",
    )
    assert paywall_checks.check_take_back_policies() == []


@pytest.mark.parametrize("name", ["ON_REFUND", "ON_DISPUTE_LOST"])
def test_a_policy_that_is_not_one_is_an_error_naming_the_setting_and_the_choices(
    name: str,
) -> None:
    with override_settings(PAYWALL={**settings.PAYWALL, name: "revoke"}):
        [error] = paywall_checks.check_take_back_policies()
    assert error.id == "wagtail_paywall.E012"
    assert name in error.msg
    assert "'revoke'" in error.msg
    assert "'keep_to_period_end'" in error.hint
    assert "'end_now'" in error.hint


@pytest.mark.django_db
def test_the_sites_program_takes_the_configured_policies() -> None:
    paywall = {**settings.PAYWALL, "ON_REFUND": "end_now", "ON_DISPUTE_LOST": "keep_to_period_end"}
    with override_settings(PAYWALL=paywall):
        reset_program()
        try:
            program = get_program()
            assert (program.on_refund, program.on_dispute_lost) == (
                "end_now",
                "keep_to_period_end",
            )
        finally:
            reset_program()
