from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("wagtail_paywall", "0022_imports")]

    operations: list[migrations.operations.base.Operation] = []
