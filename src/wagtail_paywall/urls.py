"""The paywall's public URLs. Include them under ``paywall/``::

    path("paywall/", include("wagtail_paywall.urls")),

The fake provider's default ``checkout_url`` is ``/paywall/fake/checkout/``, and
providers' webhooks are set up to post to ``/paywall/webhooks/<provider>/``.
"""

from __future__ import annotations

from django.urls import path

from . import search, views

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
]
