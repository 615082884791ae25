"""The provider contract suite for the ``manual`` provider over the database store the
Wagtail adapter gives it (``tests/core`` runs it over the in-memory one)."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest

from membership_sdk import MembershipProgram
from membership_sdk.providers.manual import ManualProvider
from membership_sdk.testing import ProviderContract
from wagtail_paywall.manual_store import DjangoManualBilling
from wagtail_paywall.models import (
    ManualCustomer,
    ManualInvoice,
    ManualInvoiceCounter,
    ManualPurchase,
    ManualSubscription,
)

pytestmark = pytest.mark.django_db


class TestManualProviderOverTheDatabase(ProviderContract):
    provider_name = "manual"
    provider_config = MappingProxyType({"store": DjangoManualBilling()})

    def make_program(self, *args: Any, **kwargs: Any) -> MembershipProgram:
        # The suite builds several programs in one test, each standing for a payment
        # service of its own; over one database that means starting from empty tables.
        for model in (
            ManualInvoice,
            ManualInvoiceCounter,
            ManualSubscription,
            ManualPurchase,
            ManualCustomer,
        ):
            model.objects.all().delete()
        return super().make_program(*args, **kwargs)

    def pay(self, provider: ManualProvider, session: Any) -> Any:
        return provider.confirm_payment(session.id)

    def sign(self, provider: ManualProvider, body: bytes) -> Any:
        return provider.signer.sign(body)

    def break_provider(self, provider: ManualProvider) -> None:
        provider.simulate_outage()
