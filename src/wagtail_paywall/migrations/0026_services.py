# Services with a quota: members' requests of a service (a consultation), redeemed or
# declined by staff (see docs/services.md).
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("wagtail_paywall", "0025_deliveries")]

    operations = [
        migrations.CreateModel(
            name="ServiceRequest",
            fields=[
                (
                    "id",
                    models.CharField(
                        max_length=64, primary_key=True, serialize=False, verbose_name="id"
                    ),
                ),
                ("member_id", models.CharField(max_length=64, verbose_name="member")),
                ("service", models.CharField(max_length=100, verbose_name="service")),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("requested", "Requested"),
                            ("redeemed", "Redeemed"),
                            ("canceled", "Canceled"),
                            ("declined", "Declined"),
                        ],
                        default="requested",
                        max_length=16,
                        verbose_name="status",
                    ),
                ),
                ("requested_at", models.DateTimeField(verbose_name="requested at")),
                ("period_start", models.DateTimeField(verbose_name="counts in the period from")),
                ("note", models.TextField(blank=True, verbose_name="member's note")),
                ("staff_note", models.TextField(blank=True, verbose_name="staff note")),
                (
                    "closed_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="closed at"),
                ),
                (
                    "closed_by",
                    models.CharField(blank=True, max_length=64, verbose_name="closed by"),
                ),
            ],
            options={
                "verbose_name": "service request",
                "verbose_name_plural": "service requests",
                "ordering": ["-requested_at", "-id"],
                "indexes": [
                    models.Index(
                        fields=["member_id", "service", "period_start"],
                        name="wagtail_paywall_srv_quota",
                    ),
                    models.Index(
                        fields=["status", "requested_at"], name="wagtail_paywall_srv_open"
                    ),
                ],
            },
        ),
    ]
