"""The webhook inbox's rows: :class:`WebhookEvent`, a verified provider webhook stored
before it is applied (see :mod:`wagtail_paywall.billing.inbox` and ``docs/reliability.md``).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class WebhookEvent(models.Model):
    """A verified provider webhook, stored before it is applied, so none is ever lost."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        PROCESSED = "processed", _("Processed")
        FAILED = "failed", _("Failed")
        IGNORED = "ignored", _("Ignored")
        # Failed INBOX_MAX_ATTEMPTS times: no worker retries it; the admin's "Retry" can.
        DEAD = "dead", _("Dead")
        # A different body under an event id already stored: kept for inspection, never
        # applied (its event_id is "conflict:<body digest>:<the event id>").
        CONFLICT = "conflict", _("Conflict")

    provider = models.CharField(_("provider"), max_length=64)
    event_id = models.CharField(_("event id"), max_length=255)
    event_type = models.CharField(_("event type"), max_length=64, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.RECEIVED
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    detail = models.TextField(_("detail"), blank=True)
    headers = models.JSONField(_("headers"), default=dict, blank=True)
    body = models.BinaryField(_("raw body"), default=b"")
    # The canonical events the verified body translated to, so a retry needs no
    # re-verification (a provider's signature may have expired by then).
    events = models.JSONField(_("events"), default=list, blank=True)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    # When a failed row is due again (exponential backoff); null: due now.
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "event_id"], name="paywall_webhook_unique_event"
            )
        ]
        indexes = [models.Index(fields=["status", "received_at"], name="paywall_webhook_status")]

    def __str__(self) -> str:
        return f"{self.provider}:{self.event_id}"

    @property
    def body_text(self) -> str:
        return bytes(self.body).decode("utf-8", errors="replace")
