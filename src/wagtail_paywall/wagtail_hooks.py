"""Wagtail hook registrations.

Importing the modules below registers their hooks: :mod:`.gating` gates pages and
documents through ``before_serve_page`` / ``before_serve_document``; :mod:`.viewsets`
adds the admin for tiers, members and the webhook inbox.
"""

from . import feed_viewsets, feedback_viewsets, gating, viewsets  # noqa: F401
