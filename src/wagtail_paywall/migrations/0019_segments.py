from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("wagtail_paywall", "0018_attribution")]

    operations: list[migrations.operations.base.Operation] = []
