"""Demo data for usage-based add-ons (docs/usage.md): Premium includes 10 dataset downloads
a month, and each one beyond costs €0.50 (the usage rate ``datasets.download``). Members
download datasets at ``/datasets/`` (``demo.datasets``), and see their use on the account
page. One Premium member has used 13 this period, so Paywall → Usage in the admin has a
row with extra use to look at."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from membership_sdk.catalog import Interval
from membership_sdk.entitlements import Entitlement
from membership_sdk.usage import UsageTerms, included_units
from wagtail_paywall.models import DjangoUsage, Membership, Tier, UsageRate

METER = "datasets.download"
LINE = f"{METER}: 10 per month"
TIER = "premium"
READER = "datasets.reader@example.com"


def seed(command: Any) -> None:
    """Create the demo's usage data if missing; ``command.note(what)`` logs it."""
    tier = Tier.objects.filter(slug=TIER).first()
    if tier is None:
        return
    _, made = UsageRate.objects.get_or_create(
        meter=METER, defaults={"name": "dataset downloads", "unit_amount": 50, "currency": "EUR"}
    )
    if made:
        command.note(f"usage rate {METER}: €0.50 per download beyond the included ones")
    held = [Entitlement.parse(line).key for line in tier.entitlements.splitlines() if line.strip()]
    if METER not in held:
        tier.entitlements = f"{tier.entitlements.rstrip()}\n{LINE}".strip()
        tier.save(update_fields=["entitlements"])
        command.note(f"tier {TIER}: includes {LINE}")
    _downloading_reader(command)


def _downloading_reader(command: Any) -> None:
    """A Premium member (monthly, by card) who downloaded 13 datasets this period."""
    User = get_user_model()
    if User.objects.filter(email=READER).exists():
        return
    user = User.objects.create_user(username=READER, email=READER, password=None)
    member = str(user.pk)
    now = timezone.now().replace(microsecond=0)
    membership = Membership.objects.create(
        id=f"demo-usage-{member}",
        member_id=member,
        tier=TIER,
        status="active",
        provider="fake",
        price_id="premium-monthly-eur",
        provider_subscription_id=f"sub_demo_usage_{member}",
        started_at=now - timedelta(days=12),
        current_period_end=now + timedelta(days=18),
    )
    store = DjangoUsage()
    terms = UsageTerms(
        membership_id=membership.id,
        member_id=member,
        meter=METER,
        period_end=now + timedelta(days=18),
        included=included_units(Entitlement.parse(LINE).quota, Interval.MONTH),
        unit_amount=50,
        currency="EUR",
        provider="fake",
    )
    for day, quantity in enumerate((4, 5, 3, 1)):
        record, _ = store.record(terms, quantity, f"demo-{day}", now - timedelta(days=10 - day))
        if record.extra:  # the demo's fake service never knew this subscription
            store.mark_reported(record.id, now)
    command.note(f"member {READER}: 13 dataset downloads this period, 3 extra")
