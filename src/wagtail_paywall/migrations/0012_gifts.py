# Gift memberships: gifts with their redeem codes, the buyers' gift orders, and the
# months a gift price sells (see docs/gifts.md).
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("wagtail_paywall", "0011_lifecycle")]

    operations = [
        migrations.CreateModel(
            name="Gift",
            fields=[
                (
                    "id",
                    models.CharField(
                        max_length=64, primary_key=True, serialize=False, verbose_name="id"
                    ),
                ),
                ("code", models.CharField(max_length=32, unique=True, verbose_name="code")),
                ("tier", models.CharField(max_length=64, verbose_name="tier")),
                ("months", models.PositiveSmallIntegerField(verbose_name="months")),
                ("buyer_id", models.CharField(db_index=True, max_length=64, verbose_name="member")),
                ("price_id", models.CharField(max_length=64, verbose_name="price")),
                ("source", models.CharField(max_length=255, unique=True, verbose_name="purchase")),
                ("version", models.BigIntegerField(default=0, verbose_name="purchase version")),
                ("bought_at", models.DateTimeField(verbose_name="bought at")),
                (
                    "recipient_email",
                    models.EmailField(blank=True, max_length=254, verbose_name="recipient's email"),
                ),
                ("send_on", models.DateField(blank=True, null=True, verbose_name="send on")),
                ("message", models.TextField(blank=True, verbose_name="message")),
                (
                    "redeemed_by",
                    models.CharField(
                        blank=True, db_index=True, max_length=64, verbose_name="redeemed by"
                    ),
                ),
                (
                    "redeemed_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="redeemed at"),
                ),
                (
                    "refunded_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="refunded at"),
                ),
                (
                    "buyer_told_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="buyer emailed at"),
                ),
                (
                    "delivered_at",
                    models.DateTimeField(
                        blank=True, null=True, verbose_name="recipient emailed at"
                    ),
                ),
                (
                    "reminded_at",
                    models.DateTimeField(
                        blank=True, null=True, verbose_name="end reminder sent at"
                    ),
                ),
            ],
            options={
                "verbose_name": "gift",
                "verbose_name_plural": "gifts",
                "ordering": ["-bought_at", "-id"],
            },
        ),
        migrations.AddField(
            model_name="price",
            name="gift_months",
            field=models.PositiveSmallIntegerField(
                blank=True,
                help_text=(
                    "For a gift: the months of the tier a one-off price sells for someone "
                    "else to redeem (1, 3, 6 or 12, say). Leave empty for every other price."
                ),
                null=True,
                verbose_name="gift months",
            ),
        ),
        migrations.CreateModel(
            name="GiftOrder",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("buyer_id", models.CharField(max_length=64, verbose_name="member")),
                ("price_id", models.CharField(max_length=64, verbose_name="price")),
                (
                    "recipient_email",
                    models.EmailField(blank=True, max_length=254, verbose_name="recipient's email"),
                ),
                ("send_on", models.DateField(blank=True, null=True, verbose_name="send on")),
                ("message", models.TextField(blank=True, verbose_name="message")),
                (
                    "checkout_id",
                    models.CharField(blank=True, max_length=255, verbose_name="checkout"),
                ),
                ("created_at", models.DateTimeField(auto_now=True, verbose_name="created at")),
            ],
            options={
                "verbose_name": "gift order",
                "verbose_name_plural": "gift orders",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("buyer_id", "price_id", "checkout_id"),
                        name="wagtail_paywall_gift_order_once",
                    )
                ],
            },
        ),
    ]
