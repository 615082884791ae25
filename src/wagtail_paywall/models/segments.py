"""The Members screen's segments: :class:`MemberCountry`, the billing country each member
last gave (on a provider's checkout page, or the site's checkout form), so members can be
filtered and exported by country; and :class:`SavedSegment`, a segment kept under a name.

See ``docs/publisher-guide.md`` (Segments).
"""

from __future__ import annotations

import re
from datetime import datetime

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from membership_sdk import BillingEvent

from .fields import member_id_field
from .members import CustomerLink

_COUNTRY = re.compile(r"[A-Z]{2}")


def country_code(value: object) -> str | None:
    """``value`` as an ISO 3166-1 alpha-2 code (``"de"`` → ``"DE"``), or ``None`` when it
    is not two letters (a provider's blank, ``null`` or free text)."""
    if not isinstance(value, str):
        return None
    code = value.strip().upper()
    return code if _COUNTRY.fullmatch(code) else None


class MemberCountry(models.Model):
    """A member's billing country, as last reported (one row per member)."""

    member_id = member_id_field(primary_key=True)
    country = models.CharField(_("billing country"), max_length=2)
    # Who reported it: a provider's name ("stripe", "fake", "manual").
    source = models.CharField(_("reported by"), max_length=64, blank=True)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("member country")
        verbose_name_plural = _("member countries")
        indexes = [
            models.Index(fields=["country", "member_id"], name="paywall_country_member"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.country}"

    @classmethod
    def record(
        cls, member_id: str, country: object, source: str, *, at: datetime | None = None
    ) -> str | None:
        """Keep ``country`` as ``member_id``'s billing country, as reported ``at`` (default:
        now); returns the code kept, or ``None`` when nothing changed: ``country`` is not an
        ISO 3166-1 alpha-2 code, or a newer report is already kept (a late webhook)."""
        code = country_code(country)
        if code is None or not member_id:
            return None
        at = at or timezone.now()
        kept = cls.objects.filter(member_id=member_id).first()
        if kept is not None and kept.updated_at > at:
            return None
        cls.objects.update_or_create(
            member_id=member_id, defaults={"country": code, "source": source, "updated_at": at}
        )
        return code

    @classmethod
    def record_event(cls, event: BillingEvent) -> str | None:
        """Keep the billing country an applied provider event reported (a completed
        checkout), for its member, or the member its customer is linked to."""
        if not event.country:
            return None
        member_id = event.member_id or (
            CustomerLink.objects.filter(provider=event.provider, customer_id=event.customer_id)
            .values_list("member_id", flat=True)
            .first()
        )
        if not member_id:
            return None
        return cls.record(member_id, event.country, event.provider, at=event.occurred_at)


class SavedSegment(models.Model):
    """A segment of the Members screen kept under a name: its filters as a query string
    (``tier=premium&country=DE``), re-checked whenever it is opened."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    query = models.CharField(_("filters"), max_length=2000)
    created_by = models.CharField(_("saved by"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("saved at"), default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("saved segment")
        verbose_name_plural = _("saved segments")

    def __str__(self) -> str:
        return self.name
