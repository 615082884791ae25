"""Gated downloads: access fields for a custom Wagtail document model.

Mix :class:`PaywallDocumentMixin` into the site's document model
(``WAGTAILDOCS_DOCUMENT_MODEL``) and add :data:`PAYWALL_DOCUMENT_FIELDS` to its admin form.
Every download passes Wagtail's ``before_serve_document`` hook, where
:mod:`wagtail_paywall.gating` checks it against the rule kept in the document's own row (no
extra query).

See ``docs/gating.md`` (Downloads).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from membership_sdk import Resource

from .rules import PaywallAccessFields, RuleKind

#: The form fields to add to a paywalled document's ``admin_form_fields``.
PAYWALL_DOCUMENT_FIELDS = (
    "paywall_rule",
    "paywall_min_tier",
    "paywall_entitlement",
    "paywall_purchase_item",
)

#: The kinds a download may have (metering, drip and embargo are for pages).
DOCUMENT_RULE_KINDS = (
    RuleKind.PUBLIC,
    RuleKind.REGISTERED,
    RuleKind.TIER,
    RuleKind.ENTITLEMENT,
    RuleKind.PURCHASE,
)
DOCUMENT_RULE_CHOICES = [choice for choice in RuleKind.choices if choice[0] in DOCUMENT_RULE_KINDS]


class PaywallDocumentMixin(PaywallAccessFields):
    """Who may download a document: everyone, members, tiers, an entitlement, buyers."""

    paywall_key_prefix = "doc"

    paywall_rule = models.CharField(
        _("who may download it"),
        max_length=16,
        choices=DOCUMENT_RULE_CHOICES,
        default=RuleKind.PUBLIC,
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

    def paywall_resource(self) -> Resource:
        """This document as the core sees it: key ``doc:<pk>`` and its rule.

        A gated download shows no teaser: there is no part of a file to show.
        """
        return Resource(self.paywall_key, self.paywall_rule_object(), teaser=False)
