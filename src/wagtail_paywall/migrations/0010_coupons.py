# Coupons and intro offers (issue 14): the Coupon model and its redemptions, intro offer
# fields on Price, and the discount the manual provider keeps on its invoices and
# subscriptions.
import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("wagtail_paywall", "0009_membership_offers")]

    operations = [
        migrations.AddField(
            model_name="manualinvoice",
            name="coupon",
            field=models.CharField(blank=True, max_length=64, verbose_name="coupon"),
        ),
        migrations.AddField(
            model_name="manualinvoice",
            name="discount_periods",
            field=models.PositiveIntegerField(
                blank=True, null=True, verbose_name="discount periods"
            ),
        ),
        migrations.AddField(
            model_name="manualinvoice",
            name="list_amount",
            field=models.PositiveIntegerField(blank=True, null=True, verbose_name="list amount"),
        ),
        migrations.AddField(
            model_name="manualsubscription",
            name="amount",
            field=models.PositiveIntegerField(
                blank=True, null=True, verbose_name="discounted amount"
            ),
        ),
        migrations.AddField(
            model_name="manualsubscription",
            name="coupon",
            field=models.CharField(blank=True, max_length=64, verbose_name="coupon"),
        ),
        migrations.AddField(
            model_name="manualsubscription",
            name="discount_ends_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="discount ends at"),
        ),
        migrations.AddField(
            model_name="manualsubscription",
            name="list_amount",
            field=models.PositiveIntegerField(blank=True, null=True, verbose_name="list amount"),
        ),
        migrations.AddField(
            model_name="price",
            name="intro_amount",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="An intro offer: what each of the first periods costs (minor units).",
                null=True,
                verbose_name="intro amount",
            ),
        ),
        migrations.AddField(
            model_name="price",
            name="intro_periods",
            field=models.PositiveIntegerField(
                blank=True,
                default=0,
                help_text="How many periods the intro amount lasts.",
                verbose_name="intro periods",
            ),
        ),
        migrations.CreateModel(
            name="Coupon",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "code",
                    models.CharField(
                        help_text="What members type, e.g. SPRING25 (any case; no spaces).",
                        max_length=64,
                        unique=True,
                        verbose_name="code",
                    ),
                ),
                ("name", models.CharField(blank=True, max_length=255, verbose_name="name")),
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
                        verbose_name="duration",
                    ),
                ),
                (
                    "months",
                    models.PositiveIntegerField(
                        blank=True,
                        help_text="For a discount lasting some months.",
                        null=True,
                        verbose_name="months",
                    ),
                ),
                (
                    "max_redemptions",
                    models.PositiveIntegerField(
                        blank=True, null=True, verbose_name="maximum redemptions"
                    ),
                ),
                (
                    "expires_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="expires at"),
                ),
                (
                    "first_time_only",
                    models.BooleanField(default=False, verbose_name="first-time members only"),
                ),
                (
                    "provider_ids",
                    models.JSONField(
                        blank=True,
                        default=dict,
                        help_text='Each provider\'s id for it, e.g. {"stripe": "promo_123"}.',
                        verbose_name="provider ids",
                    ),
                ),
                (
                    "prices",
                    models.ManyToManyField(
                        blank=True,
                        help_text="Only for these prices (none: any).",
                        related_name="coupons",
                        to="wagtail_paywall.price",
                        verbose_name="prices",
                    ),
                ),
                (
                    "tiers",
                    models.ManyToManyField(
                        blank=True,
                        help_text="Only for these tiers (none: any).",
                        related_name="coupons",
                        to="wagtail_paywall.tier",
                        verbose_name="tiers",
                    ),
                ),
            ],
            options={
                "verbose_name": "coupon",
                "verbose_name_plural": "coupons",
                "ordering": ["code"],
                "constraints": [
                    models.UniqueConstraint(
                        django.db.models.functions.text.Lower("code"),
                        name="paywall_coupon_code_any_case",
                        violation_error_message="A coupon with this code (in any case) exists.",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="CouponRedemption",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("code", models.CharField(db_index=True, max_length=64, verbose_name="code")),
                ("member_id", models.CharField(max_length=64, verbose_name="member")),
                (
                    "held_until",
                    models.DateTimeField(blank=True, null=True, verbose_name="held until"),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="created at")),
            ],
            options={
                "verbose_name": "coupon redemption",
                "verbose_name_plural": "coupon redemptions",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("code", "member_id"), name="paywall_coupon_redemption_member"
                    )
                ],
            },
        ),
    ]
