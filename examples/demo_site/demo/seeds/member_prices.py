"""Demo data for member prices (docs/member-prices.md): the field guide, the demo's one-off
item, costs Supporter members (and Premium ones) less, in every currency it is sold in.

Its article's paywall shows "€9.00 once · members €5.00" to visitors and the member price
on a Supporter's buy button; the pricing page lists it under "Members pay less".
"""

from __future__ import annotations

from typing import Any

from wagtail_paywall.models import Price, Tier

#: What Supporter members pay for the field guide, by currency (the list prices are in
#: ``demo.content.ITEM_PRICES``).
SUPPORTER_PRICES = {"EUR": 500, "PLN": 2200, "DKK": 3900, "USD": 550}


def seed(command: Any) -> None:
    """Give the field guide's prices their member prices if missing; a price the publisher
    gave member prices of their own is left as it is."""
    if not Tier.objects.filter(slug="supporter").exists():
        return
    for currency, amount in SUPPORTER_PRICES.items():
        price = Price.objects.filter(key=f"field-guide-{currency.lower()}").first()
        if price is None or price.member_amounts or amount >= price.amount:
            continue
        price.member_amounts = {"supporter": amount}
        price.save(update_fields=["member_amounts"])
        command.note(f"member price of {price.key}: supporter {amount}")
