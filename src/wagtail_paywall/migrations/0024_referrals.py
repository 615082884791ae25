# Placeholder for issue 17 (referrals); filled by its part of the work.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("wagtail_paywall", "0023_loyalty")]

    operations: list[migrations.operations.base.Operation] = []
