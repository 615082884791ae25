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

import wagtail_paywall.models.feeds

BATCH = 500


def _rewrite_rows(apps, schema_editor, fields, change):
    """Apply ``change`` to every feed token row and save ``fields``, ``BATCH`` rows at a
    time, all on the database being migrated."""
    FeedToken = apps.get_model("wagtail_paywall", "FeedToken")
    rows = FeedToken.objects.using(schema_editor.connection.alias)
    batch = []
    for row in rows.iterator(chunk_size=BATCH):
        change(row)
        batch.append(row)
        if len(batch) >= BATCH:
            rows.bulk_update(batch, fields)
            batch = []
    rows.bulk_update(batch, fields)


def hash_tokens(apps, schema_editor):
    """Store each row's token digest (SHA-256 hex), as ``feed_models.token_digest`` does."""

    def digest(row):
        # Spelt out rather than imported, so this migration means the same forever.
        row.token_digest = hashlib.sha256(row.token.encode()).hexdigest()

    _rewrite_rows(apps, schema_editor, ["token_digest"], digest)


def revoke_with_new_tokens(apps, schema_editor):
    """Give each row a new token nobody holds, and revoke it (see the module docstring)."""
    now = timezone.now()

    def revoke(row):
        row.token = secrets.token_urlsafe(32)
        row.revoked_at = row.revoked_at or now

    _rewrite_rows(apps, schema_editor, ["token", "revoked_at"], revoke)


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
                default=wagtail_paywall.models.feeds.unheld_digest,
                editable=False,
                max_length=64,
                unique=True,
                verbose_name="token digest",
            ),
        ),
    ]
