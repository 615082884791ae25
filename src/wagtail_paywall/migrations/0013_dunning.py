# Failed-payment episodes and their recovery (wagtail_paywall.models.dunning).
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("wagtail_paywall", "0012_gifts")]

    operations: list[migrations.operations.base.Operation] = [
        migrations.CreateModel(
            name="PaymentRecovery",
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
                ("member_id", models.CharField(max_length=64, verbose_name="member")),
                ("provider", models.CharField(max_length=64, verbose_name="provider")),
                ("tier", models.CharField(blank=True, max_length=64, verbose_name="tier")),
                (
                    "state",
                    models.CharField(
                        choices=[("open", "Open"), ("recovered", "Recovered"), ("lost", "Lost")],
                        default="open",
                        max_length=16,
                        verbose_name="state",
                    ),
                ),
                ("failed_at", models.DateTimeField(db_index=True, verbose_name="failed at")),
                ("attempts", models.PositiveIntegerField(default=0, verbose_name="attempts")),
                (
                    "last_attempt_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="last attempt at"),
                ),
                (
                    "next_attempt_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="next attempt at"),
                ),
                (
                    "closed_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="closed at"),
                ),
                ("amount", models.PositiveIntegerField(default=0, verbose_name="amount due")),
                ("currency", models.CharField(blank=True, max_length=3, verbose_name="currency")),
                (
                    "recovered_amount",
                    models.PositiveIntegerField(default=0, verbose_name="amount recovered"),
                ),
            ],
            options={
                "verbose_name": "payment recovery",
                "verbose_name_plural": "payment recoveries",
                "ordering": ["-failed_at"],
                "indexes": [
                    models.Index(fields=["state", "next_attempt_at"], name="paywall_recovery_due")
                ],
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("state", "open")),
                        fields=("membership_id",),
                        name="paywall_one_open_recovery_per_membership",
                    )
                ],
            },
        ),
    ]
