# Placeholder for issue 17 (services); filled by its part of the work.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("wagtail_paywall", "0025_deliveries")]

    operations: list[migrations.operations.base.Operation] = []
