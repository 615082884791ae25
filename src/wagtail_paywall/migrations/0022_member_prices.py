# Placeholder for issue 17 (member_prices); filled by its part of the work.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("wagtail_paywall", "0021_privacy")]

    operations: list[migrations.operations.base.Operation] = []
