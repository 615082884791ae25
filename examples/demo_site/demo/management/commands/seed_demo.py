"""``manage.py seed_demo``: fill the demo site with tiers, prices, articles, a course,
downloads and an admin account.

Idempotent: whatever already exists (found by its slug, key, title or e-mail) is left as
it is, so running it twice changes nothing. (One exception: a price seeded before the demo
took bank transfers, still as it was seeded, gets its ``manual`` id.) The admin's password
comes from ``DEMO_ADMIN_PASSWORD``, else a fixed development-only default; it is printed
at the end.
"""

from __future__ import annotations

import os
from typing import Any

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand
from django.db import transaction
from wagtail.models import Collection, Page, Site

from demo import content, seeds
from demo.models import (
    ArticleIndexPage,
    ArticlePage,
    CoursePage,
    DemoDocument,
    DownloadsPage,
    HomePage,
    LessonPage,
)
from wagtail_paywall.models import Coupon, Price, Tier

ADMIN_EMAIL = "admin@example.com"
#: A code readers can enter on the pricing page: 25% off for three months.
DEMO_COUPON = "WELCOME25"
#: Development only: anyone who reads this file knows it. Set DEMO_ADMIN_PASSWORD instead.
DEV_ADMIN_PASSWORD = "demo-admin-dev-only"


class Command(BaseCommand):
    help = "Seed the demo site (idempotent): tiers, prices, pages, downloads, an admin."

    def handle(self, *args: Any, **options: Any) -> None:
        self.created: list[str] = []
        with transaction.atomic():
            tiers = self.seed_tiers()
            self.seed_prices(tiers)
            self.seed_coupons()
            home = self.seed_home()
            self.seed_articles(home, tiers)
            self.seed_course(home, tiers)
            self.seed_downloads(home, tiers)
            for kind in seeds.KINDS:
                kind.seed(self)
            password = self.seed_admin()
        if self.created:
            self.stdout.write(f"Created {len(self.created)} objects:")
            for line in self.created:
                self.stdout.write(f"  + {line}")
        else:
            self.stdout.write("The demo content is already there; nothing changed.")
        self.stdout.write(
            self.style.SUCCESS(f"Admin (dev only): {ADMIN_EMAIL} / {password}  -> /admin/")
        )

    def note(self, what: str) -> None:
        self.created.append(what)

    # -- catalog ----------------------------------------------------------------------------
    def seed_tiers(self) -> dict[str, Tier]:
        tiers = {}
        for slug, name, rank, entitlements, description in content.TIERS:
            tier, made = Tier.objects.get_or_create(
                slug=slug,
                defaults={
                    "name": name,
                    "rank": rank,
                    "entitlements": entitlements,
                    "description": description,
                },
            )
            if made:
                self.note(f"tier {slug}")
            tiers[slug] = tier
        return tiers

    def price(self, key: str, **fields: Any) -> None:
        """The price ``key``, sold by card (the fake provider) and by bank transfer (the
        ``manual`` provider; any id will do, it only names the price on invoices)."""
        fake_id = f"fake_{key.replace('-', '_')}"
        provider_ids = {"fake": fake_id, "manual": f"manual_{key.replace('-', '_')}"}
        price, made = Price.objects.get_or_create(
            key=key, defaults={**fields, "provider_ids": provider_ids}
        )
        if made:
            self.note(f"price {key}")
        elif price.provider_ids == {"fake": fake_id}:
            # Seeded before the demo took bank transfers and not edited since: sell it by
            # transfer too. A price the publisher changed is left as it is.
            price.provider_ids = provider_ids
            price.save(update_fields=["provider_ids"])
            self.note(f"price {key}: sold by bank transfer too")

    def seed_prices(self, tiers: dict[str, Tier]) -> None:
        for slug, intervals in content.TIER_PRICES.items():
            for interval, amounts in intervals.items():
                for currency, amount in amounts.items():
                    self.price(
                        f"{slug}-{interval}ly-{currency.lower()}",
                        tier=tiers[slug],
                        amount=amount,
                        currency=currency,
                        interval=interval,
                        trial_days=content.TRIAL_DAYS.get((slug, interval), 0),
                        nickname=f"{tiers[slug].name}, {interval}ly, {currency}",
                    )
        for currency, amount in content.ITEM_PRICES.items():
            self.price(
                f"field-guide-{currency.lower()}",
                item=content.ITEM_KEY,
                item_name=content.ITEM_NAME,
                amount=amount,
                currency=currency,
                interval=Price.Interval.ONE_OFF,
                nickname=f"{content.ITEM_NAME}, {currency}",
            )
        for months, amount in content.GIFT_PRICES.items():
            self.price(
                f"premium-gift-{months}m-eur",
                tier=tiers["premium"],
                amount=amount,
                currency="EUR",
                interval=Price.Interval.ONE_OFF,
                gift_months=months,
                nickname=f"{tiers['premium'].name} as a gift, {months} months, EUR",
            )

    def seed_coupons(self) -> None:
        """A coupon readers may try on the pricing page (see ``docs/offers.md``)."""
        _coupon, made = Coupon.objects.get_or_create(
            code=DEMO_COUPON,
            defaults={
                "name": "Welcome: 25% off the first three months",
                "percent_off": 25,
                "duration": Coupon.Duration.REPEATING,
                "months": 3,
            },
        )
        if made:
            self.note(f"coupon {DEMO_COUPON}")

    # -- pages ------------------------------------------------------------------------------
    def child(self, parent: Page, model: type[Page], slug: str, **fields: Any) -> Any:
        """The child of ``parent`` with ``slug``, created and published if missing."""
        existing = parent.get_children().filter(slug=slug).first()
        if existing is not None:
            return existing.specific
        page = model(slug=slug, **fields)
        parent.add_child(instance=page)
        page.save_revision().publish()
        self.note(f"page /{page.url_path.split('/', 2)[2]}")
        return page

    def seed_home(self) -> HomePage:
        root = Page.get_first_root_node()
        home = HomePage.objects.first()
        if home is None:
            # Wagtail's own "Welcome" placeholder holds the slug "home": move it aside.
            for page in root.get_children().filter(slug="home"):
                if type(page.specific) is Page and not page.get_children().exists():
                    page.delete()
            home = self.child(
                root,
                HomePage,
                "home",
                title="The Paywall Post",
                intro=(
                    "<p>News and analysis on the membership economy. Some articles are free, "
                    "some need a free account, some are for members, and a few free reads of "
                    "the others come with every month.</p>"
                ),
            )
        site = Site.objects.filter(is_default_site=True).first()
        if site is None:
            Site.objects.create(
                hostname="localhost", port=80, root_page=home, is_default_site=True,
                site_name="The Paywall Post",
            )  # fmt: skip
            self.note("site")
        elif site.root_page_id != home.pk:
            site.root_page = home
            site.site_name = "The Paywall Post"
            site.save()
            self.note("site root")
        return home

    def seed_articles(self, home: HomePage, tiers: dict[str, Tier]) -> None:
        index = self.child(
            home,
            ArticleIndexPage,
            "articles",
            title="Articles",
            intro="<p>Free, metered, members-only and premium articles, newest first.</p>",
        )
        for spec in content.articles():
            tier = tiers[spec["tier"]] if spec["tier"] else None
            rule = spec["rule"]
            self.child(
                index,
                ArticlePage,
                spec["slug"],
                title=spec["title"],
                summary=spec["summary"],
                date=spec["date"],
                body=spec["body"],
                paywall_rule=rule,
                # A metered article's free reads are over: Supporter or above reads on.
                paywall_min_tier=tiers["supporter"] if rule == "metered" else tier,
                paywall_meter_free=content.METER_FREE,
                paywall_purchase_item=content.ITEM_KEY if rule == "purchase" else "",
            )

    def seed_course(self, home: HomePage, tiers: dict[str, Tier]) -> None:
        course = self.child(
            home,
            CoursePage,
            content.COURSE["slug"],
            title=content.COURSE["title"],
            summary=content.COURSE["summary"],
            body=[
                {
                    "type": "paragraph",
                    "value": "<p>A short course for Supporter and Premium members. The first "
                    "lesson opens at once; the others open a few days apart.</p>",
                },
                {"type": "paywall", "value": None},
                {
                    "type": "paragraph",
                    "value": "<p>Welcome aboard. Work through one lesson at a time: each "
                    "ends with an exercise to try on your own membership.</p>",
                },
            ],
            paywall_rule="tier",
            paywall_min_tier=tiers[content.COURSE["tier"]],
        )
        for n, (slug, title, days) in enumerate(content.LESSONS, start=1):
            self.child(
                course,
                LessonPage,
                slug,
                title=title,
                paywall_drip_days=days,
                body=[
                    {"type": "paragraph", "value": f"<p>Lesson {n}: {title.lower()}.</p>"},
                    {
                        "type": "paragraph",
                        "value": "<p>Read, then try the exercise on your own membership.</p>",
                    },
                ],
            )

    def seed_downloads(self, home: HomePage, tiers: dict[str, Tier]) -> None:
        self.child(
            home,
            DownloadsPage,
            "downloads",
            title="Downloads",
            intro=(
                "<p>Worksheets, data and guides. Some are free; the ones counted against "
                "your monthly downloads are marked.</p>"
            ),
        )
        collection = Collection.get_first_root_node()
        for title, filename, kind, rule, tier, entitlement in content.DOCUMENTS:
            if DemoDocument.objects.filter(title=title).exists():
                continue
            document = DemoDocument(
                title=title,
                collection=collection,
                paywall_rule=rule,
                paywall_min_tier=tiers[tier] if tier else None,
                paywall_entitlement=entitlement,
            )
            document.file.save(
                filename, ContentFile(content.document_bytes(title, kind)), save=False
            )
            document._set_document_file_metadata()  # size and hash, as the admin's form does
            document.save()
            self.note(f"document {title!r}")

    # -- people -----------------------------------------------------------------------------
    def seed_admin(self) -> str:
        from allauth.account.models import EmailAddress

        password = os.environ.get("DEMO_ADMIN_PASSWORD") or DEV_ADMIN_PASSWORD
        user_model = get_user_model()
        user = user_model.objects.filter(email__iexact=ADMIN_EMAIL).first()
        if user is None:
            user = user_model.objects.create_superuser(
                username="admin", email=ADMIN_EMAIL, password=password
            )
            self.note(f"superuser {ADMIN_EMAIL}")
        elif not user.check_password(password):
            user.set_password(password)
            user.save(update_fields=["password"])
            self.note(f"new password for {ADMIN_EMAIL}")
        _, made = EmailAddress.objects.get_or_create(
            user=user, email=ADMIN_EMAIL, defaults={"verified": True, "primary": True}
        )
        if made:
            self.note(f"verified address {ADMIN_EMAIL}")
        return password
