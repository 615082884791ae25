"""The paywall's Wagtail admin viewsets, all under one "Paywall" menu
(:class:`PaywallViewSetGroup`): tiers, prices, members, the webhook inbox, bank transfers
(:mod:`.manual`), cancellations and feed tokens. :mod:`wagtail_paywall.wagtail_hooks`
registers the group and the "Membership metrics" report. See ``docs/publisher-guide.md``.
"""

from __future__ import annotations

from typing import Any

from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from wagtail.admin.menu import MenuItem
from wagtail.admin.ui.tables import Column, StatusTagColumn
from wagtail.admin.views.generic import IndexView, InspectView
from wagtail.admin.viewsets.base import ViewSet, ViewSetGroup
from wagtail.admin.viewsets.model import ModelViewSet

from ..billing import inbox
from ..models import CancellationFeedback, Coupon, FeedToken, Price, Tier, WebhookEvent
from . import privacy, segments, staff
from . import views as admin_views
from .at_risk import AtRiskViewSet
from .declarations import CancellationDeclarationViewSet
from .deliveries import DeliveryIssueViewSet, DeliveryProductViewSet
from .loyalty import LoyaltyRewardViewSet
from .manual import BankTransferViewSet
from .policies import read_only
from .services import ServiceRequestViewSet
from .usage import UsagePeriodViewSet, UsageRateViewSet


class TierViewSet(ModelViewSet):
    model = Tier
    name = "paywall_tiers"
    icon = "crosshairs"
    menu_label = _("Tiers")
    form_fields = ["name", "slug", "rank", "description", "entitlements"]
    list_display = ["name", "slug", "rank", "entitlements"]
    search_fields = ["name", "slug"]
    copy_view_enabled = False


class PriceViewSet(ModelViewSet):
    model = Price
    name = "paywall_prices"
    icon = "tag"
    menu_label = _("Prices")
    form_fields = [
        "key",
        "nickname",
        "tier",
        "item",
        "item_name",
        "amount",
        "currency",
        "interval",
        "trial_days",
        "intro_amount",
        "intro_periods",
        "gift_months",
        "member_amounts",
        "provider_ids",
        "archived",
    ]
    list_display = ["__str__", "key", "tier", "amount", "currency", "interval", "archived"]
    list_filter = ["tier", "interval", "archived"]
    search_fields = ["key", "nickname", "item"]
    copy_view_enabled = False


class CouponViewSet(ModelViewSet):
    """Codes members enter at checkout: what they take off, for how long, for which
    tiers or prices, how often and until when (see ``docs/offers.md``)."""

    model = Coupon
    name = "paywall_coupons"
    icon = "tag"
    menu_label = _("Coupons")
    form_fields = [
        "code",
        "name",
        "percent_off",
        "amount_off",
        "currency",
        "duration",
        "months",
        "tiers",
        "prices",
        "max_redemptions",
        "expires_at",
        "first_time_only",
        "provider_ids",
    ]
    list_display = [
        "code",
        "percent_off",
        "amount_off",
        "duration",
        "max_redemptions",
        Column("redeemed", label=_("Redeemed"), accessor="redeemed_count"),
        "expires_at",
    ]
    list_filter = ["duration", "first_time_only"]
    search_fields = ["code", "name"]
    copy_view_enabled = False


class MemberViewSet(ViewSet):
    name = "paywall_members"
    icon = "group"
    menu_label = _("Members")

    def get_urlpatterns(self) -> list[Any]:
        return [
            path("", admin_views.MemberIndexView.as_view(), name="index"),
            path("export.csv", segments.export_csv, name="export"),
            path("segments/save/", segments.save_segment, name="save_segment"),
            path(
                "segments/<int:segment_id>/delete/",
                segments.delete_segment,
                name="delete_segment",
            ),
            path("<str:member_id>/", admin_views.MemberDetailView.as_view(), name="detail"),
            path("grants/<str:grant_id>/extend/", admin_views.extend_grant, name="extend_grant"),
            path("grants/<str:grant_id>/revoke/", admin_views.revoke_grant, name="revoke_grant"),
            *staff.urlpatterns(),
            *privacy.urlpatterns(),
        ]


class WebhookIndexView(IndexView):
    """The inbox is a record: it can be filtered, inspected and retried, never edited."""

    def get_add_url(self) -> None:
        return None

    def get_edit_url(self, instance: Any) -> None:
        return None


class WebhookInspectView(InspectView):
    template_name = "wagtail_paywall/admin/webhook_inspect.html"

    def get_edit_url(self) -> None:
        return None

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        row: WebhookEvent = self.object
        context["can_retry"] = row.status in inbox.RETRYABLE and self.request.user.has_perm(
            "wagtail_paywall.change_webhookevent"
        )
        context["retry_url"] = reverse("paywall_webhooks:retry", args=[row.pk])
        return context

    def get_header_buttons(self) -> list[Any]:
        return []


class WebhookEventViewSet(ModelViewSet):
    model = WebhookEvent
    name = "paywall_webhooks"
    icon = "resubmit"
    menu_label = _("Webhook inbox")
    index_view_class = WebhookIndexView
    inspect_view_class = WebhookInspectView
    inspect_view_enabled = True
    inspect_view_fields = [
        "provider",
        "event_id",
        "event_type",
        "status",
        "attempts",
        "last_error",
        "detail",
        "received_at",
        "processed_at",
        "next_attempt_at",
    ]
    copy_view_enabled = False
    list_display = [
        "event_id",
        "provider",
        "event_type",
        StatusTagColumn(
            "status",
            label=_("Status"),
            accessor="get_status_display",
            primary=lambda row: row.status == WebhookEvent.Status.PROCESSED,
        ),
        Column("attempts", label=_("Attempts")),
        "received_at",
    ]
    list_filter = ["status", "provider"]
    search_fields = ["event_id", "event_type", "last_error"]
    form_fields = ["status"]  # required by ModelViewSet; the add/edit views are not routed

    def get_urlpatterns(self) -> list[Any]:
        hidden = {"add", "edit", "copy"}
        patterns = [p for p in super().get_urlpatterns() if p.name not in hidden]
        patterns.append(path("retry/<int:pk>/", admin_views.retry_webhook, name="retry"))
        return patterns


#: Anyone allowed to view the answers may read them; nobody adds, edits or deletes.
FEEDBACK_POLICY = read_only(CancellationFeedback)


class CancellationFeedbackViewSet(ModelViewSet):
    """Why members left, for the publisher: read-only (the answers are the members' own
    words); filter by reason or tier, search the comments, inspect one, or export."""

    model = CancellationFeedback
    name = "paywall_cancellations"
    icon = "comment"
    menu_label = _("Cancellations")
    list_display = ["created_at", "reason", "tier", "member_id", "comment"]
    list_filter = ["reason", "tier"]
    search_fields = ["comment", "member_id"]
    list_export = ["created_at", "reason", "tier", "member_id", "membership_id", "comment"]
    export_filename = "cancellation-feedback"
    inspect_view_enabled = True
    inspect_view_fields = ["created_at", "reason", "comment", "tier", "member_id", "membership_id"]
    form_fields = ["reason", "comment"]  # required by ModelViewSet; the policy refuses edits
    copy_view_enabled = False
    if FEEDBACK_POLICY is not None:  # Wagtail 7.4: the viewset carries the policy itself
        permission_policy = FEEDBACK_POLICY


class FeedTokenViewSet(ModelViewSet):
    """Members' private feed addresses, to revoke one: setting "revoked at" (or deleting
    the row) stops the address at once. The token itself is never stored nor listed."""

    model = FeedToken
    name = "paywall_feed_tokens"
    icon = "link"
    menu_label = _("Feed tokens")
    list_display = ["member_id", "created_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["member_id"]
    form_fields = ["member_id", "revoked_at"]
    copy_view_enabled = False


class PaywallViewSetGroup(ViewSetGroup):
    menu_label = _("Paywall")
    menu_icon = "lock"
    menu_order = 250
    items = (
        TierViewSet,
        PriceViewSet,
        CouponViewSet,
        LoyaltyRewardViewSet,
        MemberViewSet,
        WebhookEventViewSet,
        BankTransferViewSet,
        CancellationFeedbackViewSet,
        CancellationDeclarationViewSet,
        FeedTokenViewSet,
        AtRiskViewSet,
        DeliveryProductViewSet,
        DeliveryIssueViewSet,
        ServiceRequestViewSet,
        UsageRateViewSet,
        UsagePeriodViewSet,
    )


class MetricsMenuItem(MenuItem):
    """Shown to those who may view the members (the report sums up their memberships)."""

    def is_shown(self, request: Any) -> bool:
        return bool(request.user.has_perm(admin_views.VIEW_PERMISSION))
