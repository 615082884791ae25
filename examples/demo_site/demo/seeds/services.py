"""Demo data for services (docs/services.md): Premium includes two consultations a month
(``service.consultation: 2 per month``), and one Premium member has asked for one, so
Paywall → Service requests in the admin has a request to redeem."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from membership_sdk.access import period_start
from membership_sdk.entitlements import Entitlement, Period
from wagtail_paywall.models import Grant, ServiceRequest, Tier

CONSULTATION = "service.consultation: 2 per month"
TIER = "premium"
READER = "consultation.reader@example.com"


def seed(command: Any) -> None:
    """Create the demo's services data if missing; ``command.note(what)`` logs it."""
    tier = Tier.objects.filter(slug=TIER).first()
    if tier is None:
        return
    key = Entitlement.parse(CONSULTATION).key
    held = [Entitlement.parse(line).key for line in tier.entitlements.splitlines() if line.strip()]
    if key not in held:
        tier.entitlements = f"{tier.entitlements.rstrip()}\n{CONSULTATION}".strip()
        tier.save(update_fields=["entitlements"])
        command.note(f"tier {TIER}: includes {CONSULTATION}")
    _asking_reader(command, key)


def _asking_reader(command: Any, key: str) -> None:
    """A Premium member (a comp) who asked for a consultation this month."""
    User = get_user_model()
    if User.objects.filter(email=READER).exists():
        return
    user = User.objects.create_user(username=READER, email=READER, password=None)
    member = str(user.pk)
    now = timezone.now()
    Grant.objects.create(
        id=f"demo-consultation-{member}",
        member_id=member,
        kind="comp",
        starts_at=now - timedelta(days=30),
        ends_at=now + timedelta(days=335),
        tier=TIER,
        note="Demo: a member who booked a consultation",
    )
    ServiceRequest.objects.create(
        id=f"srv_demo_{member}",
        member_id=member,
        service=key,
        requested_at=now,
        period_start=period_start(Period.MONTH, now),
        note="Could we talk about growing our newsletter list? Any weekday afternoon.",
    )
    command.note(f"service request of {READER}")
