"""Seed the database of ``test_parallel_reads.py``: metered articles, gated documents and
three members (two free readers, a Premium member with a download quota).

Run as ``python -m tests.multiprocess.seed_meters`` with the servers' settings; prints
what the test needs (URLs and texts) as one JSON object.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.multiprocess.settings_meters")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.files.base import ContentFile  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402
from wagtail.models import Site  # noqa: E402
from wagtail.rich_text import RichText  # noqa: E402

from tests.wagtail.testapp.models import ArticlePage, PaywalledDocument  # noqa: E402
from wagtail_paywall.models import Grant, Tier  # noqa: E402

PASSWORD = "correct horse battery staple"
TEASER = "Free teaser paragraph."
PREMIUM = "Premium paragraph for members only."
ARTICLES = 24
FREE_READS = 3
DOCUMENTS = 24
DOWNLOADS = 10
FILE = b"%PDF-1.7 the premium report"


def main() -> None:
    Tier.objects.create(slug="free", name="Free", rank=0)
    premium = Tier.objects.create(
        slug="premium",
        name="Premium",
        rank=2,
        entitlements=f"content.premium\ndownloads: {DOWNLOADS} per month",
    )
    User = get_user_model()
    User.objects.create_user("reader", "reader@example.com", PASSWORD)
    User.objects.create_user("prober", "prober@example.com", PASSWORD)
    subscriber = User.objects.create_user("subscriber", "subscriber@example.com", PASSWORD)
    Grant.objects.create(
        id="grant_subscriber",
        member_id=str(subscriber.pk),
        kind="comp",
        tier="premium",
        starts_at=timezone.now() - timedelta(days=1),
    )
    home = Site.objects.get(is_default_site=True).root_page
    articles = []
    for n in range(ARTICLES):
        article = ArticlePage(
            title=f"Metered article {n}",
            slug=f"metered-{n}",
            body=[
                ("paragraph", RichText(f"<p>{TEASER}</p>")),
                ("paywall", None),
                ("paragraph", RichText(f"<p>{PREMIUM}</p>")),
            ],
            paywall_rule="metered",
            paywall_min_tier=premium,
            paywall_meter_free=FREE_READS,
        )
        home.add_child(instance=article)
        articles.append(article.url)
    documents = []
    for n in range(DOCUMENTS):
        document = PaywalledDocument(
            title=f"Report {n}", paywall_rule="entitlement", paywall_entitlement="downloads"
        )
        document.file.save(f"report-{n}.pdf", ContentFile(FILE), save=False)
        document.save()
        documents.append(reverse("wagtaildocs_serve", args=(document.pk, document.filename)))
    print(
        json.dumps(
            {
                "articles": articles,
                "documents": documents,
                "free_reads": FREE_READS,
                "downloads": DOWNLOADS,
                "login": reverse("wagtailadmin_login"),
                "password": PASSWORD,
                "teaser": TEASER,
                "premium": PREMIUM,
                "file": FILE.decode(),
            }
        )
    )


if __name__ == "__main__":
    main()
