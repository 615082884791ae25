"""Page mixins that put a Wagtail page behind the paywall.

:class:`PaywallPageMixin` adds the access fields, an "Access" panel and
:meth:`~PaywallPageMixin.paywall_resource`, which turns the fields into the core's
:class:`~membership_sdk.Resource`. :class:`CoursePageMixin` and :class:`LessonPageMixin`
make a course of lesson child pages: a lesson inherits its course's rule unless it sets
its own, and may open only a number of days after the member joined (drip).

Gating itself happens in :mod:`wagtail_paywall.gating` (Wagtail's ``before_serve_page``
hook), which asks :meth:`~PaywallPageMixin.paywall_resource` for the rule and calls
:meth:`~PaywallPageMixin.paywall_withhold` on a visitor without access, so the premium
part of the page is removed before any template sees it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalManyToManyField
from wagtail.admin.panels import FieldPanel, FieldRowPanel, MultiFieldPanel

from membership_sdk import (
    AnyOf,
    AnyTier,
    Decision,
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
    decide,
)

from .blocks import teaser_part

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse


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

_PUBLIC = Public()


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
        return _PUBLIC
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


# -- a small per-process memo of rules that need queries to build ------------------------------
class _RuleMemo:
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


rule_memo = _RuleMemo()


class WithheldContentError(RuntimeError):
    """Raised when a page whose premium part was withheld for a visitor is saved."""


# -- pages --------------------------------------------------------------------------------------
class PaywallPageMixin(models.Model):
    """Access fields, an "Access" panel and the page's :class:`~membership_sdk.Resource`.

    Put it before ``Page`` in the bases::

        class ArticlePage(PaywallPageMixin, Page):
            body = StreamField([..., ("paywall", PaywallBreakBlock())])
            edit_handler = PaywallPageMixin.edit_handler_with_access(
                Page.content_panels + [FieldPanel("body")]
            )

    :attr:`paywall_body_fields` names the StreamFields cut at their
    :class:`~wagtail_paywall.blocks.PaywallBreakBlock` for visitors without access;
    :attr:`paywall_premium_fields` names any other fields emptied for them.
    """

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
    paywall_tiers = ParentalManyToManyField(
        "wagtail_paywall.Tier",
        verbose_name=_("exactly these tiers"),
        help_text=_("If any are chosen, members of these tiers only, whatever their rank."),
        blank=True,
        related_name="+",
    )
    # The chosen tiers' slugs, kept in step on save so serving a page needs no join.
    paywall_tier_slugs = models.CharField(max_length=1024, blank=True, editable=False)
    paywall_entitlement = models.CharField(
        _("entitlement"),
        max_length=128,
        blank=True,
        help_text=_("An entitlement key such as 'content.premium'."),
    )
    paywall_meter_free = models.PositiveIntegerField(
        _("free reads"),
        default=3,
        help_text=_("Metered: how many gated pages a visitor may read free per period."),
    )
    paywall_meter_period = models.CharField(
        _("per"),
        max_length=8,
        choices=[
            (Period.DAY.value, _("day")),
            (Period.WEEK.value, _("week")),
            (Period.MONTH.value, _("month")),
            (Period.YEAR.value, _("year")),
        ],
        default=Period.MONTH.value,
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
    paywall_drip_days = models.PositiveIntegerField(
        _("opens after (days)"),
        default=0,
        help_text=_("Drip: days after the member joined before this opens."),
    )
    paywall_embargo_until = models.DateTimeField(
        _("free to everyone from"),
        null=True,
        blank=True,
        help_text=_("Embargo: from this moment on, everyone may read it."),
    )
    paywall_teaser = models.TextField(
        _("teaser"),
        blank=True,
        help_text=_(
            "Shown to visitors without access. Without a paywall break in the body, "
            "this is all they see of the content."
        ),
    )

    paywall_body_fields: Sequence[str] = ("body",)
    paywall_premium_fields: Sequence[str] = ()

    paywall_panels = [
        MultiFieldPanel(
            [
                FieldPanel("paywall_rule"),
                FieldPanel("paywall_min_tier"),
                FieldPanel("paywall_tiers", widget=forms.CheckboxSelectMultiple),
                FieldPanel("paywall_entitlement"),
                FieldRowPanel(
                    [FieldPanel("paywall_meter_free"), FieldPanel("paywall_meter_period")]
                ),
                FieldPanel("paywall_purchase_item"),
                FieldPanel("paywall_drip_days"),
                FieldPanel("paywall_embargo_until"),
                FieldPanel("paywall_teaser"),
            ],
            heading=_("Access"),
        )
    ]

    class Meta:
        abstract = True

    # -- admin ------------------------------------------------------------------------------
    @classmethod
    def edit_handler_with_access(
        cls,
        content_panels: Sequence[Any],
        promote_panels: Sequence[Any] | None = None,
        settings_panels: Sequence[Any] | None = None,
    ) -> Any:
        """A tabbed editor: Content, Access, Promote, Settings."""
        from wagtail.admin.panels import ObjectList, TabbedInterface
        from wagtail.models import Page

        return TabbedInterface(
            [
                ObjectList(list(content_panels), heading=_("Content")),
                ObjectList(list(cls.paywall_panels), heading=_("Access")),
                ObjectList(list(promote_panels or Page.promote_panels), heading=_("Promote")),
                ObjectList(
                    list(settings_panels or Page.settings_panels),
                    heading=_("Settings"),
                    classname="settings",
                ),
            ]
        )

    def clean(self) -> None:
        super().clean()
        self.paywall_clean()

    def paywall_clean(self) -> None:
        """Refuse access settings that miss what their rule kind needs."""
        errors: dict[str, Any] = {}
        kind = self.paywall_rule
        if kind == RuleKind.ENTITLEMENT and not self.paywall_entitlement:
            errors["paywall_entitlement"] = _("Name the entitlement that unlocks this page.")
        if kind == RuleKind.TIER and not self.paywall_min_tier_id and not self._has_tiers():
            errors["paywall_min_tier"] = _("Choose a minimum tier or some tiers.")
        if kind == RuleKind.EMBARGO and self.paywall_embargo_until is None:
            errors["paywall_embargo_until"] = _("Set when the embargo ends.")
        if kind == RuleKind.DRIP and not self.paywall_drip_days:
            errors["paywall_drip_days"] = _("Set after how many days it opens.")
        if errors:
            raise ValidationError(errors)

    def _tiers(self) -> list[Any]:
        try:
            return list(self.paywall_tiers.all())
        except ValueError:  # an unsaved page without in-memory tiers
            return []

    def _has_tiers(self) -> bool:
        return bool(self._tiers())

    def save(self, *args: Any, **kwargs: Any) -> None:
        if getattr(self, "_paywall_withheld", False):
            raise WithheldContentError(
                f"page {self.pk!r} had its premium content withheld for a visitor; "
                "saving it would store the teaser as the content. Load it afresh."
            )
        update_fields = kwargs.get("update_fields")
        if update_fields is None or "paywall_tier_slugs" in update_fields:
            self.paywall_tier_slugs = " ".join(sorted(t.slug for t in self._tiers()))
        super().save(*args, **kwargs)
        rule_memo.clear()

    # -- the rule ---------------------------------------------------------------------------
    @property
    def paywall_key(self) -> str:
        return f"page:{self.pk}"

    def paywall_own_rule(self) -> Rule:
        """The rule of this page's own access fields (built without a query)."""
        if self.paywall_rule == RuleKind.PUBLIC:
            return _PUBLIC
        return self._build(self.paywall_tier_slugs.split())

    def _build(self, tiers: Iterable[str]) -> Rule:
        return build_rule(
            self.paywall_rule,
            min_tier=self.paywall_min_tier_id,
            tiers=tiers,
            entitlement=self.paywall_entitlement,
            meter_free=self.paywall_meter_free,
            meter_period=self.paywall_meter_period,
            purchase_item=self.paywall_purchase_item,
            drip_days=self.paywall_drip_days,
            embargo_until=self.paywall_embargo_until,
        )

    def paywall_rule_object(self) -> Rule:
        """The rule guarding this page (lessons may take theirs from the course)."""
        return self.paywall_own_rule()

    def paywall_resource(self) -> Resource:
        """This page as the core sees it: key ``page:<pk>`` and its rule."""
        return Resource(self.paywall_key, self.paywall_rule_object())

    # -- withholding ------------------------------------------------------------------------
    def paywall_withhold(self, decision: Decision) -> None:
        """Remove the premium part of this in-memory page for a visitor without access.

        Each of :attr:`paywall_body_fields` keeps only the blocks before its paywall
        break (nothing when the decision shows no teaser, or the stream has no break);
        each of :attr:`paywall_premium_fields` is emptied. The page refuses to be saved
        afterwards.
        """
        for name in self.paywall_body_fields:
            value = getattr(self, name, None)
            if value is not None:
                setattr(self, name, teaser_part(value, keep=decision.teaser))
        for name in self.paywall_premium_fields:
            field = self._meta.get_field(name)
            setattr(self, name, None if field.null else field.get_default())
        self._paywall_withheld = True
        self.paywall_decision = decision

    def get_context(self, request: HttpRequest, *args: Any, **kwargs: Any) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context(  # type: ignore[misc]
            request, *args, **kwargs
        )
        context["paywall_decision"] = getattr(self, "paywall_decision", None)
        return context

    def serve(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """Serve the page, marked private inside the view when it went through a gate.

        A per-view cache (``cache_page`` around Wagtail's ``serve``) stores the response
        before any middleware marks it, so the marking happens here too. The template is
        rendered here, so that an ``{% entitled %}`` block in it counts as a gate as well.
        """
        from .middleware import mark_private

        response: HttpResponse = super().serve(  # type: ignore[misc]
            request, *args, **kwargs
        )
        render = getattr(response, "render", None)
        if callable(render):
            render()
        if getattr(request, "paywall_gated", False):
            mark_private(response, request)
        return response


class CoursePageMixin(PaywallPageMixin):
    """A course: its rule guards itself and, unless they override it, its lessons.

    Its template context gets ``lessons``: each live lesson child with its
    ``decision`` for the visitor (``decision.unlock_at`` says when a locked lesson opens).
    """

    class Meta:
        abstract = True

    def paywall_lessons(self, request: HttpRequest) -> list[tuple[Any, Decision]]:
        """The live lessons under this course, each with the visitor's decision."""
        from .access import member_context

        ctx = member_context(request)
        lessons = []
        for page in self.get_children().live().specific():  # type: ignore[attr-defined]
            if isinstance(page, LessonPageMixin):
                lessons.append((page, decide(page.paywall_resource(course=self), ctx)))
        return lessons

    def get_context(self, request: HttpRequest, *args: Any, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context(request, *args, **kwargs)
        context["lessons"] = [
            {"page": page, "decision": decision} for page, decision in self.paywall_lessons(request)
        ]
        return context


class LessonPageMixin(PaywallPageMixin):
    """A lesson under a :class:`CoursePageMixin` page.

    With the rule "Same as the course" (the default) it is guarded by its course's rule;
    with ``paywall_drip_days`` set it additionally opens only that many days after the
    member joined. Any other rule overrides the course's.
    """

    paywall_rule = models.CharField(
        _("who may read it"),
        max_length=16,
        choices=LESSON_RULE_CHOICES,
        default=INHERIT,
    )

    class Meta:
        abstract = True

    def paywall_clean(self) -> None:
        if self.paywall_rule != INHERIT:
            super().paywall_clean()

    def course(self) -> CoursePageMixin | None:
        parent = self.get_parent()  # type: ignore[attr-defined]
        if parent is None:
            return None
        parent = parent.specific
        return parent if isinstance(parent, CoursePageMixin) else None

    def paywall_rule_object(self, course: CoursePageMixin | None = None) -> Rule:
        if self.paywall_rule != INHERIT:
            return self.paywall_own_rule()
        if course is None:
            memo_key = (self._meta.label, self.pk, "course", self.latest_revision_id)
            rule = rule_memo.get(memo_key)
            if rule is not None:
                return rule
            found = self.course()
            # A lesson outside any course has nothing to inherit: it needs a member.
            rule = found.paywall_rule_object() if found is not None else Registered()
            rule = self._drip(rule)
            return rule_memo.put(memo_key, rule) if self.pk is not None else rule
        return self._drip(course.paywall_rule_object())

    def _drip(self, rule: Rule) -> Rule:
        if self.paywall_drip_days <= 0:
            return rule
        base = Registered() if isinstance(rule, Public) else rule
        return Drip(base, self.paywall_drip_days)

    def paywall_resource(self, course: CoursePageMixin | None = None) -> Resource:
        return Resource(self.paywall_key, self.paywall_rule_object(course))
