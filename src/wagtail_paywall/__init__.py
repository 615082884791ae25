"""Wagtail CMS paywall: the Django/Wagtail adapter for membership_sdk."""
