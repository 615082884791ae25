"""The membership report's benchmark at 2,000 memberships (``make bench`` runs it at
1,000,000): its seeded ledger agrees with its memberships, and every report and page it
times answers. PostgreSQL only, as the seeding is."""

from __future__ import annotations

from typing import Any

import pytest
from benchmarks import seed_reports
from django.db import connection
from django.utils import timezone

from membership_sdk import metrics
from wagtail_paywall import program as program_module
from wagtail_paywall.models import LedgerEntry, Membership
from wagtail_paywall.reports import membership as reports

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="seeding needs PostgreSQL"),
]
N = 2000


@pytest.fixture
def seeded(db: Any) -> None:
    with connection.cursor() as cursor:
        seed_reports.seed(cursor, N, reads=2)
    program_module.reset_program()


def test_the_seeded_ledger_sums_to_the_mrr_of_the_seeded_memberships(seeded: None) -> None:
    catalog = program_module.get_program().catalog
    stored = (m.to_core() for m in Membership.objects.all())
    assert reports.movements(24).mrr == metrics.mrr(stored, catalog, timezone.now())


def test_the_seeded_ledger_counts_the_paid_memberships(seeded: None) -> None:
    paying = Membership.objects.filter(status__in=["active", "past_due"]).count()
    assert reports.members_now().paid == paying
    assert LedgerEntry.objects.filter(kind="new").count() == N


def test_every_timed_report_answers(seeded: None, client: Any, editor: Any) -> None:
    client.force_login(editor)
    measured = seed_reports.timings(client, repeats=1)
    assert set(measured) >= {"MRR and movements", "report page (all charts)", "admin home panel"}
    assert all(len(t["cold"]) == len(t["cached"]) == 1 for t in measured.values())
