"""Content attribution: the page (and paywall variant) a checkout started from.

A row is written when a member starts a checkout that came from a paywall (the source
travels signed: :mod:`wagtail_paywall.billing.attribution`), and is linked to the
membership or purchase the provider's event creates. The "Pages by conversions" report
reads these rows. See ``docs/experiments.md`` (Content attribution).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from .fields import member_id_field


class Attribution(models.Model):
    """One checkout started from a page; converted once its membership or purchase
    arrives."""

    member_id = member_id_field(db_index=True)
    page = models.ForeignKey(
        "wagtailcore.Page",
        verbose_name=_("page"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    variant = models.ForeignKey(
        "wagtail_paywall.PaywallVariant",
        verbose_name=_("variant"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="attributions",
    )
    price_id = models.CharField(_("price"), max_length=64)
    provider = models.CharField(_("provider"), max_length=64)
    checkout_id = models.CharField(_("checkout session"), max_length=255, blank=True)
    started_at = models.DateTimeField(_("started at"), db_index=True)
    #: The membership (its id) or, for a one-off purchase, the grant it created.
    membership_id = models.CharField(_("membership"), max_length=64, blank=True)
    grant_id = models.CharField(_("grant"), max_length=64, blank=True)
    converted_at = models.DateTimeField(_("converted at"), null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    #: What the first period (or the purchase) charged, in minor units.
    amount = models.BigIntegerField(_("first payment"), null=True, blank=True)
    #: The membership's monthly recurring revenue at conversion, minor units (0 for a
    #: one-off purchase).
    mrr = models.BigIntegerField(_("MRR"), null=True, blank=True)

    class Meta:
        verbose_name = _("attribution")
        indexes = [
            models.Index(fields=("member_id", "converted_at"), name="paywall_attr_open"),
            # Segments by source page join attributions to memberships (1M rows: see
            # docs/performance.md, "Segments of the Members screen").
            models.Index(fields=("membership_id",), name="paywall_attr_membership"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} from page {self.page_id} ({self.price_id})"
