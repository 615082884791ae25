from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("wagtail_paywall", "0020_cancellation")]

    operations: list[migrations.operations.base.Operation] = []
