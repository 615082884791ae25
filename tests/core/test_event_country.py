"""``BillingEvent.country``: the billing country a provider reported with an event, kept
in the stored dict only when set."""

from __future__ import annotations

import dataclasses
import json

import pytest
from sdk_builders import sub_event

from membership_sdk import BillingEvent, MalformedEvent


def test_an_event_with_a_country_stores_and_reads_it_back() -> None:
    event = dataclasses.replace(sub_event("evt_1", version=1), country="DE")

    stored = json.loads(json.dumps(event.to_dict()))

    assert stored["country"] == "DE"
    assert BillingEvent.from_dict(stored).country == "DE"


def test_an_event_without_a_country_stores_no_country_key() -> None:
    event = sub_event("evt_1", version=1)

    assert "country" not in event.to_dict()
    assert BillingEvent.from_dict(event.to_dict()).country is None


@pytest.mark.parametrize("bad", ["Deutschland", "D", "D1", "ÄÖ", 49, True])
def test_a_stored_country_that_is_no_two_letter_code_is_malformed_naming_it(bad: object) -> None:
    stored = {**sub_event("evt_1", version=1).to_dict(), "country": bad}

    with pytest.raises(MalformedEvent, match=r"'country' must be a two-letter country code"):
        BillingEvent.from_dict(stored)
