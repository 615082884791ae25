"""The voucher provider passes the SDK's provider contract suite.

Run it after installing the package (``pip install .``): the suite finds the provider
through its ``membership_sdk.providers`` entry point, exactly as a site would.
"""

from __future__ import annotations

import pytest
from membership_provider_voucher import VoucherProvider

from membership_sdk import ProviderError
from membership_sdk.providers import CheckoutSession, Webhook
from membership_sdk.testing import ProviderContract


class TestVoucherProvider(ProviderContract):
    provider_name = "voucher"

    def pay(self, provider: VoucherProvider, session: CheckoutSession) -> Webhook:
        _, _, price = provider.sessions[session.id]
        return provider.redeem(session.id, provider.issue_code(price, months=3))

    def sign(self, provider: VoucherProvider, body: bytes) -> Webhook:
        return provider.signer.sign(body)


def test_a_code_can_be_redeemed_only_once() -> None:
    provider = VoucherProvider()
    code = provider.issue_code("price_gold")
    provider.sessions["vs_1"] = ("ann", "vc_ann", "price_gold")
    provider.redeem("vs_1", code)

    with pytest.raises(ProviderError, match="already redeemed"):
        provider.redeem("vs_1", code)
