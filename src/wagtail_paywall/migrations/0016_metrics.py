from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("wagtail_paywall", "0015_staff")]

    operations = [
        migrations.CreateModel(
            name="LedgerEntry",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("membership_id", models.CharField(max_length=64, verbose_name="membership")),
                ("seq", models.PositiveIntegerField(verbose_name="sequence")),
                (
                    "member_id",
                    models.CharField(db_index=True, max_length=64, verbose_name="member"),
                ),
                ("at", models.DateTimeField(verbose_name="at")),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("new", "New"),
                            ("expansion", "Expansion"),
                            ("contraction", "Contraction"),
                            ("churned", "Churned"),
                            ("reactivated", "Reactivated"),
                            ("changed", "Status change"),
                        ],
                        max_length=16,
                        verbose_name="kind",
                    ),
                ),
                ("tier", models.CharField(blank=True, max_length=64, verbose_name="tier")),
                ("currency", models.CharField(blank=True, max_length=3, verbose_name="currency")),
                (
                    "status_before",
                    models.CharField(blank=True, max_length=16, verbose_name="status before"),
                ),
                ("status_after", models.CharField(max_length=16, verbose_name="status after")),
                (
                    "state_before",
                    models.CharField(
                        choices=[
                            ("paid", "Paid"),
                            ("trialing", "Trialing"),
                            ("unpaid", "Paying nothing"),
                            ("none", "Not a member"),
                        ],
                        max_length=8,
                        verbose_name="state before",
                    ),
                ),
                (
                    "state_after",
                    models.CharField(
                        choices=[
                            ("paid", "Paid"),
                            ("trialing", "Trialing"),
                            ("unpaid", "Paying nothing"),
                            ("none", "Not a member"),
                        ],
                        max_length=8,
                        verbose_name="state after",
                    ),
                ),
                ("mrr_before", models.BigIntegerField(default=0, verbose_name="MRR before")),
                ("mrr_after", models.BigIntegerField(default=0, verbose_name="MRR after")),
                ("cohort", models.DateField(blank=True, null=True, verbose_name="cohort")),
                ("cancel_reason", models.TextField(blank=True, verbose_name="cancel reason")),
                ("month", models.DateField(verbose_name="month")),
                ("paid", models.SmallIntegerField(default=0, verbose_name="paid change")),
                (
                    "trialing",
                    models.SmallIntegerField(default=0, verbose_name="trialing change"),
                ),
                (
                    "unpaid",
                    models.SmallIntegerField(default=0, verbose_name="paying-nothing change"),
                ),
            ],
            options={
                "verbose_name": "ledger entry",
                "verbose_name_plural": "ledger entries",
                "ordering": ["at", "id"],
                "indexes": [models.Index(fields=["kind", "at"], name="paywall_ledger_kind_at")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("membership_id", "seq"), name="paywall_ledger_unique_seq"
                    )
                ],
            },
        ),
    ]
