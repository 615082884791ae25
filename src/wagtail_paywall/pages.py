"""Page mixins that put a Wagtail page behind the paywall.

:class:`PaywallPageMixin` adds the access fields
(:class:`~wagtail_paywall.rules.PaywallAccessFields` and the page's own), :class:`AccessPanel`
and :meth:`~PaywallPageMixin.paywall_withhold`, the one method that removes a page's premium
part for a visitor without access (override it to withhold more). :class:`CoursePageMixin`
and :class:`LessonPageMixin` make a course of lesson child pages, with drip. Gating itself is
:mod:`wagtail_paywall.gating`.

The search index never holds a gated page's premium part: the mixin's search fields read
their values from the page as it is withheld (:meth:`PaywallPageMixin.paywall_indexed_page`),
so every backend and every search built on it (a site's own ``Page.objects.search()``,
autocomplete, the API's ``?search=``) matches and ranks a gated page on the text anyone
may read.

See ``docs/gating.md`` (Pages: the mixin) and ``docs/channels.md`` (Site search).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.db.models.fields import Field
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalManyToManyField
from wagtail.admin.panels import (
    FieldPanel,
    FieldRowPanel,
    MultiFieldPanel,
    ObjectList,
    TabbedInterface,
)
from wagtail.models import Page
from wagtail.search import index

from membership_sdk import (
    Decision,
    Drip,
    Period,
    Public,
    Reason,
    Registered,
    Resource,
    Rule,
    decide,
)

from .access import member_context
from .blocks import teaser_part
from .middleware import mark_private
from .rules import (
    INHERIT,
    LESSON_RULE_CHOICES,
    PaywallAccessFields,
    RuleKind,
    rule_memo,
)

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse


class WithheldContentError(RuntimeError):
    """Raised when a page whose premium part was withheld for a visitor is saved."""


def access_field_panels() -> list[Any]:
    """The panels of every access field of :class:`PaywallPageMixin`."""
    return [
        FieldPanel("paywall_rule"),
        FieldPanel("paywall_min_tier"),
        FieldPanel("paywall_tiers", widget=forms.CheckboxSelectMultiple),
        FieldPanel("paywall_entitlement"),
        FieldRowPanel([FieldPanel("paywall_meter_free"), FieldPanel("paywall_meter_period")]),
        FieldPanel("paywall_purchase_item"),
        FieldPanel("paywall_drip_days"),
        FieldPanel("paywall_embargo_until"),
        FieldPanel("paywall_teaser"),
    ]


class AccessPanel(MultiFieldPanel):
    """The "Access" panel of a paywalled page: who may read it, and its teaser.

    Put it wherever the page's editor should find it::

        content_panels = Page.content_panels + [FieldPanel("body"), AccessPanel()]
    """

    def __init__(self, children: Sequence[Any] | None = None, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("heading", _("Access"))
        super().__init__(
            list(children) if children is not None else access_field_panels(), *args, **kwargs
        )


class IndexedAsWithheld:
    """Mixed into each search field of a paywalled page: the value it indexes comes from
    the page as a visitor without access receives it, whenever the page is gated.

    Every search backend (the database backends, Elasticsearch, OpenSearch) reads what it
    indexes through ``field.get_value(obj)``, on save and in ``update_index`` alike.
    """

    field_name: str

    def get_value(self, obj: Any) -> Any:
        if isinstance(obj, PaywallPageMixin) and obj.paywall_index_withholds(self.field_name):
            obj = obj.paywall_indexed_page()
        return super().get_value(obj)  # type: ignore[misc]


_INDEXED_AS_WITHHELD: dict[type, type] = {}


def indexed_as_withheld(field: Any) -> Any:
    """``field`` (a ``SearchField`` or an ``AutocompleteField``, or a subclass of either)
    reading its value through :class:`IndexedAsWithheld`; its options are kept."""
    kind = type(field)
    if issubclass(kind, IndexedAsWithheld):
        return field
    wrapped = _INDEXED_AS_WITHHELD.get(kind)
    if wrapped is None:
        # Same name and options: backends and their error messages see the same field.
        wrapped = type(kind.__name__, (IndexedAsWithheld, kind), {"__module__": __name__})
        wrapped = _INDEXED_AS_WITHHELD.setdefault(kind, wrapped)
    field = copy.copy(field)
    field.__class__ = wrapped
    return field


class PaywallPageMixin(PaywallAccessFields):
    """Access fields, the :class:`AccessPanel` and withholding, for a Wagtail page.

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

    paywall_tiers = ParentalManyToManyField(
        "wagtail_paywall.Tier",
        verbose_name=_("exactly these tiers"),
        help_text=_("If any are chosen, members of these tiers only, whatever their rank."),
        blank=True,
        related_name="+",
    )
    # The chosen tiers' slugs, kept in step on save so serving a page needs no join.
    paywall_tier_slugs = models.CharField(max_length=1024, blank=True, editable=False)
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

    paywall_key_prefix = "page"
    paywall_panels = [AccessPanel()]

    class Meta:
        abstract = True

    # -- search -----------------------------------------------------------------------------
    @classmethod
    def get_search_fields(cls) -> list[Any]:
        """Wagtail's search fields of the page, each indexing what anyone may read of a
        gated page (:class:`IndexedAsWithheld`)."""
        fields: list[Any] = super().get_search_fields()  # type: ignore[misc]
        text_fields = (index.SearchField, index.AutocompleteField)
        return [indexed_as_withheld(f) if isinstance(f, text_fields) else f for f in fields]

    def paywall_index_rule(self) -> Rule:
        """The rule deciding what the search index holds of this page, read afresh."""
        return self.paywall_resource().rule

    def paywall_index_withholds(self, field_name: str) -> bool:
        """Whether the search field ``field_name`` indexes this page as withheld: the
        page is not public and the field is a body or premium field, or not a plain
        model field (a method or property may read the body)."""
        try:
            concrete = isinstance(self._meta.get_field(field_name), Field)
        except FieldDoesNotExist:
            concrete = False
        premium = field_name in (*self.paywall_body_fields, *self.paywall_premium_fields)
        if concrete and not premium:
            return False
        return not isinstance(self.paywall_index_rule(), Public)

    def paywall_indexed_page(self) -> Any:
        """A copy of this page as a visitor without access receives it (the teaser
        blocks, premium fields emptied): what the search index holds of a gated page.

        Nobody who may not read the premium part can find the page, or move it up or
        down a list of results, with a word of it; a member with access cannot either.
        """
        locked = Decision(False, Reason.TIER_REQUIRED, teaser=self.paywall_resource().teaser)
        page = copy.copy(self)
        page.paywall_withhold(locked)
        return page

    # -- admin ------------------------------------------------------------------------------
    @classmethod
    def edit_handler_with_access(
        cls,
        content_panels: Sequence[Any],
        promote_panels: Sequence[Any] | None = None,
        settings_panels: Sequence[Any] | None = None,
    ) -> Any:
        """A tabbed editor: Content, Access, Promote, Settings."""
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
    def paywall_rule_options(self) -> dict[str, Any]:
        return {
            **super().paywall_rule_options(),
            "tiers": self.paywall_tier_slugs.split(),
            "meter_free": self.paywall_meter_free,
            "meter_period": self.paywall_meter_period,
            "drip_days": self.paywall_drip_days,
            "embargo_until": self.paywall_embargo_until,
        }

    def paywall_own_rule(self) -> Rule:
        """The rule of this page's own access fields (built without a query)."""
        return PaywallAccessFields.paywall_rule_object(self)

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

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        update_fields = kwargs.get("update_fields")
        if update_fields is None or any(str(f).startswith("paywall_") for f in update_fields):
            self.paywall_reindex_lessons()

    def paywall_reindex_lessons(self) -> None:
        """Index the lessons under this course again: those following its rule become
        gated or public with it, and the index must hold only what anyone may read."""
        if self.pk is None:
            return
        for page in self.get_children().specific():  # type: ignore[attr-defined]
            if isinstance(page, LessonPageMixin):
                index.insert_or_update_object(page)

    def paywall_lessons(self, request: HttpRequest) -> list[tuple[Any, Decision]]:
        """The live lessons under this course, each with the visitor's decision."""
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

    def paywall_index_rule(self) -> Rule:
        """The rule as the course stored now says (never a memo of another process)."""
        if self.paywall_rule != INHERIT:
            return self.paywall_own_rule()
        course = self.course()
        return self._drip(course.paywall_rule_object() if course is not None else Registered())

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
