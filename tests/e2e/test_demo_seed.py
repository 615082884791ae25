"""``seed_demo`` is idempotent: a second run changes nothing."""

from __future__ import annotations

import pytest

from .conftest import manage

pytestmark = pytest.mark.e2e

#: What seed_demo creates (and the journey test never changes).
SEEDED = [
    "wagtail_paywall.tier",
    "wagtail_paywall.price",
    "wagtailcore.site",
    "wagtailcore.page",
    "wagtailcore.revision",
    "demo",
]


def test_seeding_twice_changes_nothing(seeded_demo: dict[str, str]) -> None:
    before = manage(seeded_demo, "dumpdata", *SEEDED, "--indent=1")
    output = manage(seeded_demo, "seed_demo")
    after = manage(seeded_demo, "dumpdata", *SEEDED, "--indent=1")
    assert "nothing changed" in output
    assert "admin@example.com" in output  # the credentials are printed every time
    assert after == before
    assert before.count('"model": "demo.articlepage"') == 20
    assert before.count('"model": "demo.lessonpage"') == 5
    assert before.count('"model": "demo.demodocument"') == 5


def shell(env: dict[str, str], code: str) -> str:
    """What ``code`` prints in the demo's ``manage.py shell`` (its last line: newer Django
    says first what it imported by itself)."""
    lines = manage(env, "shell", "-c", code).strip().splitlines()
    return lines[-1] if lines else ""


def test_a_price_seeded_before_bank_transfers_is_sold_by_transfer_after_reseeding(
    seeded_demo: dict[str, str],
) -> None:
    show = (
        "from wagtail_paywall.models import Price; "
        "print(sorted(Price.objects.get(key='supporter-monthly-eur').provider_ids.items()))"
    )
    # The price as an older seed left it: sold by card only.
    manage(
        seeded_demo,
        "shell",
        "-c",
        "from wagtail_paywall.models import Price; "
        "Price.objects.filter(key='supporter-monthly-eur')"
        ".update(provider_ids={'fake': 'fake_supporter_monthly_eur'})",
    )

    first = manage(seeded_demo, "seed_demo")
    second = manage(seeded_demo, "seed_demo")

    assert "price supporter-monthly-eur: sold by bank transfer too" in first
    assert "nothing changed" in second
    assert shell(seeded_demo, show) == (
        "[('fake', 'fake_supporter_monthly_eur'), ('manual', 'manual_supporter_monthly_eur')]"
    )


def test_a_price_the_publisher_changed_is_left_as_it_is(seeded_demo: dict[str, str]) -> None:
    change = (
        "from wagtail_paywall.models import Price; "
        "Price.objects.filter(key='premium-yearly-usd')"
        ".update(provider_ids={'fake': 'fake_premium_yearly_usd', 'stripe': 'price_123'})"
    )
    show = (
        "from wagtail_paywall.models import Price; "
        "print(sorted(Price.objects.get(key='premium-yearly-usd').provider_ids))"
    )
    manage(seeded_demo, "shell", "-c", change)
    try:
        assert "nothing changed" in manage(seeded_demo, "seed_demo")
        assert shell(seeded_demo, show) == "['fake', 'stripe']"
    finally:
        # Back to what the seed made, for the other tests.
        manage(
            seeded_demo,
            "shell",
            "-c",
            "from wagtail_paywall.models import Price; "
            "Price.objects.filter(key='premium-yearly-usd').update(provider_ids="
            "{'fake': 'fake_premium_yearly_usd', 'manual': 'manual_premium_yearly_usd'})",
        )
