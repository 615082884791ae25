from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("wagtail_paywall", "0019_segments")]

    operations = [
        migrations.CreateModel(
            name="CancellationDeclaration",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("received_at", models.DateTimeField(db_index=True, verbose_name="received at")),
                ("name", models.CharField(max_length=200, verbose_name="name")),
                (
                    "email",
                    models.EmailField(db_index=True, max_length=254, verbose_name="email address"),
                ),
                (
                    "member_number",
                    models.CharField(blank=True, max_length=64, verbose_name="member number"),
                ),
                ("contract", models.CharField(blank=True, max_length=64, verbose_name="contract")),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("ordinary", "Ordinary cancellation"),
                            ("extraordinary", "Extraordinary cancellation (for cause)"),
                            ("withdrawal", "Withdrawal from the contract"),
                        ],
                        max_length=16,
                        verbose_name="kind",
                    ),
                ),
                ("reason", models.TextField(blank=True, verbose_name="reason given")),
                (
                    "wished_date",
                    models.DateField(blank=True, null=True, verbose_name="wished end date"),
                ),
                (
                    "via_account",
                    models.BooleanField(default=False, verbose_name="declared while signed in"),
                ),
                (
                    "member_id",
                    models.CharField(
                        blank=True, db_index=True, max_length=64, verbose_name="member"
                    ),
                ),
                (
                    "outcome",
                    models.CharField(
                        choices=[
                            ("applied", "applied"),
                            ("pending", "waiting for the wished date"),
                            ("no_match", "no matching contract"),
                            ("failed", "failed: for the staff"),
                        ],
                        max_length=16,
                        verbose_name="outcome",
                    ),
                ),
                (
                    "memberships",
                    models.JSONField(blank=True, default=list, verbose_name="memberships"),
                ),
            ],
            options={
                "verbose_name": "cancellation declaration",
                "verbose_name_plural": "cancellation declarations",
                "ordering": ["-received_at"],
            },
        ),
    ]
