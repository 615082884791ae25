# Deliveries (issue 17): delivery products, their schedule of issues, members' shipping
# addresses with their history, and each issue's frozen manifest (see docs/deliveries.md).
import django.db.models.deletion
from django.db import migrations, models

import wagtail_paywall.models.deliveries


class Migration(migrations.Migration):
    dependencies = [("wagtail_paywall", "0024_referrals")]

    operations = [
        migrations.CreateModel(
            name="DeliveryProduct",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "key",
                    models.CharField(
                        help_text="Starts with 'delivery.', e.g. 'delivery.print-edition'. Add "
                        "the same line to the entitlements of each tier that includes it.",
                        max_length=128,
                        unique=True,
                        validators=[wagtail_paywall.models.deliveries.validate_product_key],
                        verbose_name="entitlement key",
                    ),
                ),
                ("name", models.CharField(max_length=200, verbose_name="name")),
                ("description", models.TextField(blank=True, verbose_name="description")),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="created at")),
            ],
            options={
                "verbose_name": "delivery product",
                "verbose_name_plural": "delivery products",
                "ordering": ["name"],
            },
        ),
        migrations.CreateModel(
            name="DeliveryIssue",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("title", models.CharField(max_length=200, verbose_name="title")),
                (
                    "number",
                    models.PositiveIntegerField(blank=True, null=True, verbose_name="number"),
                ),
                ("ships_on", models.DateField(verbose_name="ships on")),
                (
                    "cutoff",
                    models.DateTimeField(
                        blank=True,
                        help_text="Who gets this issue, and where, is decided as things stand "
                        "at this moment; changes after it apply to the next issue. Before the "
                        "ship day; empty: DELIVERY_CUTOFF_DAYS (7 unless set) days before it.",
                        verbose_name="cut-off",
                    ),
                ),
                (
                    "frozen_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="manifest made at"),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="created at")),
                (
                    "product",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="issues",
                        to="wagtail_paywall.deliveryproduct",
                        verbose_name="product",
                    ),
                ),
            ],
            options={
                "verbose_name": "delivery issue",
                "verbose_name_plural": "delivery issues",
                "ordering": ["ships_on", "product_id", "pk"],
                "indexes": [models.Index(fields=["ships_on"], name="paywall_delivery_issue_ships")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("product", "title"), name="wagtail_paywall_delivery_issue_title"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="DeliveryRecipient",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("member_id", models.CharField(max_length=64, verbose_name="member")),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("receives", "Receives"),
                            ("missing_address", "Missing address"),
                            ("paused", "Paused"),
                            ("ended", "Membership ends before"),
                            ("not_entitled", "Not included"),
                        ],
                        max_length=16,
                        verbose_name="status",
                    ),
                ),
                ("quantity", models.PositiveSmallIntegerField(default=1, verbose_name="quantity")),
                ("name", models.CharField(blank=True, max_length=200, verbose_name="name")),
                (
                    "line1",
                    models.CharField(blank=True, max_length=200, verbose_name="address line 1"),
                ),
                (
                    "line2",
                    models.CharField(blank=True, max_length=200, verbose_name="address line 2"),
                ),
                ("postcode", models.CharField(blank=True, max_length=16, verbose_name="postcode")),
                ("city", models.CharField(blank=True, max_length=100, verbose_name="city")),
                ("country", models.CharField(blank=True, max_length=2, verbose_name="country")),
                (
                    "issue",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="recipients",
                        to="wagtail_paywall.deliveryissue",
                        verbose_name="issue",
                    ),
                ),
            ],
            options={
                "verbose_name": "delivery recipient",
                "verbose_name_plural": "delivery recipients",
                "ordering": ["issue_id", "member_id"],
                "indexes": [models.Index(fields=["member_id"], name="paywall_delivery_member")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("issue", "member_id"),
                        name="wagtail_paywall_delivery_once_per_issue",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="ShippingAddress",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("member_id", models.CharField(max_length=64, verbose_name="member")),
                ("name", models.CharField(max_length=200, verbose_name="name")),
                ("line1", models.CharField(max_length=200, verbose_name="address line 1")),
                (
                    "line2",
                    models.CharField(blank=True, max_length=200, verbose_name="address line 2"),
                ),
                ("postcode", models.CharField(blank=True, max_length=16, verbose_name="postcode")),
                ("city", models.CharField(max_length=100, verbose_name="city")),
                ("country", models.CharField(max_length=2, verbose_name="country")),
                ("valid_from", models.DateTimeField(verbose_name="valid from")),
            ],
            options={
                "verbose_name": "shipping address",
                "verbose_name_plural": "shipping addresses",
                "ordering": ["member_id", "-valid_from", "-pk"],
                "indexes": [
                    models.Index(fields=["member_id", "valid_from"], name="paywall_address_member")
                ],
            },
        ),
    ]
