"""Keep only the SHA-256 digest of each feed token, never the token itself.

Forward, every existing token is hashed, so every address members hold keeps working.

Backward, the tokens cannot be recovered from their digests: each row gets a fresh
random token and is revoked. No old address opens a feed after going back; members get
a new one on their account page. (Going back is possible, so a deploy can be rolled
back; it is lossy on purpose rather than irreversible.)
"""

import hashlib
import secrets

from django.db import migrations, models
from django.utils import timezone

import wagtail_paywall.feed_models

BATCH = 500


def hash_tokens(apps, schema_editor):
    """Store each row's token digest (SHA-256 hex), as ``feed_models.token_digest`` does."""
    FeedToken = apps.get_model("wagtail_paywall", "FeedToken")
    rows = FeedToken.objects.using(schema_editor.connection.alias).only("pk", "token")
    batch = []
    for row in rows.iterator(chunk_size=BATCH):
        # Spelt out rather than imported, so this migration means the same forever.
        row.token_digest = hashlib.sha256(row.token.encode()).hexdigest()
        batch.append(row)
        if len(batch) >= BATCH:
            FeedToken.objects.bulk_update(batch, ["token_digest"])
            batch = []
    FeedToken.objects.bulk_update(batch, ["token_digest"])


def revoke_with_new_tokens(apps, schema_editor):
    """Give each row a new token nobody holds, and revoke it (see the module docstring)."""
    FeedToken = apps.get_model("wagtail_paywall", "FeedToken")
    now = timezone.now()
    batch = []
    for row in FeedToken.objects.using(schema_editor.connection.alias).iterator(chunk_size=BATCH):
        row.token = secrets.token_urlsafe(32)
        row.revoked_at = row.revoked_at or now
        batch.append(row)
        if len(batch) >= BATCH:
            FeedToken.objects.bulk_update(batch, ["token", "revoked_at"])
            batch = []
    FeedToken.objects.bulk_update(batch, ["token", "revoked_at"])


class Migration(migrations.Migration):
    dependencies = [
        ("wagtail_paywall", "0004_feed_tokens"),
    ]

    operations = [
        migrations.AddField(
            model_name="feedtoken",
            name="token_digest",
            field=models.CharField(max_length=64, null=True),
        ),
        # Nullable and no longer unique first, so that going back can add the column
        # empty and fill it row by row before it is made unique again.
        migrations.AlterField(
            model_name="feedtoken",
            name="token",
            field=models.CharField(max_length=64, null=True, verbose_name="token"),
        ),
        migrations.RunPython(hash_tokens, revoke_with_new_tokens, elidable=False),
        migrations.RemoveField(
            model_name="feedtoken",
            name="token",
        ),
        migrations.AlterField(
            model_name="feedtoken",
            name="token_digest",
            field=models.CharField(
                default=wagtail_paywall.feed_models.unheld_digest,
                editable=False,
                max_length=64,
                unique=True,
                verbose_name="token digest",
            ),
        ),
    ]
