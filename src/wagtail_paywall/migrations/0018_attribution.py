from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("wagtail_paywall", "0017_at_risk")]

    operations: list[migrations.operations.base.Operation] = []
