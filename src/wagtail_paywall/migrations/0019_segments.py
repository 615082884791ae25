import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("wagtail_paywall", "0018_attribution")]

    operations: list[migrations.operations.base.Operation] = [
        migrations.CreateModel(
            name="MemberCountry",
            fields=[
                (
                    "member_id",
                    models.CharField(
                        max_length=64, primary_key=True, serialize=False, verbose_name="member"
                    ),
                ),
                ("country", models.CharField(max_length=2, verbose_name="billing country")),
                (
                    "source",
                    models.CharField(blank=True, max_length=64, verbose_name="reported by"),
                ),
                (
                    "updated_at",
                    models.DateTimeField(
                        default=django.utils.timezone.now, verbose_name="updated at"
                    ),
                ),
            ],
            options={
                "verbose_name": "member country",
                "verbose_name_plural": "member countries",
                "indexes": [
                    models.Index(fields=["country", "member_id"], name="paywall_country_member")
                ],
            },
        ),
        migrations.CreateModel(
            name="SavedSegment",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=120, unique=True, verbose_name="name")),
                ("query", models.CharField(max_length=2000, verbose_name="filters")),
                (
                    "created_by",
                    models.CharField(blank=True, max_length=150, verbose_name="saved by"),
                ),
                (
                    "created_at",
                    models.DateTimeField(
                        default=django.utils.timezone.now, verbose_name="saved at"
                    ),
                ),
            ],
            options={
                "verbose_name": "saved segment",
                "verbose_name_plural": "saved segments",
                "ordering": ["name"],
            },
        ),
        migrations.AddIndex(
            model_name="membership",
            index=models.Index(fields=["started_at"], name="paywall_membership_started"),
        ),
        migrations.AddIndex(
            model_name="membership",
            index=models.Index(fields=["tier", "started_at"], name="paywall_membership_tier"),
        ),
        migrations.AddIndex(
            model_name="membership",
            index=models.Index(fields=["status", "started_at"], name="paywall_membership_status"),
        ),
        migrations.AddIndex(
            model_name="membership",
            index=models.Index(fields=["price_id", "started_at"], name="paywall_membership_price"),
        ),
    ]
