# Privacy (docs/privacy.md): erasures kept under a pseudonym, and the keyed digests of
# erased members' provider customers, whose later webhooks are ignored.
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("wagtail_paywall", "0020_cancellation")]

    operations: list[migrations.operations.base.Operation] = [
        migrations.CreateModel(
            name="ErasedCustomer",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("digest", models.CharField(max_length=64, unique=True, verbose_name="digest")),
                ("erased_at", models.DateTimeField(auto_now_add=True, verbose_name="erased at")),
            ],
            options={"verbose_name": "erased customer", "verbose_name_plural": "erased customers"},
        ),
        migrations.CreateModel(
            name="Erasure",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "pseudonym",
                    models.CharField(max_length=64, unique=True, verbose_name="pseudonym"),
                ),
                (
                    "member_id",
                    models.CharField(
                        blank=True, db_index=True, max_length=64, verbose_name="member"
                    ),
                ),
                (
                    "source",
                    models.CharField(
                        choices=[
                            ("member", "Asked by the member"),
                            ("staff", "Done by staff"),
                            ("user_deleted", "The user was deleted"),
                            ("command", "Management command"),
                        ],
                        max_length=16,
                        verbose_name="asked by",
                    ),
                ),
                (
                    "state",
                    models.CharField(
                        choices=[
                            ("pending", "Pending: a subscription is still to be canceled"),
                            ("done", "Done"),
                        ],
                        db_index=True,
                        default="pending",
                        max_length=8,
                        verbose_name="state",
                    ),
                ),
                ("requested_at", models.DateTimeField(verbose_name="requested at")),
                (
                    "completed_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="completed at"),
                ),
                (
                    "attempts",
                    models.PositiveIntegerField(default=0, verbose_name="attempts"),
                ),
                ("last_error", models.TextField(blank=True, verbose_name="last error")),
                (
                    "emails",
                    models.JSONField(blank=True, default=list, verbose_name="email addresses"),
                ),
            ],
            options={
                "verbose_name": "erasure",
                "verbose_name_plural": "erasures",
                "ordering": ["-requested_at"],
            },
        ),
    ]
