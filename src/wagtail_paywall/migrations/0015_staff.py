# Staff actions: a bank-transfer invoice the staff paid back is "refunded".
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("wagtail_paywall", "0014_retention")]

    operations: list[migrations.operations.base.Operation] = [
        migrations.AlterField(
            model_name="manualinvoice",
            name="state",
            field=models.CharField(
                choices=[
                    ("open", "Open"),
                    ("paid", "Paid"),
                    ("void", "Void"),
                    ("refunded", "Refunded"),
                ],
                default="open",
                max_length=8,
                verbose_name="state",
            ),
        ),
    ]
