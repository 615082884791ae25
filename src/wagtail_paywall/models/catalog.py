"""The catalog as publishers edit it: :class:`Tier` and :class:`Price`, turned into the
core's :class:`~membership_sdk.Tier` and :class:`~membership_sdk.Price`.

See ``docs/wagtail.md`` (The admin) for how they are set up.
"""

from __future__ import annotations

from collections.abc import Collection

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from membership_sdk import catalog as core_catalog

from .fields import choices_of, lines


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
            entitlements=lines(self.entitlements),  # type: ignore[arg-type]
            description=self.description,
        )


class Price(models.Model):
    """What a tier, or a single item, costs; ``key`` is the core's price id."""

    Interval = choices_of(
        core_catalog.Interval,
        {
            core_catalog.Interval.MONTH: _("Monthly"),
            core_catalog.Interval.YEAR: _("Yearly"),
            core_catalog.Interval.ONE_OFF: _("One-off"),
        },
        qualname="Price.Interval",
    )

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
    intro_amount = models.PositiveIntegerField(
        _("intro amount"),
        null=True,
        blank=True,
        help_text=_("An intro offer: what each of the first periods costs (minor units)."),
    )
    intro_periods = models.PositiveIntegerField(
        _("intro periods"),
        default=0,
        blank=True,
        help_text=_("How many periods the intro amount lasts."),
    )
    provider_ids = models.JSONField(
        _("provider ids"),
        default=dict,
        blank=True,
        help_text=_('Each provider\'s id for this price, e.g. {"stripe": "price_123"}.'),
    )
    nickname = models.CharField(_("nickname"), max_length=255, blank=True)
    gift_months = models.PositiveSmallIntegerField(
        _("gift months"),
        null=True,
        blank=True,
        help_text=_(
            "For a gift: the months of the tier a one-off price sells for someone else "
            "to redeem (1, 3, 6 or 12, say). Leave empty for every other price."
        ),
    )
    archived = models.BooleanField(
        _("archived"), default=False, help_text=_("Archived prices are no longer sold.")
    )
    member_amounts = models.JSONField(
        _("member prices"),
        default=dict,
        blank=True,
        help_text=_(
            "For a one-off item: what members pay instead, by tier slug, in minor units, "
            'e.g. {"basic": 500}. Members of that tier or a higher-ranked one pay it.'
        ),
    )

    class Meta:
        ordering = ["tier__rank", "amount", "key"]
        verbose_name = _("price")
        verbose_name_plural = _("prices")

    def __str__(self) -> str:
        return self.nickname or self.key

    def clean(self) -> None:
        """Refuse an intro offer the core would refuse (see ``docs/offers.md``)."""
        if self.intro_periods is None:
            self.intro_periods = 0  # left empty in a form: no intro offer
        self._clean_member_amounts()
        if self.intro_amount is None and not self.intro_periods:
            return
        try:
            self.to_core(self.tier.slug if self.tier_id else None)
        except core_catalog.CatalogError as exc:
            raise ValidationError(str(exc)) from exc

    def _clean_member_amounts(self) -> None:
        """Refuse member prices the catalog would refuse (docs/member-prices.md), naming
        the tier; empty means none."""
        amounts = self.member_amounts
        if not amounts:
            self.member_amounts = {}
            return
        shape = _('Enter the member prices as {"tier slug": amount in minor units}.')
        if not isinstance(amounts, dict) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
            for k, v in amounts.items()
        ):
            raise ValidationError({"member_amounts": shape})
        if not self.item or self.tier_id is not None:
            raise ValidationError(
                {"member_amounts": _("Member prices are for one-off items: set the item.")}
            )
        known = set(Tier.objects.filter(slug__in=list(amounts)).values_list("slug", flat=True))
        unknown = sorted(set(amounts) - known)
        if unknown:
            raise ValidationError(
                {"member_amounts": _("There is no tier %(slugs)s.") % {"slugs": ", ".join(unknown)}}
            )
        for slug, amount in amounts.items():
            if self.amount is not None and not 0 < amount < self.amount:
                raise ValidationError(
                    {
                        "member_amounts": _(
                            "The member price for %(tier)s (%(amount)s) must be above 0 and "
                            "below the price's amount (%(list)s)."
                        )
                        % {"tier": slug, "amount": amount, "list": self.amount}
                    }
                )

    def core_member_amounts(self, tiers: Collection[str] | None = None) -> dict[str, int]:
        """The member prices the core can take: a row changed outside the admin (a tier
        renamed or deleted since, a list price lowered below one) keeps the catalog
        loading without the member prices it would refuse; the check
        ``wagtail_paywall.E030``-``E032`` reports them."""
        amounts = self.member_amounts
        if not amounts or not isinstance(amounts, dict) or not self.item or self.tier_id:
            return {}
        return {
            slug: amount
            for slug, amount in amounts.items()
            if isinstance(amount, int)
            and not isinstance(amount, bool)
            and 0 < amount < self.amount
            and (tiers is None or slug in tiers)
        }

    def to_core(
        self, tier_slug: str | None, *, tiers: Collection[str] | None = None
    ) -> core_catalog.Price:
        """The core's price; ``tiers`` (the catalog's tier slugs) leaves out member prices
        of tiers the catalog does not hold."""
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
            intro_amount=self.intro_amount,
            intro_periods=self.intro_periods,
            gift_months=self.gift_months,
            member_amounts=self.core_member_amounts(tiers),
        )
