"""Who may read a page or download a document, as editors set it, and the rule it builds.

:class:`PaywallAccessFields` is the abstract model both the page and the document mixins
start from; :class:`RuleKind` is what an editor chooses; :func:`build_rule` turns the fields
into the core's :class:`~membership_sdk.Rule`; :data:`rule_memo` keeps rules that need other
rows to build (a lesson's course).

See ``docs/gating.md`` (Pages: the mixin).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any, ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _

from membership_sdk import (
    AnyOf,
    AnyTier,
    Drip,
    Embargo,
    HasEntitlement,
    Metered,
    MinTier,
    Period,
    Public,
    Purchase,
    Registered,
    Resource,
    Rule,
    Window,
)


class RuleKind(models.TextChoices):
    """Who may see a page (or a document). Stored in ``paywall_rule``."""

    PUBLIC = "public", _("Public: everyone")
    REGISTERED = "registered", _("Registered: any signed-in member")
    TIER = "tier", _("Tiers: members of the tiers below")
    ENTITLEMENT = "entitlement", _("Entitlement: members holding the entitlement below")
    METERED = "metered", _("Metered: a few free reads, then the tiers below")
    PURCHASE = "purchase", _("Purchase: those who bought it (or hold the tiers below)")
    DRIP = "drip", _("Drip: the tiers below, some days after joining")
    EMBARGO = "embargo", _("Embargo: the tiers below until a date, then everyone")


#: Lessons may also follow their course, which is the default.
INHERIT = "inherit"
LESSON_RULE_CHOICES = [(INHERIT, _("Same as the course")), *RuleKind.choices]

#: The one rule of every public page (built once: serving a public page builds nothing).
PUBLIC = Public()


def requirement(
    min_tier: str | None, tiers: Iterable[str] = (), entitlement: str = ""
) -> Rule | None:
    """The tier or entitlement requirement a rule kind builds on, or ``None`` if unset.

    Exactly-these ``tiers`` win over a ``min_tier`` (that tier or any ranked above it),
    which wins over an ``entitlement``.
    """
    slugs = frozenset(tiers)
    if slugs:
        return AnyTier(slugs)
    if min_tier:
        return MinTier(min_tier)
    if entitlement:
        return HasEntitlement(entitlement)
    return None


def build_rule(
    kind: str,
    *,
    min_tier: str | None = None,
    tiers: Iterable[str] = (),
    entitlement: str = "",
    meter_free: int = 0,
    meter_period: str = Period.MONTH,
    purchase_item: str = "",
    drip_days: int = 0,
    embargo_until: datetime | None = None,
) -> Rule:
    """Turn the access fields of a page or document into a core :class:`~membership_sdk.Rule`.

    A kind whose requirement is missing fails closed: a "tier" rule with no tier lets
    nobody in (and offers nothing) rather than everybody.
    """
    base = requirement(min_tier, tiers, entitlement)
    if kind == RuleKind.PUBLIC:
        return PUBLIC
    if kind == RuleKind.REGISTERED:
        return Registered()
    if kind == RuleKind.TIER:
        return base if base is not None else AnyTier(())
    if kind == RuleKind.ENTITLEMENT:
        return HasEntitlement(entitlement) if entitlement else AnyTier(())
    gate = base if base is not None else Registered()
    if kind == RuleKind.METERED:
        return Metered(gate, meter_free, Window.calendar(meter_period))
    if kind == RuleKind.PURCHASE:
        purchase = Purchase(purchase_item or None)
        return AnyOf(purchase, base) if base is not None else purchase
    if kind == RuleKind.DRIP:
        return Drip(gate, drip_days)
    if kind == RuleKind.EMBARGO:
        if embargo_until is None:
            return gate
        return Embargo(embargo_until, gate)
    # An unknown kind (a removed choice still stored in a row) lets nobody in.
    return AnyTier(())


class RuleMemo:
    """Rules whose fields live in other rows (a lesson's course), per page.

    Entries expire after ``ttl`` seconds so that another process's edit is seen soon;
    this process drops an entry at once when the page or any tier is saved.
    """

    def __init__(self, ttl: float = 30.0, size: int = 2048) -> None:
        self.ttl = ttl
        self.size = size
        self._lock = threading.Lock()
        self._rules: dict[tuple[Any, ...], tuple[float, Rule]] = {}

    def get(self, key: tuple[Any, ...]) -> Rule | None:
        hit = self._rules.get(key)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def put(self, key: tuple[Any, ...], rule: Rule) -> Rule:
        with self._lock:
            if len(self._rules) >= self.size:
                self._rules.clear()
            self._rules[key] = (time.monotonic() + self.ttl, rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()


#: This process's memo of rules built from other rows.
rule_memo = RuleMemo()


class PaywallAccessFields(models.Model):
    """The access fields a page and a document share, and the resource they make.

    A subclass MUST name its key's prefix (:attr:`paywall_key_prefix`: ``page``, ``doc``),
    which keeps its keys apart from every other kind's, and may add what its
    :meth:`paywall_rule_options` pass on to :func:`build_rule`.
    """

    paywall_key_prefix: ClassVar[str]

    paywall_rule = models.CharField(
        _("who may read it"),
        max_length=16,
        choices=RuleKind.choices,
        default=RuleKind.PUBLIC,
    )
    paywall_min_tier = models.ForeignKey(
        "wagtail_paywall.Tier",
        to_field="slug",  # the rule needs the slug only: no join when a page is served
        verbose_name=_("minimum tier"),
        help_text=_("Members of this tier or of any higher-ranked tier."),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    paywall_entitlement = models.CharField(
        _("entitlement"),
        max_length=128,
        blank=True,
        help_text=_("An entitlement key such as 'content.premium'."),
    )
    paywall_purchase_item = models.CharField(
        _("purchase item"),
        max_length=255,
        blank=True,
        help_text=_(
            "Purchase: the item key its price sells; leave empty to sell this page alone "
            "(key 'page:<id>'). Prices are set up under Paywall > Prices."
        ),
    )

    class Meta:
        abstract = True

    @property
    def paywall_key(self) -> str:
        """What the core calls this item: ``<prefix>:<pk>``."""
        return f"{self.paywall_key_prefix}:{self.pk}"

    def paywall_rule_options(self) -> dict[str, Any]:
        """The keyword arguments of :func:`build_rule` these fields give."""
        return {
            "min_tier": self.paywall_min_tier_id,  # type: ignore[attr-defined]
            "entitlement": self.paywall_entitlement,
            "purchase_item": self.paywall_purchase_item,
        }

    def paywall_rule_object(self) -> Rule:
        """The rule guarding this item, built without a query."""
        if self.paywall_rule == RuleKind.PUBLIC:
            return PUBLIC
        return build_rule(self.paywall_rule, **self.paywall_rule_options())

    def paywall_resource(self) -> Resource:
        """This item as the core sees it: :attr:`paywall_key` and its rule."""
        return Resource(self.paywall_key, self.paywall_rule_object())
