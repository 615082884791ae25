# Loyalty (issue 17): rewards for paid months, the awards members received, and personal
# coupon codes (Coupon.member_id).
import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("wagtail_paywall", "0022_member_prices")]

    operations = [
        migrations.CreateModel(
            name="LoyaltyReward",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "key",
                    models.SlugField(
                        help_text="Names the reward for good (members' awards refer to it), "
                        "e.g. year-one.",
                        max_length=64,
                        unique=True,
                        verbose_name="key",
                    ),
                ),
                (
                    "name",
                    models.CharField(
                        help_text="What members see, e.g. “A year at a fifth off”.",
                        max_length=255,
                        verbose_name="name",
                    ),
                ),
                (
                    "after_months",
                    models.PositiveIntegerField(
                        help_text="Given once the member has paid this many months "
                        "(trials not counted).",
                        validators=[django.core.validators.MinValueValidator(1)],
                        verbose_name="after paid months",
                    ),
                ),
                (
                    "entitlement",
                    models.CharField(
                        blank=True,
                        help_text="An entitlement to grant, e.g. downloads.archive "
                        "(or a coupon below).",
                        max_length=255,
                        verbose_name="entitlement",
                    ),
                ),
                (
                    "days",
                    models.PositiveIntegerField(
                        blank=True,
                        help_text="How long the entitlement lasts (empty: for good).",
                        null=True,
                        verbose_name="for days",
                    ),
                ),
                (
                    "coupon_prefix",
                    models.CharField(
                        blank=True,
                        help_text="For a coupon: each member gets PREFIX-XXXXXXXX, "
                        "for their use only.",
                        max_length=32,
                        verbose_name="coupon code prefix",
                    ),
                ),
                (
                    "percent_off",
                    models.PositiveIntegerField(blank=True, null=True, verbose_name="percent off"),
                ),
                (
                    "amount_off",
                    models.PositiveIntegerField(
                        blank=True,
                        help_text="In minor units of the currency (cents for EUR).",
                        null=True,
                        verbose_name="amount off",
                    ),
                ),
                ("currency", models.CharField(blank=True, max_length=3, verbose_name="currency")),
                (
                    "duration",
                    models.CharField(
                        choices=[
                            ("once", "The first period"),
                            ("repeating", "A number of months"),
                            ("forever", "For ever"),
                        ],
                        default="once",
                        max_length=16,
                        verbose_name="discount lasts",
                    ),
                ),
                (
                    "months",
                    models.PositiveIntegerField(
                        blank=True,
                        help_text="For a repeating discount.",
                        null=True,
                        verbose_name="discount months",
                    ),
                ),
                (
                    "active",
                    models.BooleanField(
                        default=True,
                        help_text="Inactive rewards are no longer given.",
                        verbose_name="active",
                    ),
                ),
            ],
            options={
                "verbose_name": "loyalty reward",
                "verbose_name_plural": "loyalty rewards",
                "ordering": ["after_months", "key"],
            },
        ),
        migrations.CreateModel(
            name="LoyaltyAward",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "member_id",
                    models.CharField(db_index=True, max_length=64, verbose_name="member"),
                ),
                ("reward", models.CharField(max_length=64, verbose_name="reward")),
                ("awarded_at", models.DateTimeField(verbose_name="awarded at")),
                (
                    "paid_months",
                    models.PositiveIntegerField(default=0, verbose_name="paid months then"),
                ),
                ("grant_id", models.CharField(blank=True, max_length=64, verbose_name="grant")),
                (
                    "coupon_code",
                    models.CharField(blank=True, max_length=64, verbose_name="coupon code"),
                ),
                ("ends_at", models.DateTimeField(blank=True, null=True, verbose_name="ends at")),
            ],
            options={
                "verbose_name": "loyalty award",
                "verbose_name_plural": "loyalty awards",
                "ordering": ["awarded_at", "id"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("member_id", "reward"), name="paywall_loyalty_award_once"
                    )
                ],
            },
        ),
        migrations.AddField(
            model_name="coupon",
            name="member_id",
            field=models.CharField(blank=True, default="", max_length=64, verbose_name="member"),
        ),
    ]
