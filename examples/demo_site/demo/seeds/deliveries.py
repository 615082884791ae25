"""Demo data for deliveries (docs/deliveries.md): Premium includes the print edition,
which ships on the 1st of each of the next six months (cut-off a week before), and one
print subscriber with an address, so an issue's manifest has a line to download."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from membership_sdk.deliveries import default_cutoff
from wagtail_paywall.models import DeliveryIssue, DeliveryProduct, Grant, ShippingAddress, Tier

PRINT = "delivery.print-edition"
TIER = "premium"
MONTHS = 6
CUTOFF_DAYS = 7
READER = "print.reader@example.com"


def _first_of_next_months(today: date, count: int) -> list[date]:
    days, year, month = [], today.year, today.month
    for _n in range(count):
        month += 1
        if month > 12:
            year, month = year + 1, 1
        days.append(date(year, month, 1))
    return days


def seed(command: Any) -> None:
    """Create the demo's deliveries data if missing; ``command.note(what)`` logs it."""
    tier = Tier.objects.filter(slug=TIER).first()
    if tier is not None and PRINT not in tier.entitlements.split():
        tier.entitlements = f"{tier.entitlements.rstrip()}\n{PRINT}".strip()
        tier.save(update_fields=["entitlements"])
        command.note(f"tier {TIER}: includes {PRINT}")
    product, made = DeliveryProduct.objects.get_or_create(
        key=PRINT,
        defaults={
            "name": "Print edition",
            "description": "The monthly magazine, posted to Premium members.",
        },
    )
    if made:
        command.note(f"delivery product {PRINT}")
    for ships_on in _first_of_next_months(timezone.localdate(), MONTHS):
        _issue, made = DeliveryIssue.objects.get_or_create(
            product=product,
            title=ships_on.strftime("%B %Y"),
            defaults={
                "ships_on": ships_on,
                "number": ships_on.month,
                "cutoff": default_cutoff(ships_on, CUTOFF_DAYS),
            },
        )
        if made:
            command.note(f"delivery issue {ships_on:%B %Y}")
    _print_reader(command)


def _print_reader(command: Any) -> None:
    """A Premium member (a year's comp, from two months ago) with an address in Berlin."""
    User = get_user_model()
    if User.objects.filter(email=READER).exists():
        return
    user = User.objects.create_user(username=READER, email=READER, password=None)
    member = str(user.pk)
    since = timezone.now() - timedelta(days=60)
    Grant.objects.create(
        id=f"demo-print-{member}",
        member_id=member,
        kind="comp",
        starts_at=since,
        ends_at=since + timedelta(days=365),
        tier=TIER,
        note="Demo: a print subscriber",
    )
    ShippingAddress.objects.create(
        member_id=member,
        name="Ada Lovelace",
        line1="Hauptstraße 1",
        postcode="10115",
        city="Berlin",
        country="DE",
        valid_from=since,
    )
    command.note(f"print subscriber {READER}")
