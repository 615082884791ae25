from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("wagtail_paywall", "0016_metrics")]

    operations: list[migrations.operations.base.Operation] = []
