"""The chaos harness: ground-truth subscription lifecycles, delivered badly on purpose.

:func:`generate` drives the fake payment service through seeded random lifecycles
(create, trial, renew, payment fails, recovers, upgrade, downgrade, cancel, resume,
expire) and keeps every signed webhook it sends; the service's final state of each
subscription is the ground truth. :func:`schedule` turns the webhooks into deliveries
the way a bad network would: every event 1-5 times, shuffled, some first copies dropped
and redelivered at the end. :func:`run_worker` is one worker process: it posts its share
of the deliveries to the real webhook view (Django's test client), and drains the inbox
with :func:`wagtail_paywall.billing.inbox.process_due`, while :class:`Faults` makes the first
attempt at a chosen subset of events fail with a database error in the middle of the
handler (after the membership row was written). :func:`check` compares the database
with the ground truth.

Two tables of the harness's own record what happened, written inside the transaction
that applies the event, so a rolled-back attempt leaves no trace in them either:
``chaos_applied`` (each membership write: subscription, version) and ``chaos_hooks``
(each lifecycle hook fired: subscription, version, hook).
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from membership_sdk import EventType, Membership, Status, hookimpl
from membership_sdk.catalog import Interval
from membership_sdk.program import Transition
from membership_sdk.providers.base import Webhook
from membership_sdk.providers.fake import FakeProvider
from membership_sdk.providers.simulated import SimulatedSubscription, add_interval
from membership_sdk.providers.webhooks import WebhookSigner

SECRET = "tests-webhook-secret"  # tests.wagtail.settings' fake provider secret
URL = "/paywall/webhooks/fake/"
#: fake price id -> (site price key, tier slug)
PRICES = {
    "fake_price_supporter_monthly": ("supporter-monthly", "supporter", Interval.MONTH),
    "fake_price_premium_monthly": ("premium-monthly", "premium", Interval.MONTH),
    "fake_price_premium_yearly": ("premium-yearly", "premium", Interval.YEAR),
}
LIFECYCLE_HOOKS = (
    "membership_activated",
    "membership_renewed",
    "membership_payment_failed",
    "membership_canceled",
    "membership_expired",
)


# -- ground truth ------------------------------------------------------------------------
@dataclass
class GroundTruth:
    """What the payment service did: every webhook, and each subscription's snapshots."""

    webhooks: list[tuple[str, Webhook]] = field(default_factory=list)  # (event id, webhook)
    #: subscription id -> version -> the subscription's state at that version
    states: dict[str, dict[int, SimulatedSubscription]] = field(default_factory=dict)
    members: dict[str, str] = field(default_factory=dict)  # subscription id -> member id
    #: subscription id -> the versions a payment.succeeded webhook carried
    payments: dict[str, set[int]] = field(default_factory=dict)

    def final(self, sub: str) -> SimulatedSubscription:
        versions = self.states[sub]
        return versions[max(versions)]

    def expected_memberships(self) -> dict[str, tuple[Any, ...]]:
        return {sub: membership_key(self.members[sub], self.final(sub)) for sub in self.states}

    def expected_hook(
        self, sub: str, before: int | None, after: int, paid: datetime | None = None
    ) -> str | None:
        """The lifecycle hook moving from snapshot ``before`` to ``after`` should fire;
        ``paid`` is what the path of snapshots up to ``before`` had paid for."""
        old = self.core(sub, before, paid) if before is not None else None
        return Transition(old, self.core(sub, after, self.paid_after(sub, after, paid))).hook

    def paid_after(self, sub: str, version: int, paid: datetime | None) -> datetime | None:
        """What is paid for once snapshot ``version`` is applied after ``paid``: a
        successful payment pays the period it reports (see ``program.paid_through``)."""
        s = self.states[sub][version]
        if version in self.payments.get(sub, ()) and Status.parse(s.status) is Status.ACTIVE:
            end = s.current_period_end
            if end is not None and (paid is None or end > paid):
                return end
        return paid

    def core(self, sub: str, version: int, paid: datetime | None = None) -> Membership:
        s = self.states[sub][version]
        return Membership(
            id=sub,
            member_id=self.members[sub],
            tier=PRICES[s.price][1],
            status=Status.parse(s.status),
            provider="fake",
            current_period_end=s.current_period_end,
            cancel_at_period_end=s.cancel_at_period_end,
            paid_through=paid,
        )

    def real_transitions(self) -> int:
        """Hooks a delivery in order would fire (reordering may skip some snapshots)."""
        count = 0
        for sub, versions in self.states.items():
            previous, paid = None, None
            for version in sorted(versions):
                count += self.expected_hook(sub, previous, version, paid) is not None
                paid = self.paid_after(sub, version, paid)
                previous = version
        return count


def membership_key(member: str, s: SimulatedSubscription) -> tuple[Any, ...]:
    return (
        member,
        PRICES[s.price][1],
        PRICES[s.price][0],
        str(Status.parse(s.status)),
        s.current_period_end,
        s.cancel_at_period_end,
        s.version,
    )


def generate(subscriptions: int, seed: int) -> GroundTruth:
    """Seeded random lifecycles of ``subscriptions`` subscriptions (about 10 events each)."""
    rng = random.Random(seed)
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    fake = FakeProvider(secrets=SECRET, clock=lambda: now[0])
    truth = GroundTruth()

    def record(sub: SimulatedSubscription, hook: Webhook) -> None:
        body = json.loads(hook.body)
        event_id = body["id"]
        truth.webhooks.append((event_id, hook))
        if body["type"] == "payment.succeeded":
            truth.payments.setdefault(sub.id, set()).add(sub.version)
        truth.states.setdefault(sub.id, {})[sub.version] = SimulatedSubscription(
            **{k: getattr(sub, k) for k in SimulatedSubscription.__slots__}
        )

    for n in range(subscriptions):
        now[0] += timedelta(minutes=rng.randint(1, 600))
        member = f"member-{n:05d}"
        price = rng.choice(list(PRICES))
        interval = PRICES[price][2]
        trial = rng.random() < 0.3
        start = fake.now()
        sub = SimulatedSubscription(
            id=fake.new_id("sub_fake"),
            customer_id=fake.customer_for(member),
            member_id=member,
            price=price,
            interval=interval,
            status=str(Status.TRIALING if trial else Status.ACTIVE),
            started_at=start,
            current_period_end=start + timedelta(days=14)
            if trial
            else add_interval(start, interval),
            trial_end=start + timedelta(days=14) if trial else None,
        )
        fake.subscriptions[sub.id] = sub
        truth.members[sub.id] = member
        record(sub, fake.emit(EventType.SUBSCRIPTION_CREATED, sub))
        for _ in range(rng.randint(6, 16)):
            if sub.ended:
                break
            now[0] += timedelta(days=rng.randint(1, 20))
            hook = _step(fake, sub, rng)
            if hook is not None:
                record(sub, hook)
    return truth


def _step(fake: FakeProvider, sub: SimulatedSubscription, rng: random.Random) -> Webhook | None:
    """One random thing that happens to a live subscription at the payment service."""
    status = Status.parse(sub.status)
    roll = rng.random()
    if status is Status.PAST_DUE:
        if roll < 0.7:
            return fake.recover(sub.id)
        if roll < 0.9:
            return fake.fail_payment(sub.id)  # dunning retried and failed again
        return fake.expire(sub.id)
    if sub.cancel_at_period_end:
        if roll < 0.6:
            fake.resume_subscription(sub.id)
        elif roll < 0.9:
            # The period ran out: the scheduled cancellation takes effect.
            fake.change(sub, EventType.SUBSCRIPTION_DELETED, status=str(Status.CANCELED))
        else:
            return fake.expire(sub.id)
        return fake.outbox[-1]
    if roll < 0.45:
        return fake.renew(sub.id)
    if roll < 0.62:
        return fake.fail_payment(sub.id)
    if roll < 0.80:
        # Upgrade or downgrade: the same subscription moves to another price.
        other = rng.choice([p for p in PRICES if p != sub.price])
        return fake.change(
            sub, EventType.SUBSCRIPTION_UPDATED, price=other, interval=PRICES[other][2]
        )
    if roll < 0.94:
        fake.cancel_subscription(sub.id, at_period_end=True)
        return fake.outbox[-1]
    if roll < 0.97:
        fake.cancel_subscription(sub.id, at_period_end=False)
        return fake.outbox[-1]
    return fake.expire(sub.id)


# -- bad delivery ------------------------------------------------------------------------
@dataclass(frozen=True)
class Delivery:
    event_id: str
    body: bytes


@dataclass
class Schedule:
    deliveries: list[Delivery]
    dropped: int
    faulty: frozenset[str]  # events whose first attempt fails with a database error


def schedule(
    truth: GroundTruth,
    seed: int,
    *,
    max_copies: int = 5,
    drop_rate: float = 0.1,
    fault_rate: float = 0.1,
) -> Schedule:
    """Every webhook 1..``max_copies`` times (1, 2, 3, 4, 5 copies for about 50, 25, 12,
    6, 6 percent of events), shuffled; a ``drop_rate`` share of copies is lost on the way,
    and every event that lost all its copies is redelivered at the end (as a provider
    retries a webhook that never got its 2xx)."""
    rng = random.Random(seed)
    copies = [
        Delivery(event_id, hook.body)
        for event_id, hook in truth.webhooks
        for _ in range(_copies(rng, max_copies))
    ]
    rng.shuffle(copies)
    kept = [d for d in copies if rng.random() >= drop_rate]
    arrived = {d.event_id for d in kept}
    late = [Delivery(e, h.body) for e, h in truth.webhooks if e not in arrived]
    rng.shuffle(late)
    faulty = frozenset(e for e, _ in truth.webhooks if rng.random() < fault_rate)
    return Schedule(kept + late, dropped=len(copies) - len(kept), faulty=faulty)


def _copies(rng: random.Random, most: int) -> int:
    count = 1
    while count < most and rng.random() < 0.5:
        count += 1
    return count


# -- the harness's own tables ------------------------------------------------------------
def create_tables() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for name, columns in (
            ("chaos_applied", "sub varchar(64), version integer, event varchar(64)"),
            ("chaos_hooks", "sub varchar(64), version integer, hook varchar(64)"),
        ):
            cursor.execute(f"DROP TABLE IF EXISTS {name}")
            cursor.execute(f"CREATE TABLE {name} ({columns})")


def drop_tables() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS chaos_applied")
        cursor.execute("DROP TABLE IF EXISTS chaos_hooks")


def seed_catalog() -> None:
    from wagtail_paywall.models import Price, Tier
    from wagtail_paywall.program import catalog_changed

    tiers = {
        slug: Tier.objects.create(slug=slug, name=slug.title(), rank=rank)
        for rank, slug in enumerate(("supporter", "premium"), start=1)
    }
    for fake_id, (key, tier, interval) in PRICES.items():
        Price.objects.create(
            key=key,
            tier=tiers[tier],
            amount=1000,
            interval=interval.value,
            provider_ids={"fake": fake_id},
        )
    catalog_changed()


class HookLog:
    """A plugin writing each lifecycle hook to ``chaos_hooks``, in the applying transaction."""

    def _log(self, membership: Membership, hook: str) -> None:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO chaos_hooks (sub, version, hook) VALUES (%s, %s, %s)",
                [membership.provider_subscription_id, membership.version[0], hook],
            )

    @hookimpl
    def membership_activated(self, membership: Membership, event: Any) -> None:
        self._log(membership, "membership_activated")

    @hookimpl
    def membership_renewed(self, membership: Membership, event: Any) -> None:
        self._log(membership, "membership_renewed")

    @hookimpl
    def membership_payment_failed(self, membership: Membership, event: Any) -> None:
        self._log(membership, "membership_payment_failed")

    @hookimpl
    def membership_canceled(self, membership: Membership, event: Any) -> None:
        self._log(membership, "membership_canceled")

    @hookimpl
    def membership_expired(self, membership: Membership, event: Any) -> None:
        self._log(membership, "membership_expired")


@contextmanager
def faults(faulty: frozenset[str]) -> Iterator[None]:
    """Log every membership write to ``chaos_applied``; then, on the first attempt at a
    ``faulty`` event, fail with ``OperationalError`` as a lost database would, after the
    write (so the rollback has something to undo)."""
    restore = install_write_log(faulty)
    try:
        yield
    finally:
        restore()


def install_write_log(faulty: frozenset[str] = frozenset()) -> Any:
    """Wrap ``DjangoMemberships.save`` as :func:`faults` describes; returns an undo."""
    from django.db import OperationalError, connection

    from wagtail_paywall import store
    from wagtail_paywall.models import WebhookEvent

    original = store.DjangoMemberships.save

    def save(self: Any, membership: Membership) -> None:
        original(self, membership)
        event = membership.version[1]
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO chaos_applied (sub, version, event) VALUES (%s, %s, %s)",
                [membership.provider_subscription_id, membership.version[0], event],
            )
        if event in faulty:
            attempts = (
                WebhookEvent.objects.filter(provider="fake", event_id=event)
                .values_list("attempts", flat=True)
                .first()
            )
            if attempts == 0:
                raise OperationalError(f"chaos: injected database error applying {event}")

    def restore() -> None:
        store.DjangoMemberships.save = original  # type: ignore[method-assign]

    store.DjangoMemberships.save = save  # type: ignore[method-assign]
    return restore


# -- a worker ----------------------------------------------------------------------------
@dataclass
class WorkerReport:
    deliveries: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    processed: int = 0


def deliver_all(client: Any, deliveries: Sequence[Delivery], report: WorkerReport) -> None:
    signer = WebhookSigner(SECRET, header="Fake-Signature")
    for delivery in deliveries:
        hook = signer.sign(delivery.body)
        headers = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in hook.headers.items()}
        response = client.post(URL, data=delivery.body, content_type="application/json", **headers)
        report.deliveries += 1
        report.statuses[response.status_code] += 1


def drain(report: WorkerReport, *, until: Any, deadline: float, batch: int = 20) -> None:
    """Process due rows until ``until()`` says every worker is done delivering and no row
    is waiting (due now or after its backoff), or until ``deadline`` (monotonic)."""
    from wagtail_paywall.billing import inbox
    from wagtail_paywall.models import WebhookEvent

    waiting = (WebhookEvent.Status.RECEIVED, WebhookEvent.Status.FAILED)
    while time.monotonic() < deadline:
        done = inbox.process_due(batch)
        report.processed += done
        if done:
            continue
        if until() and not WebhookEvent.objects.filter(status__in=waiting).exists():
            return
        time.sleep(0.02)


# -- checking ----------------------------------------------------------------------------
@dataclass
class Verdict:
    events: int
    mismatches: list[str]
    hooks_fired: int
    real_transitions: int


def check(truth: GroundTruth) -> Verdict:
    """Compare the database with the ground truth; every difference is a mismatch."""
    from django.db import connection

    from wagtail_paywall.models import Membership as Row
    from wagtail_paywall.models import WebhookEvent

    mismatches: list[str] = []
    expected = truth.expected_memberships()
    actual = {
        r.provider_subscription_id: (
            r.member_id,
            r.tier,
            r.price_id,
            r.status,
            r.current_period_end,
            r.cancel_at_period_end,
            r.version_number,
        )
        for r in Row.objects.filter(provider="fake")
    }
    if Row.objects.count() != len(expected):
        mismatches.append(
            f"{Row.objects.count()} membership rows for {len(expected)} subscriptions"
        )
    for sub, want in expected.items():
        if actual.get(sub) != want:
            mismatches.append(f"{sub}: expected {want}, got {actual.get(sub)}")
    # No event lost: every event stored once, and processed (none failed, dead or waiting).
    rows = dict(WebhookEvent.objects.values_list("event_id", "status"))
    for event_id, _ in truth.webhooks:
        if rows.get(event_id) != WebhookEvent.Status.PROCESSED:
            mismatches.append(f"event {event_id} is {rows.get(event_id, 'missing')}")
    if len(rows) != len(truth.webhooks):
        mismatches.append(f"{len(rows)} inbox rows for {len(truth.webhooks)} events")
    with connection.cursor() as cursor:
        cursor.execute("SELECT sub, version FROM chaos_applied")
        applied = cursor.fetchall()
        cursor.execute("SELECT sub, version, hook FROM chaos_hooks")
        hooks = cursor.fetchall()
    # Order-safe: each subscription's snapshots were written in rising versions, each once.
    written: dict[str, list[int]] = {}
    for sub, version in applied:
        written.setdefault(sub, []).append(version)
    for sub, versions in written.items():
        if len(set(versions)) != len(versions):
            mismatches.append(f"{sub}: a snapshot was written twice: {sorted(versions)}")
    # Hooks: exactly the ones the written path of snapshots calls for, each once.
    fired = Counter((sub, version, hook) for sub, version, hook in hooks)
    for key, count in fired.items():
        if count > 1:
            mismatches.append(f"hook {key} fired {count} times")
    want_hooks: Counter[tuple[str, int, str]] = Counter()
    for sub, versions in written.items():
        previous, paid = None, None
        for version in sorted(versions):
            hook = truth.expected_hook(sub, previous, version, paid)
            if hook is not None:
                want_hooks[sub, version, hook] += 1
            paid = truth.paid_after(sub, version, paid)
            previous = version
    if set(fired) != set(want_hooks):
        missing = sorted(set(want_hooks) - set(fired))[:5]
        extra = sorted(set(fired) - set(want_hooks))[:5]
        mismatches.append(f"hooks differ: missing {missing}, unexpected {extra}")
    return Verdict(
        events=len(truth.webhooks),
        mismatches=mismatches,
        hooks_fired=len(hooks),
        real_transitions=truth.real_transitions(),
    )
