"""The language a member is written to in: the one they last used on the site.

Emails go out long after the request that caused them (a webhook, the daily dunning run),
so the member's language is stored: on Wagtail's own per-user record,
``UserProfile.preferred_language`` (``wagtail.users``), which Wagtail already uses for the
language its admin speaks to that user. :func:`remember_language` records the language of
the request when a member signs in or starts a checkout; :func:`member_language` reads it
back, falling back to ``settings.LANGUAGE_CODE``. An editor (a user who can open the
Wagtail admin) chooses that language in their admin account; it is never overwritten from
the front end, and their emails follow it. A site that serves one language (no
``LocaleMiddleware``) writes in ``LANGUAGE_CODE`` and looks nothing up. See
``docs/i18n.md``.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.http import HttpRequest
from django.utils import translation


def _supported(code: str) -> str | None:
    """``code`` as one of ``settings.LANGUAGES`` (``de-at`` -> ``de``), or ``None``."""
    if not code:
        return None
    try:
        return translation.get_supported_language_variant(code)
    except LookupError:
        return None


def _profiles() -> Any:
    if not apps.is_installed("wagtail.users"):
        return None
    from wagtail.users.models import UserProfile

    return UserProfile


def _per_request() -> bool:
    """Whether the site serves each request in its visitor's language."""
    return any(path.endswith("LocaleMiddleware") for path in settings.MIDDLEWARE)


def member_language(user: Any) -> str:
    """The language to write to ``user`` in (no user: the site's ``LANGUAGE_CODE``)."""
    profiles = _profiles()
    known = user is not None and getattr(user, "pk", None) is not None
    if known and profiles is not None and _per_request():
        stored = (
            profiles.objects.filter(user_id=user.pk)
            .values_list("preferred_language", flat=True)
            .first()
        )
        language = _supported(stored or "")
        if language is not None:
            return language
    return _supported(settings.LANGUAGE_CODE) or settings.LANGUAGE_CODE


def remember_language(request: HttpRequest, user: Any) -> None:
    """Store the language ``request`` was served in as ``user``'s, when the site chooses a
    language per request (``LocaleMiddleware`` sets ``request.LANGUAGE_CODE``) and it
    changed. Editors keep the language they chose for the admin."""
    language = _supported(getattr(request, "LANGUAGE_CODE", "") or "")
    profiles = _profiles()
    if language is None or profiles is None or getattr(user, "pk", None) is None:
        return
    if not user.is_authenticated or user.has_perm("wagtailadmin.access_admin"):
        return
    profile = profiles.get_for_user(user)
    if profile.preferred_language != language:
        profile.preferred_language = language
        profile.save(update_fields=["preferred_language"])
