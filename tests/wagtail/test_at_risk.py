"""The at-risk job: each reason found on a hand-made history and not for a healthy member,
re-runs that add nothing, outcomes, the hook, the admin list and its CSV."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.urls import reverse

from membership_sdk import hookimpl
from wagtail_paywall.billing.at_risk import cohort_medians, find_members_at_risk
from wagtail_paywall.models import AtRisk, Grant, Membership, ReadingActivity

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 15, 6, 0, tzinfo=UTC)
TODAY = NOW.date()


def membership(
    member: str, *, tier: str = "premium", status: str = "active", days: int = 90, **extra: Any
) -> Membership:
    """A membership of ``member`` that started ``days`` before :data:`NOW`."""
    return Membership.objects.create(
        id=f"mem_{member}_{uuid.uuid4().hex[:6]}",
        member_id=member,
        tier=tier,
        status=status,
        provider="fake",
        provider_subscription_id=f"sub_{member}_{uuid.uuid4().hex[:6]}",
        started_at=NOW - timedelta(days=days),
        current_period_end=NOW + timedelta(days=10),
        **extra,
    )


def read(member: str, *days_ago: int, reads: int = 1) -> None:
    for n in days_ago:
        ReadingActivity.objects.create(member_id=member, day=TODAY - timedelta(days=n), reads=reads)


def reasons(member: str, outcome: str = "open") -> set[str]:
    return set(
        AtRisk.objects.filter(member_id=member, outcome=outcome).values_list("reason", flat=True)
    )


def healthy(member: str = "healthy") -> Membership:
    """A paying member who reads every day."""
    m = membership(member)
    read(member, *range(0, 40))
    return m


# -- each reason ------------------------------------------------------------------------------
def test_a_paying_member_without_reads_for_weeks_is_a_sleeper(program: Any) -> None:
    membership("sleeper")
    read("sleeper", 30, 40)
    healthy()

    find_members_at_risk(NOW)

    assert "sleeper" in reasons("sleeper")
    assert reasons("healthy") == set()


def test_a_member_who_read_within_the_sleeper_days_is_not_a_sleeper(program: Any) -> None:
    membership("recent")
    read("recent", 20)

    find_members_at_risk(NOW)

    assert "sleeper" not in reasons("recent")


def test_a_new_member_or_a_free_period_is_not_a_sleeper(program: Any) -> None:
    membership("newcomer", days=10)
    membership("free-period", amount=0)

    find_members_at_risk(NOW)

    assert reasons("newcomer") == set()
    assert reasons("free-period") == set()


def test_the_sleeper_days_are_a_setting(program: Any) -> None:
    membership("reader")
    read("reader", 10)

    with override_settings(PAYWALL={"AT_RISK": {"SLEEPER_DAYS": 7}}):
        find_members_at_risk(NOW)

    assert "sleeper" in reasons("reader")


def test_a_failed_payment_is_a_reason(program: Any) -> None:
    membership("late", status="past_due")
    read("late", 0)

    find_members_at_risk(NOW)

    assert reasons("late") == {"payment_failed"}


def test_a_cancellation_at_period_end_is_a_reason(program: Any) -> None:
    membership("leaving", cancel_at_period_end=True)
    read("leaving", 0)

    find_members_at_risk(NOW)

    assert reasons("leaving") == {"canceling"}


def test_a_member_may_be_at_risk_for_several_reasons(program: Any) -> None:
    membership("both", status="past_due", cancel_at_period_end=True)

    find_members_at_risk(NOW)

    assert reasons("both") == {"payment_failed", "canceling"}


def test_a_trial_with_little_reading_is_a_reason(program: Any) -> None:
    membership("quiet", status="trialing", days=5)
    read("quiet", 2)
    membership("keen", status="trialing", days=5)
    read("keen", 0, 1, 2, 3)
    membership("just-started", status="trialing", days=1)

    find_members_at_risk(NOW)

    assert reasons("quiet") == {"quiet_trial"}
    assert reasons("keen") == set()
    assert reasons("just-started") == set()


def test_reads_before_the_trial_do_not_count_for_it(program: Any) -> None:
    membership("returning", status="trialing", days=5)
    read("returning", 10, 11, 12, reads=5)

    find_members_at_risk(NOW)

    assert reasons("returning") == {"quiet_trial"}


def _plan_change(m: Membership, old_tier: str, days_ago: int) -> None:
    """The grant a plan change leaves for the tier held before it."""
    until = NOW - timedelta(days=days_ago)
    since = m.started_at
    Grant.objects.create(
        id=uuid.uuid4().hex,
        member_id=m.member_id,
        kind="membership",
        starts_at=since,
        ends_at=until,
        tier=old_tier,
        source=f"plan:{m.provider}:{m.provider_subscription_id}:{int(since.timestamp())}",
    )


def test_a_downgrade_is_a_reason(program: Any) -> None:
    down = membership("down", tier="supporter")
    _plan_change(down, "premium", days_ago=5)
    read("down", 0)
    up = membership("up", tier="premium")
    _plan_change(up, "supporter", days_ago=5)
    read("up", 0)

    find_members_at_risk(NOW)

    assert reasons("down") == {"downgrade"}
    assert reasons("up") == set()


def test_a_downgrade_long_ago_is_no_longer_a_reason(program: Any) -> None:
    old = membership("old", tier="supporter", days=200)
    _plan_change(old, "premium", days_ago=60)
    read("old", 0)

    find_members_at_risk(NOW)

    assert reasons("old") == set()


def test_a_grant_of_another_subscription_is_not_a_downgrade(program: Any) -> None:
    m = membership("other", tier="supporter")
    Grant.objects.create(
        id=uuid.uuid4().hex,
        member_id="other",
        kind="membership",
        starts_at=NOW - timedelta(days=100),
        ends_at=NOW - timedelta(days=3),
        tier="premium",
        source="plan:fake:sub_somebody_else:1",
    )
    read(m.member_id, 0)

    find_members_at_risk(NOW)

    assert reasons("other") == set()


def _cohort(prefix: str, started: datetime, reads_each: list[int]) -> None:
    for n, reads in enumerate(reads_each):
        member = f"{prefix}{n}"
        Membership.objects.create(
            id=f"mem_{member}",
            member_id=member,
            tier="premium",
            status="active",
            provider="fake",
            started_at=started,
        )
        if reads:
            read(member, 1, reads=reads)


def test_reading_far_below_the_cohorts_median_is_a_reason(program: Any) -> None:
    march = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    _cohort("march", march, [10, 10, 12, 10, 1])
    april = datetime(2026, 4, 10, 12, 0, tzinfo=UTC)
    _cohort("april", april, [1, 1, 1])

    find_members_at_risk(NOW)

    assert reasons("march4") == {"below_cohort"}
    assert {m for m in ("march0", "march1", "march2", "march3") if reasons(m)} == set()
    assert {m for m in ("april0", "april1", "april2") if reasons(m)} == set()


def test_the_cohort_median_is_taken_in_the_database(program: Any) -> None:
    _cohort("even", datetime(2026, 2, 3, tzinfo=UTC), [2, 4, 6, 8])
    _cohort("odd", datetime(2026, 1, 3, tzinfo=UTC), [1, 5, 9])

    assert cohort_medians(NOW) == {202602: 5.0, 202601: 5.0}


def test_a_healthy_member_is_never_marked(program: Any) -> None:
    healthy()

    run = find_members_at_risk(NOW)

    assert sum(run.marked.values()) == 0
    assert not AtRisk.objects.exists()


# -- re-runs and outcomes ---------------------------------------------------------------------
def test_running_again_adds_nothing(program: Any) -> None:
    membership("sleeper")
    membership("late", status="past_due")

    first = find_members_at_risk(NOW)
    second = find_members_at_risk(NOW + timedelta(days=1))

    assert first.marked["sleeper"] == first.marked["payment_failed"] == 1
    assert sum(second.marked.values()) == 0
    assert AtRisk.objects.count() == 2


def test_a_sleeper_who_reads_again_is_saved(program: Any) -> None:
    membership("sleeper")
    find_members_at_risk(NOW)
    read("sleeper", 0)

    run = find_members_at_risk(NOW)

    mark = AtRisk.objects.get(member_id="sleeper")
    assert (mark.outcome, mark.resolved_at) == ("saved", NOW)
    assert run.saved == 1


def test_a_member_whose_membership_ends_churned(program: Any) -> None:
    m = membership("leaving", cancel_at_period_end=True)
    read("leaving", 0)
    find_members_at_risk(NOW)
    Membership.objects.filter(pk=m.pk).update(status="canceled")

    run = find_members_at_risk(NOW + timedelta(days=1))

    assert reasons("leaving", "churned") == {"canceling"}
    assert run.churned == 1


def test_a_reason_that_comes_back_after_a_save_is_marked_again(program: Any) -> None:
    m = membership("late", status="past_due")
    read("late", 0)
    find_members_at_risk(NOW)
    Membership.objects.filter(pk=m.pk).update(status="active")
    find_members_at_risk(NOW)
    Membership.objects.filter(pk=m.pk).update(status="past_due")

    find_members_at_risk(NOW)

    assert list(
        AtRisk.objects.filter(member_id="late").order_by("pk").values_list("outcome", flat=True)
    ) == ["saved", "open"]


# -- the hook ---------------------------------------------------------------------------------
class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, str]] = []
        self.fail = fail

    @hookimpl
    def membership_at_risk(self, membership: Any, reason: str, detected_at: datetime) -> None:
        if self.fail:
            raise RuntimeError("the CRM is down")
        self.calls.append((membership.member_id, reason))


def test_the_hook_is_called_once_per_new_mark(program: Any) -> None:
    recorder = Recorder()
    program.pm.register(recorder)
    membership("late", status="past_due", cancel_at_period_end=True)
    read("late", 0)

    find_members_at_risk(NOW)
    find_members_at_risk(NOW + timedelta(hours=1))

    assert sorted(recorder.calls) == [("late", "canceling"), ("late", "payment_failed")]


def test_a_failing_hook_is_called_again_on_the_next_run(program: Any) -> None:
    failing = Recorder(fail=True)
    program.pm.register(failing)
    membership("late", status="past_due")
    read("late", 0)

    run = find_members_at_risk(NOW)
    assert (run.failed, run.notified) == (1, 0)
    assert AtRisk.objects.get(member_id="late").outcome == "open"  # the mark is kept

    failing.fail = False
    run = find_members_at_risk(NOW + timedelta(hours=1))

    assert (run.failed, run.notified) == (0, 1)
    assert failing.calls == [("late", "payment_failed")]


# -- settings and the command -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "culprit"),
    [
        ({"SLEEPER_DAYZ": 3}, "SLEEPER_DAYZ"),
        ({"COHORT_PERCENT": 150}, "COHORT_PERCENT"),
        ({"TRIAL_READS": "2"}, "TRIAL_READS"),
        ([1], "must be a dict"),
    ],
)
def test_a_bad_setting_is_refused_naming_it(program: Any, value: Any, culprit: str) -> None:
    membership("late", status="past_due")

    with override_settings(PAYWALL={"AT_RISK": value}), pytest.raises(ImproperlyConfigured) as e:
        find_members_at_risk(NOW)

    assert culprit in str(e.value)
    assert not AtRisk.objects.exists()


def test_the_command_reports_each_reason(program: Any) -> None:
    membership("late", status="past_due")
    read("late", 0)
    out = io.StringIO()

    call_command("paywall_at_risk", "--now", NOW.isoformat(), stdout=out)

    assert "payment_failed: 1 new, 0 saved, 0 churned" in out.getvalue()
    assert "At risk: 1 new marks" in out.getvalue()


def test_the_command_fails_on_a_bad_setting(program: Any) -> None:
    with (
        override_settings(PAYWALL={"AT_RISK": {"NOPE": 1}}),
        pytest.raises(CommandError, match="NOPE"),
    ):
        call_command("paywall_at_risk", stdout=io.StringIO())


def test_the_task_runs_the_job(program: Any) -> None:
    from wagtail_paywall.tasks import mark_members_at_risk

    membership("late", status="past_due")

    result = mark_members_at_risk.call()

    assert result["payment_failed"] == 1


# -- the admin list ---------------------------------------------------------------------------
@pytest.fixture
def marks(program: Any, make_user: Any) -> dict[str, Any]:
    late = make_user("late-payer")
    sleeper = make_user("sleepy")
    membership(str(late.pk), tier="supporter", status="past_due")
    read(str(late.pk), 0)
    membership(str(sleeper.pk), tier="premium")
    find_members_at_risk(NOW)
    return {"late": late, "sleeper": sleeper}


def test_the_list_shows_each_member_with_the_reason(client: Any, editor: Any, marks: Any) -> None:
    client.force_login(editor)

    html = client.get(reverse("paywall_at_risk:index")).content.decode()

    assert "late-payer" in html
    assert "Payment failed" in html
    assert "sleepy" in html
    assert "Paying, not reading" in html


def test_the_list_filters_by_reason_and_tier(client: Any, editor: Any, marks: Any) -> None:
    client.force_login(editor)
    url = reverse("paywall_at_risk:index")

    by_reason = client.get(url, {"reason": "payment_failed"}).content.decode()
    by_tier = client.get(url, {"tier": "premium"}).content.decode()
    later = client.get(url, {"since": (TODAY + timedelta(days=1)).isoformat()}).content.decode()
    saved = client.get(url, {"outcome": "saved"}).content.decode()

    assert "late-payer" in by_reason
    assert "sleepy" not in by_reason
    assert "sleepy" in by_tier
    assert "late-payer" not in by_tier
    assert "No member at risk matches" in later
    assert "No member at risk matches" in saved


def test_a_bad_filter_is_a_form_error_not_a_500(client: Any, editor: Any, marks: Any) -> None:
    client.force_login(editor)

    response = client.get(reverse("paywall_at_risk:index"), {"reason": "bored", "since": "x"})

    assert response.status_code == 200
    html = response.content.decode()
    assert "Select a valid choice" in html
    assert "Enter a valid date" in html


def test_the_csv_holds_the_filtered_marks(client: Any, editor: Any, marks: Any) -> None:
    client.force_login(editor)

    response = client.get(
        reverse("paywall_at_risk:index"), {"reason": "payment_failed", "format": "csv"}
    )

    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["member_id"], r["reason"], r["tier"], r["outcome"]) for r in rows] == [
        (str(marks["late"].pk), "payment_failed", "supporter", "open")
    ]
    assert rows[0]["last_read"] == TODAY.isoformat()


def test_the_list_needs_its_permission(client: Any, make_user: Any, marks: Any) -> None:
    from django.contrib.auth.models import Permission

    staff = make_user("staff")
    staff.user_permissions.add(Permission.objects.get(codename="access_admin"))
    client.force_login(staff)
    url = reverse("paywall_at_risk:index")

    refused = client.get(url)
    refused_csv = client.get(url, {"format": "csv"})
    staff.user_permissions.add(Permission.objects.get(codename="view_atrisk"))
    allowed = client.get(url)

    assert refused.status_code == 302
    assert refused_csv.status_code == 302
    assert "late-payer" not in refused.content.decode()
    assert allowed.status_code == 200


def test_the_paywall_menu_lists_it_for_those_who_may_see_it(
    client: Any, editor: Any, marks: Any
) -> None:
    client.force_login(editor)

    html = client.get(reverse("wagtailadmin_home")).content.decode()

    assert reverse("paywall_at_risk:index") in html


# -- the benchmark's data, at a small scale ---------------------------------------------------
def test_the_benchmarks_seed_gives_every_reason_its_expected_marks(program: Any) -> None:
    """``benchmarks/bench_at_risk.py`` at 2,000 memberships: what it times is right."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the benchmark's seed is PostgreSQL's generate_series")
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    try:
        import bench_at_risk
    finally:
        sys.path.pop(0)
    n = 2000
    with connection.cursor() as cursor:
        bench_at_risk.seed(cursor, n)
    status = {g: ("past_due", "trialing", "canceled", "expired")[g % 20] if g % 20 < 4 else "active"
              for g in range(1, n + 1)}  # fmt: skip
    live = {g for g, s in status.items() if s in ("past_due", "trialing", "active")}

    first = find_members_at_risk()
    again = find_members_at_risk()

    assert first.marked["payment_failed"] == sum(s == "past_due" for s in status.values())
    assert first.marked["canceling"] == sum(1 for g in live if g % 17 == 0)
    assert first.marked["downgrade"] == sum(1 for g in live if g % 75 == 0)
    assert first.marked["sleeper"] > 0
    assert first.marked["below_cohort"] > 0
    assert first.marked["quiet_trial"] > 0
    assert sum(again.marked.values()) == 0
