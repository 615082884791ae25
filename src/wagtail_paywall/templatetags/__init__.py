"""Template tags of the Wagtail paywall (``{% load paywall_tags %}``)."""
