# Placeholder in the chain; its owner replaces the operations.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("wagtail_paywall", "0009_membership_offers")]

    operations: list[migrations.operations.base.Operation] = []
