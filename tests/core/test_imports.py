"""Reading other platforms' member exports (membership_sdk.imports), no framework."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sdk_builders import NOW as BUILT_NOW
from sdk_builders import Clock

from membership_sdk import GrantKind, MembershipError, MembershipProgram, MinTier, Resource
from membership_sdk.imports import (
    COLUMN_MAPS,
    Access,
    BadRow,
    ImportedMember,
    ImportFileError,
    Platform,
    SkippedRow,
    TierMapping,
    decode_lines,
    parse_tier_map,
    read_members,
)

FIXTURES = Path(__file__).parents[1] / "wagtail" / "imports" / "fixtures"
NOW = datetime(2026, 11, 30, tzinfo=UTC)
TIERS = TierMapping({"supporter": "Supporter", "premium": "Premium"}, {"Gold": "premium"})


def read(text: str, platform: str = "csv", tiers: TierMapping = TIERS) -> list[object]:
    return list(read_members(io.StringIO(text), platform, tiers, now=NOW))


def read_fixture(name: str, platform: str, tiers: TierMapping = TIERS) -> list[object]:
    with open(FIXTURES / name, "rb") as stream:
        return list(read_members(decode_lines(stream), platform, tiers, now=NOW))


def header_of(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8").splitlines()[0]


# -- each platform's header -----------------------------------------------------------------
def test_ghosts_export_header_is_read_as_ghost_documents_it() -> None:
    assert header_of("ghost_members.csv").split(",") == list(COLUMN_MAPS[Platform.GHOST].documented)


def test_ghost_rows_are_free_paid_comp_or_deleted() -> None:
    rows = read_fixture("ghost_members.csv", "ghost")

    assert [r.access for r in rows if isinstance(r, ImportedMember)] == [
        Access.FREE,
        Access.PAID,
        Access.COMP,
    ]
    paid = rows[1]
    assert isinstance(paid, ImportedMember)
    assert (paid.tier, paid.plan, paid.stripe_customer_id) == (
        "premium",
        "Gold",
        "cus_GhostGrace01",
    )
    assert rows[3] == SkippedRow(5, "gone@example.com", "deleted in Ghost")


def test_substacks_subscriber_export_header_is_read() -> None:
    assert header_of("substack_subscribers.csv").split(",") == list(
        COLUMN_MAPS[Platform.SUBSTACK].documented
    )


def test_substack_paid_members_take_the_default_tier_and_their_expiry() -> None:
    tiers = TierMapping({"premium": "Premium"}, default="premium")

    rows = read_fixture("substack_subscribers.csv", "substack", tiers)

    paid = rows[0]
    assert isinstance(paid, ImportedMember)
    assert (paid.access, paid.tier) == (Access.PAID, "premium")
    assert paid.paid_through == datetime(2099, 7, 6, 16, 20, 44, tzinfo=UTC)
    assert paid.stripe_customer_id == "cus_SubstackPaid01"
    assert [r.access for r in rows[1:3] if isinstance(r, ImportedMember)] == [
        Access.COMP,
        Access.GIFT,
    ]


def test_a_paid_member_whose_expiry_passed_is_read_as_free() -> None:
    tiers = TierMapping({"premium": "Premium"}, default="premium")

    lapsed = read_fixture("substack_subscribers.csv", "substack", tiers)[3]

    assert isinstance(lapsed, ImportedMember)
    assert (lapsed.access, lapsed.tier) == (Access.FREE, None)
    assert "ended 2020-12-31" in lapsed.note


def test_substack_deletion_requests_are_skipped() -> None:
    tiers = TierMapping({"premium": "Premium"}, default="premium")

    rows = read_fixture("substack_subscribers.csv", "substack", tiers)

    assert rows[-1] == SkippedRow(
        7, "someone@deletion-request.substack.com", "a Substack deletion request"
    )


def test_substacks_signups_export_reads_active_subscription() -> None:
    tiers = TierMapping({"premium": "Premium"}, default="premium")

    rows = read_fixture("substack_signups.csv", "substack", tiers)

    assert [r.access for r in rows if isinstance(r, ImportedMember)] == [Access.PAID, Access.FREE]


def test_memberful_rows_read_plan_names_and_month_first_dates() -> None:
    tiers = TierMapping({"premium": "Premium"}, {"Gold Monthly": "premium"})

    rosalind, marie = read_fixture("memberful_members.csv", "memberful", tiers)

    assert isinstance(rosalind, ImportedMember)
    assert isinstance(marie, ImportedMember)
    assert (rosalind.tier, rosalind.name) == ("premium", "Rosalind Franklin")
    assert rosalind.paid_through == datetime(2099, 12, 31, tzinfo=UTC)
    assert rosalind.started_at == datetime(2024, 1, 15, tzinfo=UTC)
    assert marie.access is Access.FREE


def test_the_generic_csv_reads_amounts_in_major_units() -> None:
    (row,) = read(
        "email,status,tier,paid_through,amount,currency\n"
        'a@example.com,active,premium,2099-01-31,"12,50",eur\n'
    )

    assert isinstance(row, ImportedMember)
    assert (row.amount, row.currency) == (1250, "EUR")


def test_headers_are_matched_ignoring_case_spaces_and_a_byte_order_mark() -> None:
    (row,) = read("\ufeffEmail  Address,Status\nA@Example.COM,free\n", "memberful")

    assert isinstance(row, ImportedMember)
    assert row.email == "A@example.com"


def test_a_semicolon_delimited_file_is_read() -> None:
    (row,) = read("email;status;tier;paid_through\na@example.com;active;premium;2099-01-01\n")

    assert isinstance(row, ImportedMember)
    assert row.tier == "premium"


# -- bad rows -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("not-an-email,active,premium,2099-01-01,", "bad email 'not-an-email'"),
        ("a@example.com,active,Platinum,2099-01-01,", "unknown plan 'Platinum'"),
        ("a@example.com,active,premium,2099-13-01,", "bad date '2099-13-01' in 'paid through'"),
        ("a@example.com,active,premium,2099-01-01,-1", "negative amount '-1' in 'amount'"),
        ("a@example.com,sleeping,premium,2099-01-01,", "unknown status 'sleeping'"),
        ("a@example.com,active,,2099-01-01,", "a paid member with no plan"),
    ],
)
def test_a_bad_row_names_its_line_and_the_culprit(row: str, reason: str) -> None:
    (result,) = read(f"email,status,tier,paid_through,amount\n{row}\n")

    assert isinstance(result, BadRow)
    assert result.line == 2
    assert reason in result.reason


def test_an_unknown_plan_says_how_to_map_it() -> None:
    (result,) = read("email,status,tier,paid_through\na@example.com,active,Silver,2099-01-01\n")

    assert isinstance(result, BadRow)
    assert "as Silver=premium" in result.reason


def test_a_bad_row_does_not_stop_the_rows_after_it() -> None:
    rows = read("email,status\nbad,free\ngood@example.com,free\n")

    assert isinstance(rows[0], BadRow)
    assert isinstance(rows[1], ImportedMember)
    assert rows[1].line == 3


def test_line_numbers_count_lines_inside_quoted_cells() -> None:
    rows = read('email,status,name\na@example.com,free,"two\nlines"\nbad,free,x\n')

    assert isinstance(rows[1], BadRow)
    assert rows[1].line == 4


def test_blank_lines_are_passed_over() -> None:
    assert len(read("email,status\n\n,\na@example.com,free\n")) == 1


# -- the file as a whole --------------------------------------------------------------------
def test_a_file_without_an_email_column_is_refused_naming_the_columns_expected() -> None:
    with pytest.raises(ImportFileError, match=r"no email column.*'stripe_connected_customer_id'"):
        read("address,type\nx,paid\n", "substack")


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(ImportFileError, match="empty"):
        read("")


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ImportFileError, match="unknown format 'patreon'"):
        read("email\n", "patreon")


def test_a_latin1_file_read_as_utf8_fails_naming_the_line() -> None:
    stream = io.BytesIO("email,name\nj@example.com,Jörg\n".encode("latin-1"))

    with pytest.raises(ImportFileError, match="line 2 is not valid utf-8"):
        list(decode_lines(stream))


def test_a_latin1_file_reads_with_its_encoding() -> None:
    stream = io.BytesIO("email,name\nj@example.com,Jörg\n".encode("latin-1"))

    assert list(decode_lines(stream, "latin-1"))[1] == "j@example.com,Jörg\n"


def test_decoding_drops_a_utf8_byte_order_mark() -> None:
    assert next(decode_lines(io.BytesIO(b"\xef\xbb\xbfemail\n"))) == "email\n"


def test_an_unknown_encoding_is_refused() -> None:
    with pytest.raises(ImportFileError, match="unknown encoding 'utf-16'"):
        list(decode_lines(io.BytesIO(b""), "utf-16"))


# -- the tier mapping -----------------------------------------------------------------------
def test_a_tier_map_parses_pairs_separated_by_commas_or_lines() -> None:
    assert parse_tier_map(["Gold=premium, Silver = supporter", "Bronze=supporter\n"]) == {
        "Gold": "premium",
        "Silver": "supporter",
        "Bronze": "supporter",
    }


def test_a_malformed_tier_map_pair_is_named() -> None:
    with pytest.raises(ImportFileError, match="'Gold' is not of the form PLAN=TIER"):
        parse_tier_map(["Gold"])


def test_a_mapping_to_an_unknown_tier_is_refused() -> None:
    with pytest.raises(ImportFileError, match="mapped to tier 'platinum'"):
        TierMapping({"premium": "Premium"}, {"Gold": "platinum"})


def test_plan_names_match_a_tier_by_slug_or_name_ignoring_case() -> None:
    rows = read(
        "email,status,tier,paid_through\n"
        "a@example.com,active,PREMIUM,2099-01-01\n"
        "b@example.com,active,supporter,2099-01-01\n"
        "c@example.com,active,gold,2099-01-01\n"
    )

    assert [r.tier for r in rows if isinstance(r, ImportedMember)] == [
        "premium",
        "supporter",
        "premium",
    ]


# -- the comp an import grants (MembershipProgram.grant with ends_at) -------------------------
def test_a_comp_may_end_at_a_paid_through_date(program: MembershipProgram, clock: Clock) -> None:
    page = Resource("page:1", MinTier("premium"))
    until = BUILT_NOW + timedelta(days=3, hours=5)

    grant = program.grant("bob", GrantKind.COMP, tier="premium", ends_at=until, source="import:x")

    assert grant.ends_at == until
    assert program.access(page, "bob").allowed
    clock.advance(days=3, hours=5)
    assert not program.access(page, "bob").allowed


def test_a_comp_cannot_end_in_the_past_or_have_days_too(program: MembershipProgram) -> None:
    with pytest.raises(MembershipError, match="ends_at must be in the future"):
        program.grant("bob", GrantKind.COMP, tier="premium", ends_at=BUILT_NOW)
    with pytest.raises(MembershipError, match="without days"):
        program.grant(
            "bob", GrantKind.COMP, tier="premium", days=3, ends_at=BUILT_NOW + timedelta(days=9)
        )
