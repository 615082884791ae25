"""Gated downloads: access fields for a custom Wagtail document model.

Wagtail lets a site swap its document model (``WAGTAILDOCS_DOCUMENT_MODEL``), and every
download of it passes the ``before_serve_document`` hook. Mix
:class:`PaywallDocumentMixin` into that model::

    from wagtail.documents.models import AbstractDocument, Document

    class PaywalledDocument(PaywallDocumentMixin, AbstractDocument):
        admin_form_fields = Document.admin_form_fields + PAYWALL_DOCUMENT_FIELDS

and :mod:`wagtail_paywall.gating` checks each download against its rule. A quota on the
entitlement (``downloads: 10 per month``) counts each document once per period.

A custom model (rather than a table mapping documents to rules) keeps the rule in the
document's own row: serving it needs no extra query, the rule is edited in the document's
own form, and it is deleted with the document.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from membership_sdk import Resource, Rule

from .pages import RuleKind, build_rule

#: The form fields to add to a paywalled document's ``admin_form_fields``.
PAYWALL_DOCUMENT_FIELDS = (
    "paywall_rule",
    "paywall_min_tier",
    "paywall_entitlement",
    "paywall_purchase_item",
)

DOCUMENT_RULE_CHOICES = [
    choice
    for choice in RuleKind.choices
    if choice[0] in (RuleKind.PUBLIC, RuleKind.REGISTERED, RuleKind.TIER, RuleKind.ENTITLEMENT,
                     RuleKind.PURCHASE)
]  # fmt: skip


class PaywallDocumentMixin(models.Model):
    """Who may download a document: everyone, members, tiers, an entitlement, buyers."""

    paywall_rule = models.CharField(
        _("who may download it"),
        max_length=16,
        choices=DOCUMENT_RULE_CHOICES,
        default=RuleKind.PUBLIC,
    )
    paywall_min_tier = models.ForeignKey(
        "wagtail_paywall.Tier",
        to_field="slug",
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
        help_text=_(
            "An entitlement key such as 'downloads'. A quota on it (e.g. 10 per month) "
            "counts each document once per period."
        ),
    )
    paywall_purchase_item = models.CharField(
        _("purchase item"),
        max_length=255,
        blank=True,
        help_text=_("Purchase: the item key its price sells; empty means 'doc:<id>'."),
    )

    class Meta:
        abstract = True

    @property
    def paywall_key(self) -> str:
        return f"doc:{self.pk}"

    def paywall_rule_object(self) -> Rule:
        return build_rule(
            self.paywall_rule,
            min_tier=self.paywall_min_tier_id,  # type: ignore[attr-defined]
            entitlement=self.paywall_entitlement,
            purchase_item=self.paywall_purchase_item,
        )

    def paywall_resource(self) -> Resource:
        """This document as the core sees it: key ``doc:<pk>`` and its rule.

        A gated download shows no teaser: there is no part of a file to show.
        """
        return Resource(self.paywall_key, self.paywall_rule_object(), teaser=False)
