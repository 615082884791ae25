# Placeholder for issue 17 (usage); filled by its part of the work.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("wagtail_paywall", "0026_services")]

    operations: list[migrations.operations.base.Operation] = []
