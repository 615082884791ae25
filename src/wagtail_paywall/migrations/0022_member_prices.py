# Member prices of one-off items (docs/member-prices.md).
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("wagtail_paywall", "0021_privacy")]

    operations: list[migrations.operations.base.Operation] = [
        migrations.AddField(
            model_name="price",
            name="member_amounts",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text=(
                    "For a one-off item: what members pay instead, by tier slug, in minor "
                    'units, e.g. {"basic": 500}. Members of that tier or a higher-ranked one '
                    "pay it."
                ),
                verbose_name="member prices",
            ),
        ),
    ]
