# Referrals (issue 17): members' referral codes, friends' claims, and referrals.
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("wagtail_paywall", "0023_loyalty")]

    operations: list[migrations.operations.base.Operation] = [
        migrations.CreateModel(
            name="ReferralClaim",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "friend_id",
                    models.CharField(max_length=64, unique=True, verbose_name="friend"),
                ),
                ("code", models.CharField(max_length=32, verbose_name="code")),
                ("claimed_at", models.DateTimeField(verbose_name="claimed at")),
            ],
            options={
                "verbose_name": "referral claim",
                "verbose_name_plural": "referral claims",
            },
        ),
        migrations.CreateModel(
            name="ReferralCode",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "member_id",
                    models.CharField(max_length=64, unique=True, verbose_name="member"),
                ),
                ("code", models.CharField(max_length=32, unique=True, verbose_name="code")),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="created at")),
            ],
            options={
                "verbose_name": "referral code",
                "verbose_name_plural": "referral codes",
            },
        ),
        migrations.CreateModel(
            name="Referral",
            fields=[
                (
                    "id",
                    models.CharField(
                        max_length=32, primary_key=True, serialize=False, verbose_name="id"
                    ),
                ),
                ("code", models.CharField(max_length=32, verbose_name="code")),
                (
                    "referrer_id",
                    models.CharField(db_index=True, max_length=64, verbose_name="referrer"),
                ),
                (
                    "friend_id",
                    models.CharField(max_length=64, unique=True, verbose_name="friend"),
                ),
                (
                    "membership_id",
                    models.CharField(max_length=64, verbose_name="friend's membership"),
                ),
                ("created_at", models.DateTimeField(db_index=True, verbose_name="joined at")),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending", "Pending"),
                            ("qualified", "Qualified"),
                            ("rewarded", "Rewarded"),
                            ("rejected", "Rejected"),
                        ],
                        default="pending",
                        max_length=16,
                        verbose_name="status",
                    ),
                ),
                (
                    "reason",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("self_referral", "Self-referral"),
                            ("already_member", "Already a member"),
                            ("cap_reached", "Monthly cap reached"),
                            ("refunded", "Refunded or withdrawn"),
                            ("never_paid", "Never paid"),
                            ("canceled_in_window", "Canceled in the window"),
                        ],
                        max_length=32,
                        verbose_name="reason",
                    ),
                ),
                (
                    "decided_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="decided at"),
                ),
                (
                    "reward_month",
                    models.DateField(blank=True, null=True, verbose_name="reward month"),
                ),
                (
                    "held_until",
                    models.DateTimeField(blank=True, null=True, verbose_name="held until"),
                ),
                (
                    "rewarded_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="rewarded at"),
                ),
                (
                    "reward_membership_id",
                    models.CharField(blank=True, max_length=64, verbose_name="rewarded membership"),
                ),
            ],
            options={
                "verbose_name": "referral",
                "verbose_name_plural": "referrals",
                "ordering": ["-created_at", "-id"],
                "indexes": [
                    models.Index(fields=["status", "created_at"], name="paywall_referral_status"),
                    models.Index(
                        fields=["referrer_id", "reward_month"], name="paywall_referral_cap"
                    ),
                ],
            },
        ),
    ]
