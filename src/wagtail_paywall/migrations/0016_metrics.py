from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("wagtail_paywall", "0015_staff")]

    operations: list[migrations.operations.base.Operation] = []
