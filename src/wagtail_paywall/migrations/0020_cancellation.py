from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("wagtail_paywall", "0019_segments")]

    operations: list[migrations.operations.base.Operation] = []
