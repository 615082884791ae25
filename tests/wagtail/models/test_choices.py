"""The Django choices of the paywall's models are the core's enums, never a copy."""

from __future__ import annotations

from enum import StrEnum

import pytest

from membership_sdk import GrantKind, Interval, Status
from wagtail_paywall.models import Grant, Membership, Price
from wagtail_paywall.models.fields import choices_of


@pytest.mark.parametrize(
    ("choices", "enum"),
    [(Membership.Status, Status), (Grant.Kind, GrantKind), (Price.Interval, Interval)],
)
def test_every_value_of_the_core_enum_is_a_choice_and_nothing_else(
    choices: type, enum: type[StrEnum]
) -> None:
    assert [value for value, _label in choices.choices] == [member.value for member in enum]


def test_a_choice_keeps_its_translated_label() -> None:
    assert Membership.Status.PAST_DUE.label == "Past due"
    assert Membership.Status.PAST_DUE == Status.PAST_DUE


def test_a_core_value_without_a_label_fails_naming_it() -> None:
    with pytest.raises(LookupError, match=r"Membership.Status: no label for \['unknown'\]"):
        choices_of(
            Status,
            {s: s.value for s in Status if s is not Status.UNKNOWN},
            qualname="Membership.Status",
        )
