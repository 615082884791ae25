"""Two ``manage.py paywall_process_inbox`` processes drain one PostgreSQL inbox: every
event is processed, none twice (each row has one attempt, each membership snapshot is
written once, and each lifecycle hook fires once)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

pytest.importorskip("wagtail")

from django.db import connection

from wagtail_paywall import program as program_module
from wagtail_paywall.billing import inbox
from wagtail_paywall.models import Membership, WebhookEvent

from . import harness

ROOT = Path(__file__).resolve().parents[2]
SUBSCRIPTIONS = int(os.environ.get("CHAOS_WORKER_SUBSCRIPTIONS", "50"))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_worker_processes_share_the_inbox_and_never_process_an_event_twice(
    tmp_path: Path,
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks shared by processes need PostgreSQL: set DATABASE_URL")
    harness.create_tables()
    try:
        harness.seed_catalog()
        program_module.reset_program()
        truth = harness.generate(SUBSCRIPTIONS, seed=7)
        for _, hook in truth.webhooks:  # stored, not applied: the workers apply them
            inbox.receive("fake", _resigned(hook), hook.body)
        assert WebhookEvent.objects.filter(status="received").count() == len(truth.webhooks)

        url = urlunsplit(
            urlsplit(os.environ["DATABASE_URL"])._replace(
                path=f"/{connection.settings_dict['NAME']}"
            )
        )
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "DJANGO_SETTINGS_MODULE": "tests.chaos.worker_settings",
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        }
        command = [sys.executable, "-m", "django", "paywall_process_inbox", "--batch", "5"]
        workers = [
            subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        outputs = [worker.communicate(timeout=300)[0] for worker in workers]
        assert [w.returncode for w in workers] == [0, 0], outputs

        shares = [int(out.split("processed ")[-1].split()[0]) for out in outputs]
        print(f"two workers processed {shares} of {len(truth.webhooks)} events")
        assert sum(shares) == len(truth.webhooks)
        assert all(shares), "both workers took part"
        rows = WebhookEvent.objects.all()
        assert {r.status for r in rows} == {"processed"}
        assert {r.attempts for r in rows} == {1}
        verdict = harness.check(truth)
        assert not verdict.mismatches, verdict.mismatches[:10]
        assert Membership.objects.count() == SUBSCRIPTIONS
    finally:
        harness.drop_tables()


def _resigned(hook: Any) -> dict[str, str]:
    from membership_sdk.providers.webhooks import WebhookSigner

    return WebhookSigner(harness.SECRET, header="Fake-Signature").sign(hook.body).headers
