"""Hand-made membership histories, applied through the site's program as webhooks, so
the ledger is written exactly as on a live site."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from membership_sdk import BillingEvent, EventType, Status, SubscriptionSnapshot

PRICES = {
    "supporter-monthly": "fake_price_supporter_monthly",
    "premium-monthly": "fake_price_premium_monthly",
    "premium-yearly": "fake_price_premium_yearly",
}


def months_ago(n: int, day: int = 10) -> datetime:
    """Day ``day`` of the month ``n`` months before this one, at noon."""
    now = timezone.localtime()
    total = now.year * 12 + now.month - 1 - n
    return now.replace(year=total // 12, month=total % 12 + 1, day=day, hour=12, minute=0)


def event(
    member: str,
    sub: str,
    version: int,
    status: Status,
    at: datetime,
    price: str = "premium-monthly",
    **snapshot: Any,
) -> BillingEvent:
    snapshot.setdefault("current_period_end", at + timedelta(days=30))
    snapshot.setdefault("started_at", at)
    return BillingEvent(
        provider="fake",
        id=f"evt_{sub}_{version}",
        type=EventType.SUBSCRIPTION_UPDATED,
        occurred_at=at,
        member_id=member,
        subscription=SubscriptionSnapshot(
            id=sub,
            customer_id=f"cus_{member}",
            price=PRICES[price],
            status=status,
            version=version,
            **snapshot,
        ),
    )


@pytest.fixture
def apply(program: Any) -> Callable[..., Any]:
    """``apply(member, sub, version, status, at, price=..., **snapshot)``."""

    def run(*args: Any, **kwargs: Any) -> Any:
        result = program.apply(event(*args, **kwargs))
        assert result.outcome.value in ("applied", "duplicate", "stale"), result
        return result

    return run
