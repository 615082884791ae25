"""Signature headers found by the webhook fuzz (tests/fuzz): each is refused with a
:class:`SignatureError`, never an unexpected exception."""

from __future__ import annotations

import pytest

from membership_sdk import SignatureError
from membership_sdk.providers.webhooks import WebhookSigner, utcnow

BODY = b'{"id": "evt_1"}'


@pytest.fixture
def signer() -> WebhookSigner:
    return WebhookSigner("secret", header="Sig")


def test_a_timestamp_too_large_for_a_float_is_a_replay(signer: WebhookSigner) -> None:
    header = f"t={'9' * 400},v1={signer.signature(BODY, 0)}"
    with pytest.raises(SignatureError, match="outside the 300s tolerance"):
        signer.verify({"Sig": header}, BODY)


def test_a_timestamp_of_non_ascii_digits_is_unreadable(signer: WebhookSigner) -> None:
    with pytest.raises(SignatureError, match="unreadable"):
        signer.verify({"Sig": "t=\u00b2\u00b3,v1=ab"}, BODY)


def test_a_non_ascii_signature_does_not_match(signer: WebhookSigner) -> None:
    now = int(utcnow().timestamp())
    with pytest.raises(SignatureError, match="unreadable"):
        signer.verify({"Sig": f"t={now},v1=\u00e9\u00e9"}, BODY)
