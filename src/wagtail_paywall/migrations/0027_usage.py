"""Usage-based add-ons (docs/usage.md): usage rates, and each meter's use per billing period."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("wagtail_paywall", "0026_services")]

    operations = [
        migrations.CreateModel(
            name="UsageRate",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "meter",
                    models.CharField(
                        help_text="An entitlement key, e.g. 'datasets.download'. A tier includes units with a line such as 'datasets.download: 10 per month' (without a quota: none).",
                        max_length=128,
                        unique=True,
                        verbose_name="meter",
                    ),
                ),
                (
                    "name",
                    models.CharField(
                        blank=True,
                        help_text="What members read, e.g. 'downloads'.",
                        max_length=255,
                        verbose_name="name",
                    ),
                ),
                (
                    "unit_amount",
                    models.PositiveIntegerField(
                        help_text="In minor units of the currency (cents for EUR).",
                        verbose_name="price per extra unit",
                    ),
                ),
                (
                    "currency",
                    models.CharField(default="EUR", max_length=3, verbose_name="currency"),
                ),
                (
                    "max_extra",
                    models.PositiveIntegerField(
                        blank=True,
                        help_text="Use beyond this is refused; leave empty for no limit.",
                        null=True,
                        verbose_name="most extra units per period",
                    ),
                ),
                (
                    "provider_ids",
                    models.JSONField(
                        blank=True,
                        default=dict,
                        help_text='Each provider\'s metered price for the add-on, e.g. {"stripe": "price_123"}.',
                        verbose_name="metered prices",
                    ),
                ),
                (
                    "provider_meters",
                    models.JSONField(
                        blank=True,
                        default=dict,
                        help_text='Each provider\'s meter, e.g. {"stripe": "dataset_downloads"} (event name).',
                        verbose_name="provider meters",
                    ),
                ),
            ],
            options={
                "verbose_name": "usage rate",
                "verbose_name_plural": "usage rates",
                "ordering": ["meter"],
            },
        ),
        migrations.CreateModel(
            name="UsagePeriod",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("membership_id", models.CharField(max_length=64, verbose_name="membership")),
                (
                    "member_id",
                    models.CharField(db_index=True, max_length=64, verbose_name="member"),
                ),
                ("meter", models.CharField(max_length=128, verbose_name="meter")),
                ("period_end", models.DateTimeField(verbose_name="period ends")),
                ("included", models.PositiveBigIntegerField(verbose_name="included")),
                ("used", models.PositiveBigIntegerField(default=0, verbose_name="used")),
                ("unit_amount", models.PositiveIntegerField(verbose_name="price per extra unit")),
                ("currency", models.CharField(max_length=3, verbose_name="currency")),
                ("provider", models.CharField(max_length=64, verbose_name="provider")),
                (
                    "max_extra",
                    models.PositiveIntegerField(
                        blank=True, null=True, verbose_name="most extra units"
                    ),
                ),
                (
                    "frozen_at",
                    models.DateTimeField(
                        blank=True,
                        help_text=(
                            "When closing froze its count to bill it; it takes no more use since."
                        ),
                        null=True,
                        verbose_name="count frozen at",
                    ),
                ),
                (
                    "closed_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="closed at"),
                ),
                ("invoice", models.CharField(blank=True, max_length=64, verbose_name="invoice")),
            ],
            options={
                "verbose_name": "usage period",
                "verbose_name_plural": "usage periods",
                "ordering": ["-period_end", "member_id", "meter"],
                "indexes": [
                    models.Index(fields=["closed_at", "period_end"], name="paywall_usage_due")
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("membership_id", "meter", "period_end"), name="paywall_usage_period"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="UsageRecord",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("member_id", models.CharField(max_length=64, verbose_name="member")),
                ("meter", models.CharField(max_length=128, verbose_name="meter")),
                ("quantity", models.PositiveBigIntegerField(verbose_name="quantity")),
                (
                    "idempotency_key",
                    models.CharField(max_length=200, verbose_name="idempotency key"),
                ),
                ("when", models.DateTimeField(verbose_name="used at")),
                ("membership_id", models.CharField(max_length=64, verbose_name="membership")),
                ("period_end", models.DateTimeField(verbose_name="period ends")),
                ("extra", models.PositiveBigIntegerField(default=0, verbose_name="extra units")),
                ("provider", models.CharField(max_length=64, verbose_name="provider")),
                ("unit_amount", models.PositiveIntegerField(verbose_name="price per extra unit")),
                ("currency", models.CharField(max_length=3, verbose_name="currency")),
                (
                    "reported_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="reported at"),
                ),
                ("report_error", models.TextField(blank=True, verbose_name="report error")),
                (
                    "period",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="records",
                        to="wagtail_paywall.usageperiod",
                        verbose_name="period",
                    ),
                ),
            ],
            options={
                "verbose_name": "usage record",
                "verbose_name_plural": "usage records",
                "ordering": ["when", "pk"],
                "indexes": [
                    models.Index(fields=["reported_at", "extra"], name="paywall_usage_unreported")
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("member_id", "meter", "idempotency_key"), name="paywall_usage_key"
                    )
                ],
            },
        ),
    ]
