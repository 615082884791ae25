"""Django models implementing the core's storage ports, and the admin-managed catalog.

Member ids are ``str(user.pk)``: the tables keep them as strings so a site may swap its
user model (or bill organisations) without a migration of the paywall's tables.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from membership_sdk import catalog as core_catalog
from membership_sdk import membership as core
from membership_sdk.entitlements import Entitlement

MEMBER_ID_LENGTH = 64


def _split_lines(text: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in text.splitlines() if line.strip())


# -- catalog --------------------------------------------------------------------------------
class Tier(models.Model):
    """A membership level, edited in the Wagtail admin and turned into a core ``Tier``."""

    slug = models.SlugField(_("slug"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=255)
    rank = models.PositiveIntegerField(
        _("rank"), default=0, help_text=_("Higher ranks include the access of lower ones.")
    )
    description = models.TextField(_("description"), blank=True)
    entitlements = models.TextField(
        _("entitlements"),
        blank=True,
        help_text=_("One per line, e.g. 'content.premium' or 'downloads: 10 per month'."),
    )

    class Meta:
        ordering = ["rank", "slug"]
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")

    def __str__(self) -> str:
        return self.name

    def to_core(self) -> core_catalog.Tier:
        return core_catalog.Tier(
            slug=self.slug,
            name=self.name,
            rank=self.rank,
            entitlements=_split_lines(self.entitlements),  # type: ignore[arg-type]
            description=self.description,
        )


class Price(models.Model):
    """What a tier, or a single item, costs; ``key`` is the core's price id."""

    class Interval(models.TextChoices):
        MONTH = "month", _("Monthly")
        YEAR = "year", _("Yearly")
        ONE_OFF = "one_off", _("One-off")

    key = models.SlugField(_("price id"), max_length=64, unique=True)
    tier = models.ForeignKey(
        Tier,
        verbose_name=_("tier"),
        on_delete=models.PROTECT,
        related_name="prices",
        null=True,
        blank=True,
    )
    item = models.CharField(
        _("item"),
        max_length=255,
        blank=True,
        help_text=_("For a one-off purchase of one resource, its key (e.g. 'doc:7')."),
    )
    item_name = models.CharField(_("item name"), max_length=255, blank=True)
    amount = models.PositiveIntegerField(
        _("amount"), help_text=_("In minor units of the currency (cents for EUR).")
    )
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    interval = models.CharField(
        _("interval"), max_length=16, choices=Interval.choices, default=Interval.MONTH
    )
    trial_days = models.PositiveIntegerField(_("trial days"), default=0)
    provider_ids = models.JSONField(
        _("provider ids"),
        default=dict,
        blank=True,
        help_text=_('Each provider\'s id for this price, e.g. {"stripe": "price_123"}.'),
    )
    nickname = models.CharField(_("nickname"), max_length=255, blank=True)
    archived = models.BooleanField(
        _("archived"), default=False, help_text=_("Archived prices are no longer sold.")
    )

    class Meta:
        ordering = ["tier__rank", "amount", "key"]
        verbose_name = _("price")
        verbose_name_plural = _("prices")

    def __str__(self) -> str:
        return self.nickname or self.key

    def to_core(self, tier_slug: str | None) -> core_catalog.Price:
        return core_catalog.Price(
            id=self.key,
            amount=self.amount,
            currency=self.currency,
            interval=core_catalog.Interval(self.interval),
            tier=tier_slug,
            item=self.item or None,
            trial_days=self.trial_days,
            provider_ids=dict(self.provider_ids or {}),
            archived=self.archived,
            nickname=self.nickname,
        )


# -- memberships and grants -----------------------------------------------------------------
class Membership(models.Model):
    """A member's subscription as last reported by its provider (core ``Membership``)."""

    class Status(models.TextChoices):
        INCOMPLETE = "incomplete", _("Incomplete")
        TRIALING = "trialing", _("Trialing")
        ACTIVE = "active", _("Active")
        PAST_DUE = "past_due", _("Past due")
        PAUSED = "paused", _("Paused")
        CANCELED = "canceled", _("Canceled")
        EXPIRED = "expired", _("Expired")
        UNKNOWN = "unknown", _("Unknown")

    id = models.CharField(_("id"), max_length=64, primary_key=True)
    member_id = models.CharField(_("member"), max_length=MEMBER_ID_LENGTH, db_index=True)
    tier = models.CharField(_("tier"), max_length=64)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    provider = models.CharField(_("provider"), max_length=64)
    price_id = models.CharField(_("price id"), max_length=64, blank=True)
    provider_subscription_id = models.CharField(
        _("provider subscription id"), max_length=255, null=True, blank=True
    )
    provider_customer_id = models.CharField(_("provider customer id"), max_length=255, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    current_period_end = models.DateTimeField(_("current period end"), null=True, blank=True)
    trial_end = models.DateTimeField(_("trial end"), null=True, blank=True)
    cancel_at_period_end = models.BooleanField(_("cancel at period end"), default=False)
    canceled_at = models.DateTimeField(_("canceled at"), null=True, blank=True)
    cancel_reason = models.TextField(_("cancel reason"), blank=True)
    # The provider snapshot's version and event id: an older snapshot never overwrites it.
    version_number = models.BigIntegerField(default=0)
    version_event = models.CharField(max_length=255, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_subscription_id"],
                name="paywall_membership_unique_subscription",
            )
        ]

    def __str__(self) -> str:
        return f"{self.tier} ({self.status})"

    def to_core(self) -> core.Membership:
        return core.Membership(
            id=self.id,
            member_id=self.member_id,
            tier=self.tier,
            status=core.Status.parse(self.status),
            provider=self.provider,
            price_id=self.price_id or None,
            provider_subscription_id=self.provider_subscription_id,
            provider_customer_id=self.provider_customer_id or None,
            started_at=self.started_at,
            current_period_end=self.current_period_end,
            trial_end=self.trial_end,
            cancel_at_period_end=self.cancel_at_period_end,
            canceled_at=self.canceled_at,
            cancel_reason=self.cancel_reason,
            version=(self.version_number, self.version_event),
        )

    @classmethod
    def fields_from_core(cls, m: core.Membership) -> dict[str, Any]:
        return {
            "member_id": m.member_id,
            "tier": m.tier,
            "status": m.status.value,
            "provider": m.provider,
            "price_id": m.price_id or "",
            "provider_subscription_id": m.provider_subscription_id,
            "provider_customer_id": m.provider_customer_id or "",
            "started_at": m.started_at,
            "current_period_end": m.current_period_end,
            "trial_end": m.trial_end,
            "cancel_at_period_end": m.cancel_at_period_end,
            "canceled_at": m.canceled_at,
            "cancel_reason": m.cancel_reason,
            "version_number": m.version[0],
            "version_event": m.version[1],
        }


class Grant(models.Model):
    """Access a member holds for a while: comp, gift, trial, purchase or team seat."""

    class Kind(models.TextChoices):
        MEMBERSHIP = "membership", _("Membership")
        TRIAL = "trial", _("Trial")
        COMP = "comp", _("Comp")
        GIFT = "gift", _("Gift")
        PURCHASE = "purchase", _("Purchase")
        TEAM_SEAT = "team_seat", _("Team seat")

    id = models.CharField(_("id"), max_length=64, primary_key=True)
    member_id = models.CharField(_("member"), max_length=MEMBER_ID_LENGTH, db_index=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"), null=True, blank=True)
    tier = models.CharField(_("tier"), max_length=64, blank=True)
    entitlements = models.TextField(_("entitlements"), blank=True)
    item = models.CharField(_("item"), max_length=255, blank=True)
    source = models.CharField(_("source"), max_length=255, blank=True, db_index=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-starts_at"]
        verbose_name = _("grant")
        verbose_name_plural = _("grants")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.tier or self.item}".strip()

    def to_core(self) -> core.Grant:
        return core.Grant(
            id=self.id,
            member_id=self.member_id,
            kind=core.GrantKind(self.kind),
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            tier=self.tier or None,
            entitlements=tuple(Entitlement.parse(e) for e in _split_lines(self.entitlements)),
            item=self.item or None,
            source=self.source,
            revoked_at=self.revoked_at,
            note=self.note,
        )

    @classmethod
    def fields_from_core(cls, g: core.Grant) -> dict[str, Any]:
        return {
            "member_id": g.member_id,
            "kind": g.kind.value,
            "starts_at": g.starts_at,
            "ends_at": g.ends_at,
            "tier": g.tier or "",
            "entitlements": "\n".join(str(e) for e in g.entitlements),
            "item": g.item or "",
            "source": g.source,
            "revoked_at": g.revoked_at,
            "note": g.note,
        }


class CustomerLink(models.Model):
    """Which member a provider's customer is."""

    provider = models.CharField(_("provider"), max_length=64)
    customer_id = models.CharField(_("customer id"), max_length=255)
    member_id = models.CharField(_("member"), max_length=MEMBER_ID_LENGTH)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("customer link")
        verbose_name_plural = _("customer links")
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "customer_id"], name="paywall_customer_unique"
            )
        ]
        indexes = [models.Index(fields=["provider", "member_id"], name="paywall_customer_member")]

    def __str__(self) -> str:
        return f"{self.provider}:{self.customer_id}"


class MeterUsage(models.Model):
    """One metered or quota-counted use of a resource by a member.

    A resource counts once per member, meter and day (``day`` is the unique bucket), so
    re-reading an article never uses up the meter; windows of any length are evaluated
    by the core from ``used_at``.
    """

    member_id = models.CharField(_("member"), max_length=MEMBER_ID_LENGTH)
    meter = models.CharField(_("meter"), max_length=128)
    resource_key = models.CharField(_("resource"), max_length=255)
    day = models.DateField(_("day"))
    used_at = models.DateTimeField(_("used at"))

    class Meta:
        verbose_name = _("meter usage")
        verbose_name_plural = _("meter usage")
        constraints = [
            models.UniqueConstraint(
                fields=["member_id", "meter", "resource_key", "day"],
                name="paywall_meter_once_per_day",
            )
        ]
        indexes = [models.Index(fields=["member_id", "used_at"], name="paywall_meter_member")]

    def __str__(self) -> str:
        return f"{self.meter}: {self.resource_key}"


# -- webhook inbox --------------------------------------------------------------------------
class WebhookEvent(models.Model):
    """A verified provider webhook, stored before it is applied, so none is ever lost."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        PROCESSED = "processed", _("Processed")
        FAILED = "failed", _("Failed")
        IGNORED = "ignored", _("Ignored")
        # Failed INBOX_MAX_ATTEMPTS times: no worker retries it; the admin's "Retry" can.
        DEAD = "dead", _("Dead")

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


# The member journey's models (cancellation survey, trial reminders) live in their own module.
from .feed_models import *  # noqa: E402,F403  (members' private feed URLs)
from .journey_models import *  # noqa: E402,F403
