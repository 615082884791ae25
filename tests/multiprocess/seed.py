"""Seed the servers' database: a Premium tier, a premium article and two people.

Run as ``python -m tests.multiprocess.seed`` with the servers' settings; prints what the
test needs (URLs and ids) as one JSON object.
"""

from __future__ import annotations

import json
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.multiprocess.settings")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.urls import reverse  # noqa: E402
from wagtail.models import Site  # noqa: E402
from wagtail.rich_text import RichText  # noqa: E402

from tests.wagtail.testapp.models import ArticlePage  # noqa: E402
from wagtail_paywall.models import Price, Tier  # noqa: E402

PASSWORD = "correct horse battery staple"
TEASER = "Free teaser paragraph."
PREMIUM = "Premium paragraph for members only."


def main() -> None:
    Tier.objects.create(slug="free", name="Free", rank=0)
    premium = Tier.objects.create(
        slug="premium", name="Premium", rank=2, entitlements="content.premium"
    )
    Price.objects.create(key="premium-monthly", tier=premium, amount=1200, currency="EUR")
    User = get_user_model()
    member = User.objects.create_user("member", "member@example.com", PASSWORD)
    User.objects.create_superuser("editor", "editor@example.com", PASSWORD)
    home = Site.objects.get(is_default_site=True).root_page
    article = ArticlePage(
        title="Premium article",
        slug="premium-article",
        body=[
            ("paragraph", RichText(f"<p>{TEASER}</p>")),
            ("paywall", None),
            ("paragraph", RichText(f"<p>{PREMIUM}</p>")),
        ],
        paywall_rule="tier",
        paywall_min_tier=premium,
    )
    home.add_child(instance=article)
    print(
        json.dumps(
            {
                "article": article.url,
                "member_id": str(member.pk),
                "member_admin": reverse("paywall_members:detail", args=[str(member.pk)]),
                "login": reverse("wagtailadmin_login"),
                "password": PASSWORD,
                "teaser": TEASER,
                "premium": PREMIUM,
            }
        )
    )


if __name__ == "__main__":
    main()
