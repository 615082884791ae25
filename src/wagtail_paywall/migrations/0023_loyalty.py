# Placeholder for issue 17 (loyalty); filled by its part of the work.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("wagtail_paywall", "0022_member_prices")]

    operations: list[migrations.operations.base.Operation] = []
