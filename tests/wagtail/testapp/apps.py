"""The Wagtail test site's pages and documents."""

from __future__ import annotations

from django.apps import AppConfig


class TestAppConfig(AppConfig):
    name = "tests.wagtail.testapp"
    label = "testapp"
    verbose_name = "Paywall test app"
    default_auto_field = "django.db.models.BigAutoField"
