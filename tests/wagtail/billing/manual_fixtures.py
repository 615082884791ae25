"""Fixtures of the bank-transfer tests: a site that takes bank transfers (the ``manual``
provider, its records in the database) besides the fake provider, a clock the tests move,
and a checkout by bank transfer (the helpers are in :mod:`.manual_helpers`).

Test modules load them with ``pytest_plugins = ["tests.wagtail.billing.manual_fixtures"]``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from membership_sdk import MembershipProgram
from wagtail_paywall import program as program_module
from wagtail_paywall.models import Price, Tier

from .manual_helpers import MANUAL_SECRET, Clock


@pytest.fixture
def clock() -> Clock:
    return Clock(timezone.now().replace(microsecond=0))


@pytest.fixture
def bank_transfers(catalog: dict[str, Tier], clock: Clock) -> Iterator[None]:
    """The site sells Premium yearly, Supporter monthly and the report by bank transfer."""
    for key, manual_id in (
        ("premium-yearly", "manual_premium_yearly"),
        ("supporter-monthly", "manual_supporter_monthly"),
        ("report-2026", "manual_report"),
    ):
        price = Price.objects.get(key=key)
        price.provider_ids = {**price.provider_ids, "manual": manual_id}
        price.save()
    providers = {
        "fake": {"secret": "tests-webhook-secret"},
        "manual": {"secret": MANUAL_SECRET, "clock": clock},
    }
    with override_settings(
        PAYWALL={"PROVIDERS": providers, "DEFAULT_PROVIDER": "fake", "GRACE_DAYS": 3}
    ):
        program_module.reset_program()
        yield
    program_module.reset_program()


@pytest.fixture
def site(bank_transfers: None) -> MembershipProgram:
    """The site's program, with the manual provider over the database."""
    return program_module.get_program()


@pytest.fixture
def invoice_for() -> Callable[..., str]:
    """Check ``user`` out for ``price`` by bank transfer; the invoice reference."""

    def run(user: Any, price: str = "premium-yearly") -> str:
        session = program_module.get_program().start_checkout(
            str(user.pk),
            price,
            provider="manual",
            success_url="http://testserver/ok",
            cancel_url="http://testserver/no",
        )
        return session.id

    return run
