# Retention offers of the cancel flow: each offer shown, and the member's answer.
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("wagtail_paywall", "0013_dunning")]

    operations = [
        migrations.CreateModel(
            name="RetentionAttempt",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "membership_id",
                    models.CharField(db_index=True, max_length=64, verbose_name="membership"),
                ),
                (
                    "member_id",
                    models.CharField(db_index=True, max_length=64, verbose_name="member"),
                ),
                ("tier", models.CharField(blank=True, max_length=64, verbose_name="tier")),
                (
                    "reason",
                    models.CharField(
                        choices=[
                            ("too_expensive", "It costs too much"),
                            ("not_enough_time", "I don't have time to read it"),
                            ("content", "The content isn't what I hoped for"),
                            ("switching", "I'm switching to another publication"),
                            ("temporary", "I only needed it for a while"),
                            ("technical", "Technical problems"),
                            ("other", "Something else"),
                        ],
                        max_length=32,
                        verbose_name="reason",
                    ),
                ),
                ("offer", models.CharField(max_length=64, verbose_name="offer")),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("discount", "Discount"),
                            ("pause", "Pause"),
                            ("cheaper_plan", "Cheaper plan"),
                        ],
                        max_length=16,
                        verbose_name="kind",
                    ),
                ),
                (
                    "outcome",
                    models.CharField(
                        choices=[
                            ("shown", "Shown, no answer"),
                            ("accepted", "Accepted"),
                            ("declined", "Declined"),
                        ],
                        default="shown",
                        max_length=16,
                        verbose_name="outcome",
                    ),
                ),
                ("detail", models.CharField(blank=True, max_length=200, verbose_name="detail")),
                ("shown_at", models.DateTimeField(verbose_name="shown at")),
                (
                    "decided_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="answered at"),
                ),
            ],
            options={
                "verbose_name": "retention offer",
                "verbose_name_plural": "retention offers",
                "ordering": ["-shown_at"],
                "indexes": [
                    models.Index(fields=["outcome", "decided_at"], name="paywall_retention_outcome")
                ],
            },
        ),
    ]
