# Placeholder for issue 17 (deliveries); filled by its part of the work.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("wagtail_paywall", "0024_referrals")]

    operations: list[migrations.operations.base.Operation] = []
