"""A/B tests of the paywall: a test, its variants and who was shown which.

An editor sets a test up in the Wagtail admin (Paywall → A/B tests): each
:class:`PaywallVariant` may change the paywall's heading and text, the offers it shows,
which price comes first and the meter's size; a blank field keeps the site's default.
While a test runs, every visitor keeps one variant (:mod:`wagtail_paywall.experiments`);
an :class:`PaywallExposure` row is written once per visitor and test, the first time the
paywall is shown to them. Ending a test with a winner keeps the winner's settings for
everyone. See ``docs/experiments.md``.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalKey
from modelcluster.models import ClusterableModel
from wagtail.admin.panels import FieldPanel, InlinePanel
from wagtail.models import Orderable

from ..caching import cache

#: Where :func:`wagtail_paywall.experiments.reload` keeps the tests' set-up, per catalog
#: generation token.
SETUP_KEY = "paywall:ab:setup:{gen}"
#: :data:`wagtail_paywall.program.CATALOG_GEN_KEY` (this module sits below the program):
#: the tests' set-up is reloaded, in every process, with the catalog.
CATALOG_GEN_KEY = "paywall:catalog:gen"


def setup_changed() -> None:
    """Make every process reload the tests' set-up (with the catalog): now, and once the
    change commits (a process reloading in between must not keep what it read before)."""

    def bump() -> None:
        cache().set(CATALOG_GEN_KEY, uuid.uuid4().hex, None)

    bump()
    transaction.on_commit(bump)


class _ChangesSetup(models.Model):
    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        setup_changed()

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        result = super().delete(*args, **kwargs)
        setup_changed()
        return result


class PaywallTest(_ChangesSetup, ClusterableModel):
    """An A/B test of the paywall; its first variant is the control."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        RUNNING = "running", _("Running")
        ENDED = "ended", _("Ended")

    name = models.CharField(_("name"), max_length=120)
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=Status.choices,
        default=Status.DRAFT,
        help_text=_("Only one test runs at a time; ending one is done from its report."),
    )
    meter = models.SlugField(
        _("meter"),
        max_length=64,
        default="articles",
        help_text=_("The meter whose free reads a variant's meter size replaces."),
    )
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    winner = models.ForeignKey(
        "PaywallVariant",
        verbose_name=_("winner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    panels = [
        FieldPanel("name"),
        FieldPanel("status"),
        FieldPanel("meter"),
        InlinePanel("variants", label=_("Variants"), min_num=2),
    ]

    class Meta:
        verbose_name = _("paywall A/B test")
        verbose_name_plural = _("paywall A/B tests")
        ordering = ("-id",)

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.status == self.Status.RUNNING and self.started_at is None:
            self.started_at = timezone.now()
        super().save(*args, **kwargs)

    def clean(self) -> None:
        super().clean()
        if self.status == self.Status.RUNNING:
            others = PaywallTest.objects.filter(status=self.Status.RUNNING).exclude(pk=self.pk)
            running = others.first()
            if running is not None:
                raise ValidationError(
                    {
                        "status": _("“%(name)s” is running: end it before starting another.")
                        % {"name": running.name}
                    }
                )


class PaywallVariant(_ChangesSetup, Orderable):
    """One arm of a :class:`PaywallTest`. Blank fields keep the site's default."""

    test = ParentalKey(PaywallTest, on_delete=models.CASCADE, related_name="variants")
    name = models.CharField(_("name"), max_length=80)
    weight = models.PositiveSmallIntegerField(
        _("weight"), default=1, help_text=_("Visitors are split in proportion to weights.")
    )
    heading = models.CharField(_("heading"), max_length=200, blank=True)
    body = models.TextField(_("text"), blank=True)
    offers = models.CharField(
        _("offers shown"),
        max_length=500,
        blank=True,
        help_text=_("Tier or item slugs, separated by commas; blank shows every offer."),
    )
    first_price = models.CharField(
        _("price shown first"),
        max_length=64,
        blank=True,
        help_text=_("A price id; its offer and price come first."),
    )
    meter_free = models.PositiveSmallIntegerField(
        _("meter size"),
        null=True,
        blank=True,
        help_text=_("Free metered reads per period for visitors of this variant."),
    )

    panels = [
        FieldPanel("name"),
        FieldPanel("weight"),
        FieldPanel("heading"),
        FieldPanel("body"),
        FieldPanel("offers"),
        FieldPanel("first_price"),
        FieldPanel("meter_free"),
    ]

    class Meta(Orderable.Meta):
        verbose_name = _("variant")

    def __str__(self) -> str:
        return self.name

    def offer_slugs(self) -> tuple[str, ...]:
        return tuple(s.strip() for s in self.offers.split(",") if s.strip())


class PaywallExposure(models.Model):
    """A visitor shown the paywall of ``variant``: one row per visitor and test."""

    test = models.ForeignKey(PaywallTest, on_delete=models.CASCADE, related_name="exposures")
    variant = models.ForeignKey(PaywallVariant, on_delete=models.CASCADE, related_name="exposures")
    #: ``m:<member id>`` or ``a:<random id of the anonymous visitor's cookie>``.
    visitor = models.CharField(_("visitor"), max_length=80)
    exposed_at = models.DateTimeField(_("exposed at"), auto_now_add=True)

    class Meta:
        verbose_name = _("paywall exposure")
        constraints = [
            models.UniqueConstraint(fields=("test", "visitor"), name="paywall_exposure_once")
        ]
