"""The paywall's public URLs. Include them under ``paywall/``::

    path("paywall/", include("wagtail_paywall.urls")),

The fake provider's default ``checkout_url`` is ``/paywall/fake/checkout/``, and
providers' webhooks are set up to post to ``/paywall/webhooks/<provider>/``. See
``docs/journey.md`` (URLs).
"""

from __future__ import annotations

from django.urls import path

from .channels import feeds, search
from .views import account, checkout, fake_checkout, gifts, plans, pricing, retention, webhooks
from .views import cancellation as lawful
from .views import deliveries as delivery_views
from .views import services as service_views
from .views.loyalty import use_code as use_loyalty_code
from .views.payment_method import payment_method
from .views.privacy import erase_data, export_data
from .views.referrals import referral_link

app_name = "paywall"

urlpatterns = [
    path("pricing/", pricing.pricing, name="pricing"),
    path("checkout/", checkout.checkout, name="checkout"),
    path("checkout/success/", checkout.checkout_success, name="checkout_success"),
    path("checkout/cancel/", checkout.checkout_cancel, name="checkout_cancel"),
    path("account/", account.account, name="account"),
    path("account/cancel/", account.cancel, name="cancel"),
    path("account/cancel/offer/", retention.accept_offer, name="retention_accept"),
    path("account/resume/", account.resume, name="resume"),
    path("account/loyalty/use/", use_loyalty_code, name="loyalty_use"),
    path("account/withdraw/", lawful.withdraw, name="withdraw"),
    path("cancel-contract/", lawful.cancel_contract, name="cancel_contract"),
    path("cancel-contract/withdraw/<str:token>/", lawful.withdraw_confirm, name="withdraw_confirm"),
    path("account/change-plan/", plans.change_plan, name="change_plan"),
    path("account/change-plan/preview/", plans.plan_preview, name="plan_preview"),
    path("account/pause/", plans.pause, name="pause"),
    path("account/unpause/", plans.unpause, name="unpause"),
    path("gifts/give/", gifts.give, name="gift_give"),
    path("gifts/redeem/", gifts.redeem, name="gift_redeem"),
    path("r/<str:code>/", referral_link, name="referral_link"),
    path("services/", service_views.services, name="services"),
    path("services/<str:request_id>/cancel/", service_views.cancel_request, name="service_cancel"),
    path("account/portal/", account.portal, name="portal"),
    path("account/payment-method/", payment_method, name="payment_method"),
    path("account/address/", delivery_views.address, name="delivery_address"),
    path("account/feed/", account.issue_feed_token, name="feed_token_issue"),
    path("account/feed/revoke/", account.revoke_feed_token, name="feed_token_revoke"),
    path("account/data/", export_data, name="privacy_export"),
    path("account/data/erase/", erase_data, name="privacy_erase"),
    path("webhooks/<slug:provider>/", webhooks.webhook, name="webhook"),
    path("fake/checkout/<str:session_id>/", fake_checkout.fake_checkout, name="fake_checkout"),
    path("search/", search.search_view, name="search"),
    path("feeds/rss/", feeds.public_rss, name="feed_rss"),
    path("feeds/atom/", feeds.public_atom, name="feed_atom"),
    path("feeds/member/<str:token>/rss/", feeds.member_rss, name="member_feed_rss"),
    path("feeds/member/<str:token>/atom/", feeds.member_atom, name="member_feed_atom"),
]
