import django.db.models.deletion
import modelcluster.fields
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("wagtail_paywall", "0017_at_risk"),
        migrations.swappable_dependency(settings.WAGTAIL_PAGE_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="PaywallTest",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=120, verbose_name="name")),
                (
                    "status",
                    models.CharField(
                        choices=[("draft", "Draft"), ("running", "Running"), ("ended", "Ended")],
                        default="draft",
                        help_text="Only one test runs at a time; ending one is done from its report.",
                        max_length=16,
                        verbose_name="status",
                    ),
                ),
                (
                    "meter",
                    models.SlugField(
                        default="articles",
                        help_text="The meter whose free reads a variant's meter size replaces.",
                        max_length=64,
                        verbose_name="meter",
                    ),
                ),
                (
                    "started_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="started at"),
                ),
                ("ended_at", models.DateTimeField(blank=True, null=True, verbose_name="ended at")),
            ],
            options={
                "verbose_name": "paywall A/B test",
                "verbose_name_plural": "paywall A/B tests",
                "ordering": ("-id",),
            },
        ),
        migrations.CreateModel(
            name="PaywallVariant",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("sort_order", models.IntegerField(blank=True, editable=False, null=True)),
                ("name", models.CharField(max_length=80, verbose_name="name")),
                (
                    "weight",
                    models.PositiveSmallIntegerField(
                        default=1,
                        help_text="Visitors are split in proportion to weights.",
                        verbose_name="weight",
                    ),
                ),
                ("heading", models.CharField(blank=True, max_length=200, verbose_name="heading")),
                ("body", models.TextField(blank=True, verbose_name="text")),
                (
                    "offers",
                    models.CharField(
                        blank=True,
                        help_text="Tier or item slugs, separated by commas; blank shows every offer.",
                        max_length=500,
                        verbose_name="offers shown",
                    ),
                ),
                (
                    "first_price",
                    models.CharField(
                        blank=True,
                        help_text="A price id; its offer and price come first.",
                        max_length=64,
                        verbose_name="price shown first",
                    ),
                ),
                (
                    "meter_free",
                    models.PositiveSmallIntegerField(
                        blank=True,
                        help_text="Free metered reads per period for visitors of this variant.",
                        null=True,
                        verbose_name="meter size",
                    ),
                ),
                (
                    "test",
                    modelcluster.fields.ParentalKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="variants",
                        to="wagtail_paywall.paywalltest",
                    ),
                ),
            ],
            options={
                "verbose_name": "variant",
                "ordering": ["sort_order"],
                "abstract": False,
            },
        ),
        migrations.AddField(
            model_name="paywalltest",
            name="winner",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="wagtail_paywall.paywallvariant",
                verbose_name="winner",
            ),
        ),
        migrations.CreateModel(
            name="PaywallExposure",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("visitor", models.CharField(max_length=80, verbose_name="visitor")),
                ("exposed_at", models.DateTimeField(auto_now_add=True, verbose_name="exposed at")),
                (
                    "test",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="exposures",
                        to="wagtail_paywall.paywalltest",
                    ),
                ),
                (
                    "variant",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="exposures",
                        to="wagtail_paywall.paywallvariant",
                    ),
                ),
            ],
            options={
                "verbose_name": "paywall exposure",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("test", "visitor"), name="paywall_exposure_once"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="Attribution",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "member_id",
                    models.CharField(db_index=True, max_length=64, verbose_name="member"),
                ),
                ("price_id", models.CharField(max_length=64, verbose_name="price")),
                ("provider", models.CharField(max_length=64, verbose_name="provider")),
                (
                    "checkout_id",
                    models.CharField(blank=True, max_length=255, verbose_name="checkout session"),
                ),
                ("started_at", models.DateTimeField(db_index=True, verbose_name="started at")),
                (
                    "membership_id",
                    models.CharField(blank=True, max_length=64, verbose_name="membership"),
                ),
                ("grant_id", models.CharField(blank=True, max_length=64, verbose_name="grant")),
                (
                    "converted_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="converted at"),
                ),
                ("currency", models.CharField(blank=True, max_length=3, verbose_name="currency")),
                (
                    "amount",
                    models.BigIntegerField(blank=True, null=True, verbose_name="first payment"),
                ),
                ("mrr", models.BigIntegerField(blank=True, null=True, verbose_name="MRR")),
                (
                    "page",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.WAGTAIL_PAGE_MODEL,
                        verbose_name="page",
                    ),
                ),
                (
                    "variant",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="attributions",
                        to="wagtail_paywall.paywallvariant",
                        verbose_name="variant",
                    ),
                ),
            ],
            options={
                "verbose_name": "attribution",
                "indexes": [
                    models.Index(fields=["member_id", "converted_at"], name="paywall_attr_open"),
                    models.Index(fields=["membership_id"], name="paywall_attr_membership"),
                ],
            },
        ),
    ]
