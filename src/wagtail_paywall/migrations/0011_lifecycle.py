# Plan changes and pauses (issue 14): what the manual provider keeps of a subscription's
# pause and of a plan change waiting for its period's end or for its invoice.
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("wagtail_paywall", "0010_coupons")]

    operations = [
        migrations.AddField(
            model_name="manualsubscription",
            name="price_since",
            field=models.DateTimeField(blank=True, null=True, verbose_name="price since"),
        ),
        migrations.AddField(
            model_name="manualsubscription",
            name="paused_until",
            field=models.DateTimeField(blank=True, null=True, verbose_name="paused until"),
        ),
        migrations.AddField(
            model_name="manualsubscription",
            name="pending_price",
            field=models.CharField(blank=True, max_length=255, verbose_name="pending price"),
        ),
        migrations.AddField(
            model_name="manualsubscription",
            name="pending_interval",
            field=models.CharField(blank=True, max_length=16, verbose_name="pending interval"),
        ),
        migrations.AddField(
            model_name="manualsubscription",
            name="pending_amount",
            field=models.PositiveIntegerField(blank=True, null=True, verbose_name="pending amount"),
        ),
        migrations.AddField(
            model_name="manualsubscription",
            name="pending_invoice",
            field=models.CharField(blank=True, max_length=64, verbose_name="pending invoice"),
        ),
    ]
