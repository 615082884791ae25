"""Billing: the webhook inbox, lifecycle emails and reconciling with providers."""
