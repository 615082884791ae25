"""Importing members from Ghost, Substack, Memberful and a generic CSV, and exporting them:
the command, the admin screen and what each imported member can read."""

from __future__ import annotations

import copy
import csv
import io
import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.urls import reverse

from membership_sdk import GrantKind
from wagtail_paywall.exports import COLUMNS, csv_lines
from wagtail_paywall.imports import import_members
from wagtail_paywall.models import CustomerLink, Grant, Membership, Price
from wagtail_paywall.program import get_program, reset_program

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.wagtail.journey_fixtures"]

FIXTURES = Path(__file__).parent / "imports" / "fixtures"
STRIPE_PAYLOAD = (
    Path(__file__).parents[1]
    / "stripe/payloads/2025-09-30.clover/customer.subscription.updated.renewal_period_started.json"
)


def users() -> int:
    return get_user_model().objects.count()


def user(email: str) -> Any:
    return get_user_model().objects.get(email__iexact=email)


@pytest.fixture
def run(catalog: Any) -> Callable[..., tuple[str, str]]:
    """``paywall_import_members`` on a fixture (or any path); returns stdout and stderr."""

    def command(name: str | Path, *args: str) -> tuple[str, str]:
        out, err = io.StringIO(), io.StringIO()
        path = name if isinstance(name, Path) else FIXTURES / name
        call_command("paywall_import_members", str(path), *args, stdout=out, stderr=err)
        return out.getvalue(), err.getvalue()

    return command


def write(tmp_path: Path, text: str, name: str = "members.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- dry run, re-runs, bad rows ------------------------------------------------------------
def test_a_dry_run_reports_what_would_change_and_writes_nothing(
    run: Callable[..., tuple[str, str]],
) -> None:
    before = users()

    out, _ = run(
        "substack_subscribers.csv", "--format", "substack", "--dry-run", "--tier", "premium"
    )

    assert users() == before
    assert not Grant.objects.exists()
    assert "(dry run) line 2 created: paid@example.com: user created; comp of premium" in out
    assert (
        "(dry run) Would import 6 row(s) from substack: 5 created, 0 updated, 0 unchanged, "
        "1 skipped, 0 error" in out
    )


def test_substack_paid_comp_and_gift_members_get_a_comp_to_their_expiry(
    run: Callable[..., tuple[str, str]],
) -> None:
    run("substack_subscribers.csv", "--format", "substack", "--tier", "premium")

    grants = {g.member_id: g for g in Grant.objects.all()}
    for email, expiry in [
        ("paid@example.com", datetime(2099, 7, 6, 16, 20, 44, tzinfo=UTC)),
        ("comp@example.com", datetime(2099, 6, 23, 23, 41, 42, 980000, tzinfo=UTC)),
        ("gift@example.com", datetime(2099, 10, 5, 21, 23, 16, 80000, tzinfo=UTC)),
    ]:
        grant = grants[str(user(email).pk)]
        assert (grant.kind, grant.tier, grant.ends_at) == (GrantKind.COMP, "premium", expiry)
        assert grant.source == "import:substack"


def test_lapsed_and_free_members_become_registered_users_without_access(
    run: Callable[..., tuple[str, str]],
) -> None:
    out, _ = run("substack_subscribers.csv", "--format", "substack", "--tier", "premium")

    for email in ("lapsed@example.com", "reader@example.com"):
        assert not Grant.objects.filter(member_id=str(user(email).pk)).exists()
    assert "paid access ended 2020-12-31: imported as a free member" in out
    assert not get_user_model().objects.filter(email__endswith="deletion-request.substack.com")
    assert (
        "line 7 skipped: someone@deletion-request.substack.com: a Substack deletion request" in out
    )


def test_imported_users_cannot_log_in_with_a_password_until_they_set_one(
    run: Callable[..., tuple[str, str]],
) -> None:
    run("substack_subscribers.csv", "--format", "substack", "--tier", "premium")

    assert not user("paid@example.com").has_usable_password()


def test_running_the_same_file_again_changes_nothing(
    run: Callable[..., tuple[str, str]],
) -> None:
    run("substack_subscribers.csv", "--format", "substack", "--tier", "premium")
    grants = list(Grant.objects.values_list("id", "ends_at", "tier"))
    count = users()

    out, _ = run("substack_subscribers.csv", "--format", "substack", "--tier", "premium")

    assert users() == count
    assert list(Grant.objects.values_list("id", "ends_at", "tier")) == grants
    assert "0 created, 0 updated, 5 unchanged, 1 skipped, 0 error" in out


def test_a_comp_staff_revoked_stays_revoked_when_the_file_is_imported_again(
    run: Callable[..., tuple[str, str]], tmp_path: Path
) -> None:
    path = write(
        tmp_path, "email,status,tier,paid_through\na@example.com,active,premium,2099-01-01\n"
    )
    run(path, "--format", "csv")
    get_program().revoke_grant(Grant.objects.get().id)

    out, _ = run(path, "--format", "csv")

    assert not Grant.objects.filter(revoked_at__isnull=True).exists()
    assert "0 created, 0 updated, 0 unchanged, 1 skipped, 0 error" in out
    assert "revoked by staff" in out


def test_an_existing_user_is_matched_by_email_ignoring_case(
    run: Callable[..., tuple[str, str]], reader: Any, tmp_path: Path
) -> None:
    path = write(
        tmp_path, "email,status,tier,paid_through\nREADER@Example.com,active,premium,2099-01-01\n"
    )

    out, _ = run(path, "--format", "csv")

    assert get_user_model().objects.filter(email__iexact="reader@example.com").count() == 1
    assert Grant.objects.get().member_id == str(reader.pk)
    assert "1 updated" not in out
    assert "1 created" in out


def test_a_later_paid_through_date_in_a_new_export_extends_the_comp(
    run: Callable[..., tuple[str, str]], tmp_path: Path
) -> None:
    run(
        write(
            tmp_path, "email,status,tier,paid_through\na@example.com,active,premium,2099-01-01\n"
        ),
        "--format",
        "csv",
    )

    out, _ = run(
        write(
            tmp_path, "email,status,tier,paid_through\na@example.com,active,premium,2099-06-01\n"
        ),
        "--format",
        "csv",
    )

    grant = Grant.objects.get()
    assert grant.ends_at == datetime(2099, 6, 1, tzinfo=UTC)
    assert "1 updated" in out


def test_bad_rows_are_reported_by_line_with_the_reason_and_write_nothing(
    run: Callable[..., tuple[str, str]], tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "email,status,tier,paid_through,amount,currency\n"
        "not-an-email,active,premium,2099-01-01,,\n"
        "gold@example.com,active,Gold,2099-01-01,,\n"
        "date@example.com,active,premium,31/31/2099,,\n"
        "minus@example.com,active,premium,2099-01-01,-5.00,EUR\n"
        "good@example.com,active,premium,2099-01-01,5.00,EUR\n",
    )
    before = users()

    out, err = run(path, "--format", "csv")

    assert "line 2 error: not-an-email: bad email 'not-an-email'" in err
    assert "line 3 error: gold@example.com: unknown plan 'Gold'" in err
    assert "line 4 error: date@example.com: bad date '31/31/2099'" in err
    assert "line 5 error: minus@example.com: negative amount '-5.00'" in err
    assert users() == before + 1
    assert list(Grant.objects.values_list("member_id", flat=True)) == [
        str(user("good@example.com").pk)
    ]
    assert "1 created, 0 updated, 0 unchanged, 0 skipped, 4 error" in out


def test_the_tier_map_maps_the_old_platforms_plan_names(
    run: Callable[..., tuple[str, str]], tmp_path: Path
) -> None:
    path = write(
        tmp_path, "email,status,tier,paid_through\ngold@example.com,active,Gold,2099-01-01\n"
    )

    run(path, "--format", "csv", "--tier-map", "Gold=premium")

    assert Grant.objects.get().tier == "premium"


def test_a_tier_map_to_a_tier_the_site_lacks_stops_before_any_row(
    run: Callable[..., tuple[str, str]],
) -> None:
    with pytest.raises(CommandError, match="mapped to tier 'platinum', which is not one"):
        run("ghost_members.csv", "--format", "ghost", "--tier-map", "Gold=platinum")
    assert not Grant.objects.exists()


def test_a_row_that_fails_after_its_user_was_created_leaves_no_user(
    run: Callable[..., tuple[str, str]], tmp_path: Path
) -> None:
    # A paid Ghost member has no date; without a default the row fails after the user
    # would have been created: the savepoint takes the user back too.
    path = write(
        tmp_path,
        "id,email,name,note,subscribed_to_emails,complimentary_plan,stripe_customer_id,"
        "created_at,deleted_at,labels,tiers\n"
        "1,paid@example.com,Paid,,true,false,,2024-01-01T00:00:00.000Z,,,Gold\n",
    )

    _, err = run(path, "--format", "ghost", "--tier-map", "Gold=premium")

    assert "a paid member with no paid-through date" in err
    assert not get_user_model().objects.filter(email="paid@example.com").exists()


def test_a_file_that_is_not_utf8_is_refused_with_a_clear_error(
    run: Callable[..., tuple[str, str]],
) -> None:
    with pytest.raises(CommandError, match=r"line 2 is not valid utf-8.*Latin-1"):
        run("generic_latin1_semicolon.csv", "--format", "csv")


def test_a_latin1_file_with_semicolons_imports_with_its_encoding(
    run: Callable[..., tuple[str, str]],
) -> None:
    run("generic_latin1_semicolon.csv", "--format", "csv", "--encoding", "latin-1")

    member = user("semi@example.com")
    assert (member.first_name, member.last_name) == ("Jörg", "Müller")
    assert Grant.objects.get().member_id == str(member.pk)


def test_a_byte_order_mark_is_ignored(run: Callable[..., tuple[str, str]], tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffemail,status\nbom@example.com,free\n".encode())

    out, _ = run(path, "--format", "csv")

    assert "1 created" in out


def test_progress_is_shown_on_long_files(
    run: Callable[..., tuple[str, str]], tmp_path: Path
) -> None:
    rows = "".join(f"m{i}@example.com,free\n" for i in range(250))
    _, err = run(write(tmp_path, "email,status\n" + rows), "--format", "csv")

    assert "100 row(s) read" in err
    assert "200 row(s) read" in err


# -- each platform -------------------------------------------------------------------------
def test_a_ghost_export_imports_free_comp_and_paid_members(
    run: Callable[..., tuple[str, str]],
) -> None:
    out, _ = run(
        "ghost_members.csv",
        "--format",
        "ghost",
        "--tier-map",
        "Gold=premium",
        "--paid-through",
        "2099-12-31",
    )

    assert not Grant.objects.filter(member_id=str(user("ada@example.com").pk)).exists()
    paid = Grant.objects.get(member_id=str(user("grace@example.com").pk))
    assert paid.ends_at == datetime(2099, 12, 31, tzinfo=UTC)
    comp = Grant.objects.get(member_id=str(user("alan@example.com").pk))
    assert comp.ends_at is None  # Ghost's complimentary plans have no end
    assert "line 5 skipped: gone@example.com: deleted in Ghost" in out


def test_a_memberful_export_reads_us_dates(run: Callable[..., tuple[str, str]]) -> None:
    run("memberful_members.csv", "--format", "memberful", "--tier-map", "Gold Monthly=premium")

    grant = Grant.objects.get(member_id=str(user("rosalind@example.com").pk))
    assert grant.ends_at == datetime(2099, 12, 31, tzinfo=UTC)
    assert user("marie@example.com").first_name == "Marie"


def test_a_substack_signups_export_imports_active_subscriptions_as_paid(
    run: Callable[..., tuple[str, str]],
) -> None:
    run("substack_signups.csv", "--format", "substack", "--tier", "premium")

    assert Grant.objects.get().member_id == str(user("paid@example.com").pk)


# -- access -------------------------------------------------------------------------------
def test_an_imported_comp_gives_access_until_the_paid_through_date_and_not_after(
    run: Callable[..., tuple[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    until = (datetime.now(UTC) + timedelta(days=10)).replace(microsecond=0)
    run(
        write(
            tmp_path,
            f"email,status,tier,paid_through\nc@example.com,active,premium,{until.isoformat()}\n",
        ),
        "--format",
        "csv",
    )
    program = get_program()
    member = str(user("c@example.com").pk)

    assert "content.premium" in set(program.context(member).entitlements)
    monkeypatch.setattr(program, "clock", lambda: until + timedelta(seconds=1))
    assert "content.premium" not in set(program.context(member).entitlements)


# -- Stripe -------------------------------------------------------------------------------
@pytest.fixture
def stripe_site(catalog: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A site with Stripe configured whose Stripe holds the recorded subscription
    ``sub_PayGold`` (Premium monthly) of customer ``cus_PayMember42``."""
    pytest.importorskip("stripe")
    Price.objects.filter(key="premium-monthly").update(
        provider_ids={"fake": "fake_price_premium_monthly", "stripe": "price_PayGoldMonthly"}
    )
    subscription = json.loads(STRIPE_PAYLOAD.read_text())["event"]["data"]["object"]
    paywall = {
        **settings.PAYWALL,
        "PROVIDERS": {
            **settings.PAYWALL["PROVIDERS"],
            "stripe": {"api_key": "sk_test_imports", "webhook_secret": "whsec_imports"},
        },
    }
    with override_settings(PAYWALL=paywall):
        reset_program()
        program = get_program()
        stripe = program.providers["stripe"]
        asked: list[str] = []

        def call(doing: str, method: str, path: str, **params: Any) -> dict[str, Any]:
            asked.append(path)
            if path == "/v1/subscriptions/sub_PayGold":
                return copy.deepcopy(subscription)
            from membership_sdk.errors import ProviderError

            raise ProviderError(f"Stripe has no {path}", code="not_found")

        monkeypatch.setattr(stripe, "_call", call)
        yield program
    reset_program()


def test_a_row_with_a_stripe_subscription_is_linked_to_it(
    stripe_site: Any, run: Callable[..., tuple[str, str]], tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "email,status,tier,stripe_customer_id,stripe_subscription_id\n"
        "s@example.com,active,premium,cus_PayMember42,sub_PayGold\n",
    )

    out, _ = run(path, "--format", "csv")

    member = str(user("s@example.com").pk)
    membership = Membership.objects.get(provider="stripe", provider_subscription_id="sub_PayGold")
    assert (membership.member_id, membership.tier) == (member, "premium")
    assert (
        CustomerLink.objects.get(provider="stripe", customer_id="cus_PayMember42").member_id
        == member
    )
    assert not Grant.objects.exists()
    assert "Stripe subscription sub_PayGold linked" in out


def test_linking_the_same_stripe_subscription_again_changes_nothing(
    stripe_site: Any, run: Callable[..., tuple[str, str]], tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "email,status,tier,stripe_subscription_id\ns@example.com,active,premium,sub_PayGold\n",
    )
    run(path, "--format", "csv")

    out, _ = run(path, "--format", "csv")

    assert Membership.objects.count() == 1
    assert "0 created, 0 updated, 1 unchanged" in out


def test_a_subscription_stripe_does_not_have_is_a_bad_row(
    stripe_site: Any, run: Callable[..., tuple[str, str]], tmp_path: Path
) -> None:
    path = write(
        tmp_path, "email,status,stripe_subscription_id\nx@example.com,active,sub_Missing\n"
    )

    _, err = run(path, "--format", "csv", "--tier", "premium")

    assert "line 2 error: x@example.com: Stripe has no subscription 'sub_Missing'" in err
    assert not get_user_model().objects.filter(email="x@example.com").exists()


def test_a_stripe_customer_without_a_subscription_id_is_linked_for_reconcile(
    stripe_site: Any, run: Callable[..., tuple[str, str]]
) -> None:
    out, _ = run("substack_subscribers.csv", "--format", "substack", "--tier", "premium")

    member = str(user("paid@example.com").pk)
    assert CustomerLink.objects.get(customer_id="cus_SubstackPaid01").member_id == member
    assert Grant.objects.filter(member_id=member, source="import:substack").exists()
    assert "paywall_reconcile --provider stripe" in out


# -- export -------------------------------------------------------------------------------
def test_the_export_lists_memberships_comps_and_free_users(
    run: Callable[..., tuple[str, str]], premium: Any, reader: Any
) -> None:
    run("substack_subscribers.csv", "--format", "substack", "--tier", "premium")
    out = io.StringIO()

    call_command("paywall_export_members", stdout=out)

    rows = list(csv.DictReader(io.StringIO(out.getvalue().lstrip("\ufeff"))))
    by_email = {r["email"]: r for r in rows}
    assert tuple(rows[0]) == COLUMNS
    assert by_email["premium@example.com"]["source"] == "comp"
    assert by_email["premium@example.com"]["status"] == "active"
    assert by_email["paid@example.com"]["source"] == "import:substack"
    assert by_email["paid@example.com"]["paid_through"].startswith("2099-07-06T16:20:44")
    assert by_email["lapsed@example.com"]["status"] == "free"


def test_the_export_reads_back_into_the_generic_import(
    run: Callable[..., tuple[str, str]], premium: Any, tmp_path: Path
) -> None:
    exported = tmp_path / "members.csv"
    call_command("paywall_export_members", "--output", str(exported))
    Grant.objects.all().delete()

    run(exported, "--format", "csv")

    assert Grant.objects.get().member_id == str(premium.pk)


def test_the_export_writes_formula_like_cells_as_text(make_user: Callable[..., Any]) -> None:
    get_user_model().objects.create_user(username="evil", email="=HYPERLINK(1)@example.com")

    text = "".join(csv_lines())

    assert "'=HYPERLINK(1)@example.com" in text
    assert "\n=HYPERLINK" not in text


def test_a_membership_row_shows_its_price_amount_and_period_end(
    subscribe: Callable[..., Membership], reader: Any
) -> None:
    membership = subscribe(reader, "premium-yearly")

    rows = list(csv.DictReader(io.StringIO("".join(csv_lines()).lstrip("\ufeff"))))

    row = next(r for r in rows if r["email"] == "reader@example.com")
    assert (row["status"], row["tier"], row["price"]) == ("active", "premium", "premium-yearly")
    assert (row["amount"], row["currency"], row["source"]) == ("120.00", "EUR", "fake")
    assert row["period_end"] == membership.current_period_end.isoformat()


# -- admin --------------------------------------------------------------------------------
@pytest.fixture
def admin_client(client: Any, editor: Any) -> Any:
    client.force_login(editor)
    return client


@pytest.fixture
def viewer_client(client: Any, make_user: Callable[..., Any]) -> Any:
    """A Wagtail editor who may open the admin but not manage members."""
    viewer = make_user("viewer")
    viewer.user_permissions.add(Permission.objects.get(codename="access_admin"))
    client.force_login(viewer)
    return client


def upload(text: str, name: str = "members.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


def test_the_admin_upload_shows_the_dry_run_first_and_imports_on_confirm(
    admin_client: Any, catalog: Any
) -> None:
    url = reverse("paywall_members_import")
    text = "email,status,tier,paid_through\nadm@example.com,active,premium,2099-01-01\n"

    preview = admin_client.post(
        url, {"file": upload(text), "format": "csv", "encoding": "utf-8", "action": "preview"}
    )

    html = preview.content.decode()
    assert preview.status_code == 200
    assert "Dry run: what would change" in html
    assert "comp of premium until 2099-01-01" in html
    assert not get_user_model().objects.filter(email="adm@example.com").exists()
    token = preview.context["token"]

    done = admin_client.post(
        url, {"token": token, "format": "csv", "encoding": "utf-8", "action": "import"}
    )

    assert done.status_code == 200
    assert "Imported" in done.content.decode()
    assert Grant.objects.get().member_id == str(user("adm@example.com").pk)


def preview(client: Any, text: str) -> Any:
    return client.post(
        reverse("paywall_members_import"),
        {"file": upload(text), "format": "csv", "encoding": "utf-8", "action": "preview"},
    )


def test_the_admin_keeps_an_upload_in_a_private_folder_not_in_the_media_storage(
    admin_client: Any, catalog: Any, tmp_path: Path
) -> None:
    media = tmp_path / "media"
    with override_settings(
        MEDIA_ROOT=str(media), PAYWALL={**settings.PAYWALL, "IMPORT_UPLOAD_DIR": str(tmp_path)}
    ):
        token = preview(admin_client, "email,status\nkept@example.com,free\n").context["token"]

    kept = tmp_path / "wagtail-paywall-imports" / f"{token}.csv"
    assert kept.read_bytes() == b"email,status\nkept@example.com,free\n"
    assert kept.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "wagtail-paywall-imports").stat().st_mode & 0o777 == 0o700
    assert not media.exists() or not any(media.rglob("*.csv"))


def test_an_abandoned_dry_run_upload_is_deleted_after_an_hour(
    admin_client: Any, catalog: Any, tmp_path: Path
) -> None:
    folder = tmp_path / "wagtail-paywall-imports"
    with override_settings(PAYWALL={**settings.PAYWALL, "IMPORT_UPLOAD_DIR": str(tmp_path)}):
        token = preview(admin_client, "email,status\nold@example.com,free\n").context["token"]
        two_hours_ago = time.time() - 7200
        os.utime(folder / f"{token}.csv", (two_hours_ago, two_hours_ago))

        fresh = preview(admin_client, "email,status\nnew@example.com,free\n").context["token"]
        late = admin_client.post(
            reverse("paywall_members_import"),
            {"token": token, "format": "csv", "encoding": "utf-8", "action": "import"},
        )

    assert sorted(p.name for p in folder.iterdir()) == [f"{fresh}.csv"]
    assert late.status_code == 400
    assert "That upload is gone" in late.content.decode()
    assert not get_user_model().objects.filter(email="old@example.com").exists()


def test_the_admin_import_deletes_the_upload(
    admin_client: Any, catalog: Any, tmp_path: Path
) -> None:
    with override_settings(PAYWALL={**settings.PAYWALL, "IMPORT_UPLOAD_DIR": str(tmp_path)}):
        token = preview(admin_client, "email,status\ndone@example.com,free\n").context["token"]
        done = admin_client.post(
            reverse("paywall_members_import"),
            {"token": token, "format": "csv", "encoding": "utf-8", "action": "import"},
        )

    assert done.status_code == 200
    assert list((tmp_path / "wagtail-paywall-imports").iterdir()) == []


def test_the_admin_import_refuses_a_token_of_another_session(
    admin_client: Any, catalog: Any
) -> None:
    response = admin_client.post(
        reverse("paywall_members_import"),
        {"token": "0" * 32, "format": "csv", "encoding": "utf-8", "action": "import"},
    )

    assert response.status_code == 400
    assert "That upload is gone" in response.content.decode()


@override_settings(PAYWALL={**settings.PAYWALL, "IMPORT_MAX_BYTES": 10})
def test_the_admin_upload_refuses_a_file_over_the_size_limit(
    admin_client: Any, catalog: Any
) -> None:
    response = admin_client.post(
        reverse("paywall_members_import"),
        {
            "file": upload("email,status\nbig@example.com,free\n"),
            "format": "csv",
            "encoding": "utf-8",
        },
    )

    assert response.status_code == 400
    assert "at most 10 are accepted" in response.content.decode()
    assert not get_user_model().objects.filter(email="big@example.com").exists()


def test_the_admin_upload_names_a_file_without_an_email_column(
    admin_client: Any, catalog: Any
) -> None:
    response = admin_client.post(
        reverse("paywall_members_import"),
        {"file": upload("mail,status\nx@example.com,free\n"), "format": "csv", "encoding": "utf-8"},
    )

    assert response.status_code == 400
    assert "no email column" in response.content.decode()


def test_the_admin_export_streams_every_member(admin_client: Any, premium: Any) -> None:
    response = admin_client.get(reverse("paywall_members_export"))

    assert response.status_code == 200
    assert response.streaming
    text = b"".join(response.streaming_content).decode()
    assert "premium@example.com" in text
    assert response["Content-Disposition"] == 'attachment; filename="members.csv"'


def test_the_import_and_export_need_the_members_permissions(
    viewer_client: Any, catalog: Any
) -> None:
    assert viewer_client.get(reverse("paywall_members_import")).status_code in (302, 403)
    assert viewer_client.get(reverse("paywall_members_export")).status_code in (302, 403)
    response = viewer_client.post(
        reverse("paywall_members_import"),
        {
            "file": upload("email,status\nno@example.com,free\n"),
            "format": "csv",
            "encoding": "utf-8",
        },
    )
    assert response.status_code in (302, 403)
    assert not get_user_model().objects.filter(email="no@example.com").exists()


def test_import_members_can_be_called_from_code(catalog: Any) -> None:
    report = import_members(io.BytesIO(b"email,status\ncode@example.com,free\n"), "csv")

    assert report.counts["created"] == 1
    assert report.summary().startswith("Imported 1 row(s) from csv")
