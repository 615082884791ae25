"""The paywall's public URLs. Include them under ``paywall/``::

    path("paywall/", include("wagtail_paywall.urls")),

The fake provider's default ``checkout_url`` is ``/paywall/fake/checkout/``, and
providers' webhooks are set up to post to ``/paywall/webhooks/<provider>/``.
"""

from __future__ import annotations

from django.urls import path

from . import feeds, search, views

app_name = "paywall"

urlpatterns = [
    path("pricing/", views.pricing, name="pricing"),
    path("checkout/", views.checkout, name="checkout"),
    path("checkout/success/", views.checkout_success, name="checkout_success"),
    path("checkout/cancel/", views.checkout_cancel, name="checkout_cancel"),
    path("account/", views.account, name="account"),
    path("account/cancel/", views.cancel, name="cancel"),
    path("account/resume/", views.resume, name="resume"),
    path("account/change-plan/", views.change_plan, name="change_plan"),
    path("account/portal/", views.portal, name="portal"),
    path("webhooks/<slug:provider>/", views.webhook, name="webhook"),
    path("fake/checkout/<str:session_id>/", views.fake_checkout, name="fake_checkout"),
    path("search/", search.search_view, name="search"),
    path("feeds/rss/", feeds.public_rss, name="feed_rss"),
    path("feeds/atom/", feeds.public_atom, name="feed_atom"),
    path("feeds/member/<str:token>/rss/", feeds.member_rss, name="member_feed_rss"),
    path("feeds/member/<str:token>/atom/", feeds.member_atom, name="member_feed_atom"),
    path("account/feed/", feeds.issue_feed_token, name="feed_token_issue"),
    path("account/feed/revoke/", feeds.revoke_feed_token, name="feed_token_revoke"),
]
