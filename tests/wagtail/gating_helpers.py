"""Data and helpers of the gating tests: the article text, and memberships, grants and
meter usage stored as the webhooks and readers would have left them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from wagtail.rich_text import RichText

from wagtail_paywall.models import Grant, Membership

TEASER = "Teaser paragraph anyone may read."
PREMIUM = "Premium paragraph only members may read."
FREE_READS = 3


def now() -> datetime:
    return datetime.now(UTC)


def body(teaser: str = TEASER, premium: str = PREMIUM) -> list[tuple[str, Any]]:
    return [
        ("heading", "Introduction"),
        ("paragraph", RichText(f"<p>{teaser}</p>")),
        ("paywall", None),
        ("paragraph", RichText(f"<p>{premium}</p>")),
    ]


def hold_membership(user: Any, tier: str, status: str, period_end: datetime, **extra: Any) -> None:
    """Store a provider membership for ``user`` as the webhooks would have left it."""
    Membership.objects.create(
        id=uuid.uuid4().hex,
        member_id=str(user.pk),
        tier=tier,
        status=status,
        provider="fake",
        provider_subscription_id=f"sub_{uuid.uuid4().hex[:12]}",
        started_at=period_end - timedelta(days=30),
        current_period_end=period_end,
        **extra,
    )


def hold_grant(user: Any, *, starts_at: datetime, days: int = 60, **fields: Any) -> None:
    Grant.objects.create(
        id=uuid.uuid4().hex,
        member_id=str(user.pk),
        kind=fields.pop("kind", "comp"),
        starts_at=starts_at,
        ends_at=starts_at + timedelta(days=days),
        **fields,
    )
