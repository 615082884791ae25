"""Webhook ingest and processing rates, in events per second, on SQLite and PostgreSQL.

Each database gets a worker process (this module run as a script) with the Wagtail test
site's settings, a fresh migrated database (a SQLite file on disk; a PostgreSQL test
database when ``DATABASE_URL`` names a server) and a Premium tier sold through the fake
and the Stripe providers. The worker measures, for a batch of distinct events each time:

* ``bare view``: ``POST`` of a webhook-sized body to a Django view that answers 200 and
  does nothing else: the request/response cost of Django and its test client alone;
* ``ingest fake``: ``POST /paywall/webhooks/fake/`` of webhooks the fake service signed
  (a completed checkout each): HMAC verified, translated, stored in the inbox, answered
  200. Processing is left to a task queue that only records the task (django-tasks'
  ``DummyBackend``), as a site with a worker would;
* ``ingest stripe``: the same for ``customer.subscription.updated`` events signed with
  Stripe's scheme and verified by the Stripe provider (no network: the provider fetches
  from Stripe only when processing);
* ``process fake``: :func:`wagtail_paywall.billing.inbox.process` of the stored fake webhooks:
  each creates a membership, records the event and fires the lifecycle hooks.

Every case runs ``ROUNDS`` times, taking turns, on ``BENCH_WEBHOOK_EVENTS`` events (500
by default); a row is the median time per event over the rounds, and its note the rate.
Times are wall-clock (``time.perf_counter``): PostgreSQL's share of the work happens in
another process; each note also gives the worker's CPU time per event, which leaves out
the database server and the disk (a SQLite commit waits for ``fsync``). The database is
configured as ``docs/deployment.md`` recommends (persistent connections with health checks;
SQLite in WAL mode with immediate transactions); ``BENCH_DB_DEFAULTS=1`` measures with
Django's defaults instead. Targets, on the worker's CPU per event: ingest at most
``MAX_INGEST_CPU_MS`` (over 600 events/s per core, so a burst of provider retries is
answered long before the provider times out) and processing at most ``MAX_PROCESS_CPU_MS``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchlib import Check, Row, find

GROUP = "webhooks"
ROUNDS = 3
MAX_INGEST_CPU_MS = 1.5
MAX_PROCESS_CPU_MS = 4.0
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EVENTS = int(os.environ.get("BENCH_WEBHOOK_EVENTS", "500"))
WEBHOOK_SECRET = "whsec_bench"
#: ``BENCH_DB_DEFAULTS=1`` measures with Django's defaults (a connection per request, SQLite
#: in rollback-journal mode) instead of what docs/deployment.md recommends.
DB_DEFAULTS = bool(os.environ.get("BENCH_DB_DEFAULTS"))
SQLITE_OPTIONS: dict[str, Any] = {
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
}
# Read at import: bench_wagtail (imported before this module) removes DATABASE_URL from
# os.environ for its own in-memory database; the process's first environment still has it.
_INITIAL_ENV = Path("/proc/self/environ")


def _database_url() -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    try:
        pairs = _INITIAL_ENV.read_bytes().split(b"\0")
    except OSError:
        return ""
    for pair in pairs:
        if pair.startswith(b"DATABASE_URL="):
            return pair.split(b"=", 1)[1].decode()
    return ""


DATABASE_URL = _database_url()
#: CPU milliseconds per event, by row name (from the workers' notes).
_cpu_ms: dict[str, float] = {}


# -- the parent: one worker per database ------------------------------------------------------
def _worker(database: str, url: str | None) -> list[Row]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DJANGO_") and k not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="tests.wagtail.settings",
        PYTHONPATH=os.pathsep.join([str(ROOT), str(HERE), env.get("PYTHONPATH", "")]),
        BENCH_WEBHOOK_EVENTS=str(EVENTS),
    )
    if url:
        env["DATABASE_URL"] = url
    done = subprocess.run(
        [sys.executable, __file__, "--worker", database],
        env=env,
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:])
        raise RuntimeError(f"bench_webhooks: the {database} worker failed")
    rows = [Row(**r) for r in json.loads(done.stdout.strip().splitlines()[-1])]
    for r in rows:
        _cpu_ms[r.name] = float(r.note.split("CPU ")[1].split(" ms")[0])
    return rows


def run() -> list[Row]:
    try:
        import stripe  # noqa: F401
        import wagtail  # noqa: F401
    except ImportError:
        print("bench_webhooks: skipped: needs the wagtail and stripe extras", file=sys.stderr)
        return []
    rows = _worker("SQLite", None)
    if DATABASE_URL.startswith(("postgres://", "postgresql://")):
        rows += _worker("PostgreSQL", DATABASE_URL)
    else:
        print("bench_webhooks: PostgreSQL skipped: DATABASE_URL is not set", file=sys.stderr)
    return rows


def checks(rows: list[Row]) -> list[Check]:
    result = []
    for r in find(rows, GROUP):
        target = {"ingest": MAX_INGEST_CPU_MS, "process": MAX_PROCESS_CPU_MS}.get(
            r.name.split(" ")[0]
        )
        if target is not None:
            cpu_ms = _cpu_ms.get(r.name, 0.0)
            result.append(
                Check(
                    f"webhooks: {r.name}, CPU per event",
                    f"{cpu_ms:.2f} ms",
                    f"<= {target:g} ms",
                    cpu_ms <= target,
                )
            )
    return result


# -- the worker ---------------------------------------------------------------------------------
def _bare(request: Any) -> Any:
    from django.http import HttpResponse

    return HttpResponse(b'{"received": true}', content_type="application/json")


def _urlpatterns() -> list[Any]:
    from django.urls import include, path

    return [path("bare/", _bare), path("paywall/", include("wagtail_paywall.urls"))]


def _stripe_event(n: int, sub: dict[str, Any], created: int) -> tuple[bytes, str]:
    import stripe

    obj = dict(sub, id=f"sub_Bench{n:07d}", customer=f"cus_Bench{n:07d}")
    body = json.dumps(
        {
            "id": f"evt_Bench{n:07d}",
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": created,
            "data": {"object": obj},
            "livemode": False,
            "pending_webhooks": 1,
            "type": "customer.subscription.updated",
        }
    )
    header = stripe.WebhookSignature.generate_signature_header(body, WEBHOOK_SECRET)
    return body.encode(), header


def _measure(database: str) -> list[Row]:
    import django
    from django.conf import settings

    settings.ROOT_URLCONF = __name__
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    django.setup()
    global urlpatterns
    urlpatterns = _urlpatterns()
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()
    tmp = tempfile.mkdtemp(prefix="bench-webhooks-")
    if connection.vendor == "sqlite":
        connection.settings_dict["TEST"]["NAME"] = os.path.join(tmp, "bench.sqlite3")
    if not DB_DEFAULTS:
        # As docs/deployment.md asks of a production site: persistent connections, and
        # SQLite in WAL mode with immediate transactions and a busy timeout.
        connection.settings_dict["CONN_MAX_AGE"] = None
        connection.settings_dict["CONN_HEALTH_CHECKS"] = True
        if connection.vendor == "sqlite":
            connection.settings_dict["OPTIONS"].update(SQLITE_OPTIONS)
    old_name = connection.settings_dict["NAME"]
    started = time.perf_counter()
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    print(f"migrated in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    try:
        return _rounds(database, Client())
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def _rounds(database: str, client: Any) -> list[Row]:
    from django.contrib.auth import get_user_model
    from django.test import override_settings
    from tests.stripe.replay import load_objects

    from wagtail_paywall.billing import inbox
    from wagtail_paywall.models import Membership, Price, Tier, WebhookEvent
    from wagtail_paywall.program import get_program, reset_program

    paywall = {
        "PROVIDERS": {
            "fake": {"secret": WEBHOOK_SECRET},
            "stripe": {"api_key": "sk_test_bench", "webhook_secret": WEBHOOK_SECRET},
        },
        "DEFAULT_PROVIDER": "fake",
    }
    override_settings(PAYWALL=paywall).enable()
    reset_program()
    premium = Tier.objects.create(slug="premium", name="Premium", rank=1)
    Price.objects.create(
        key="premium-monthly",
        tier=premium,
        amount=900,
        currency="EUR",
        interval=Price.Interval.MONTH,
        provider_ids={"fake": "fake_premium_m", "stripe": "price_RecGoldMonthly"},
    )
    program = get_program()
    fake = program.providers["fake"]
    users = get_user_model().objects.bulk_create(
        get_user_model()(username=f"member{i}") for i in range(EVENTS * ROUNDS)
    )
    fake_hooks = []
    for user in users:
        session = program.start_checkout(
            str(user.pk), "premium-monthly", provider="fake", success_url="/", cancel_url="/"
        )
        fake_hooks.append(fake.complete_checkout(session.id))  # type: ignore[attr-defined]
    sub = load_objects()["subscription"]
    now = int(time.time())
    stripe_hooks = [_stripe_event(n, sub, now) for n in range(EVENTS * ROUNDS)]

    def headers(mapping: dict[str, str]) -> dict[str, str]:
        return {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in mapping.items()}

    def post(url: str, body: bytes, extra: dict[str, str]) -> None:
        response = client.post(url, data=body, content_type="application/json", **extra)
        assert response.status_code == 200, (url, response.status_code, response.content)

    times: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}

    def timed(name: str, calls: list[Any]) -> None:
        start, start_cpu = time.perf_counter(), time.thread_time()
        for call in calls:
            call()
        cpu.setdefault(name, []).append((time.thread_time() - start_cpu) / len(calls))
        times.setdefault(name, []).append((time.perf_counter() - start) / len(calls))

    def bare() -> None:
        post("/bare/", fake_hooks[0].body, headers(fake_hooks[0].headers))

    for r in range(ROUNDS):
        batch = slice(r * EVENTS, (r + 1) * EVENTS)
        timed("bare view", [bare] * EVENTS)
        timed(
            "ingest fake",
            [
                (lambda h=h: post("/paywall/webhooks/fake/", h.body, headers(h.headers)))
                for h in fake_hooks[batch]
            ],
        )
        timed(
            "ingest stripe",
            [
                (
                    lambda b=b, s=s: post(
                        "/paywall/webhooks/stripe/",
                        b,
                        {"HTTP_STRIPE_SIGNATURE": s},
                    )
                )
                for b, s in stripe_hooks[batch]
            ],
        )
        rows = list(WebhookEvent.objects.filter(provider="fake", status="received").order_by("pk"))
        timed("process fake", [(lambda row=row: inbox.process(row)) for row in rows])
        processed = WebhookEvent.objects.filter(provider="fake", status="processed").count()
        assert processed == (r + 1) * EVENTS, f"{processed} of {(r + 1) * EVENTS} processed"
    assert Membership.objects.count() == EVENTS * ROUNDS
    assert WebhookEvent.objects.filter(provider="stripe").count() == EVENTS * ROUNDS

    notes = {
        "bare view": "Django + test client, no paywall",
        "ingest fake": "HMAC verify, inbox INSERT, 200",
        "ingest stripe": "Stripe signature verify, inbox INSERT, 200",
        "process fake": "apply: membership, inbox, hooks",
    }
    result = []
    for name, per_event in times.items():
        median = statistics.median(per_event)
        result.append(
            Row(
                group=GROUP,
                name=f"{name} ({database})",
                median_us=median * 1e6,
                best_us=min(per_event) * 1e6,
                loops=EVENTS,
                repeats=ROUNDS,
                note=f"{1 / median:,.0f} events/s, "
                f"CPU {statistics.median(cpu[name]) * 1e3:.2f} ms/event; {notes[name]}",
            )
        )
    return result


urlpatterns: list[Any] = []

if __name__ == "__main__" and sys.argv[1:2] == ["--worker"]:
    rows = _measure(sys.argv[2])
    print(json.dumps([r.as_dict() for r in rows]))
