"""The concepts page keeps up with the code it describes."""

from __future__ import annotations

import re
from pathlib import Path

from membership_sdk import Reason, Status
from membership_sdk.membership import TRANSITIONS

CONCEPTS = Path(__file__).resolve().parents[2] / "docs" / "concepts.md"


def table_after(marker: str) -> list[list[str]]:
    text = CONCEPTS.read_text(encoding="utf-8")
    start = text.index(f"<!-- {marker}")
    rows = []
    for line in text[start:].splitlines()[1:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip().strip("`") for cell in line.strip("|").split("|")])
    return rows[2:]  # header and rule


def test_the_transition_table_matches_the_state_machine() -> None:
    documented = {
        Status(row[0]): {Status(s.strip()) for s in row[1].split(",")}
        for row in table_after("transition-table")
    }
    assert documented == TRANSITIONS


def test_every_reason_is_explained_with_whether_it_allows() -> None:
    allowing = {
        Reason.PUBLIC,
        Reason.REGISTERED,
        Reason.TIER,
        Reason.ENTITLEMENT,
        Reason.METERED,
        Reason.PURCHASED,
        Reason.EMBARGO_LIFTED,
    }
    documented = {Reason(row[0]): row[1] == "yes" for row in table_after("reason-table")}
    assert documented == {reason: reason in allowing for reason in Reason}


def test_every_status_is_described() -> None:
    text = CONCEPTS.read_text(encoding="utf-8")
    for status in Status:
        assert re.search(rf"^\| `{status}` +\|", text, re.M), status
