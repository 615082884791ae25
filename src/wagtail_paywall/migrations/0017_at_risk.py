import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("wagtail_paywall", "0016_metrics")]

    operations: list[migrations.operations.base.Operation] = [
        migrations.CreateModel(
            name="ReadingActivity",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("member_id", models.CharField(max_length=64, verbose_name="member")),
                ("day", models.DateField(verbose_name="day")),
                ("reads", models.PositiveIntegerField(default=1, verbose_name="reads")),
            ],
            options={
                "verbose_name": "reading activity",
                "verbose_name_plural": "reading activity",
                "indexes": [models.Index(fields=["day"], name="paywall_activity_by_day")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("member_id", "day"), name="paywall_activity_day"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="AtRisk",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("member_id", models.CharField(max_length=64, verbose_name="member")),
                (
                    "reason",
                    models.CharField(
                        choices=[
                            ("sleeper", "Paying, not reading"),
                            ("payment_failed", "Payment failed"),
                            ("canceling", "Cancels at period end"),
                            ("quiet_trial", "Trial with little reading"),
                            ("downgrade", "Downgraded"),
                            ("below_cohort", "Reads far below their cohort"),
                        ],
                        max_length=16,
                        verbose_name="reason",
                    ),
                ),
                ("detected_at", models.DateTimeField(verbose_name="detected at")),
                (
                    "resolved_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="resolved at"),
                ),
                (
                    "outcome",
                    models.CharField(
                        choices=[("open", "Open"), ("saved", "Saved"), ("churned", "Churned")],
                        default="open",
                        max_length=8,
                        verbose_name="outcome",
                    ),
                ),
                (
                    "notified_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="notified at"),
                ),
                (
                    "membership",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="at_risk_marks",
                        to="wagtail_paywall.membership",
                        verbose_name="membership",
                    ),
                ),
            ],
            options={
                "verbose_name": "member at risk",
                "verbose_name_plural": "members at risk",
                "ordering": ["-detected_at", "pk"],
                "indexes": [
                    models.Index(fields=["outcome", "reason"], name="paywall_at_risk_outcome"),
                    models.Index(fields=["member_id"], name="paywall_at_risk_member"),
                ],
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("outcome", "open")),
                        fields=("membership", "reason"),
                        name="paywall_at_risk_open_once",
                    )
                ],
            },
        ),
    ]
