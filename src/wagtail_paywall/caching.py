"""The shared cache the paywall keeps members' access and the catalog in.

A member's cached rows are filed under a *generation token*: :func:`invalidate_member`
replaces the token, so every process reloads that member on its next request, whatever
it held. See ``docs/wagtail.md`` (Caching and the query budget).
"""

from __future__ import annotations

import uuid

from django.core.cache import caches
from django.core.cache.backends.base import BaseCache

from . import conf

#: A member's generation token, and the rows cached under one.
GEN_KEY = "paywall:member:{member}:gen"
ROWS_KEY = "paywall:member:{member}:{gen}"


def cache() -> BaseCache:
    """The cache holding the catalog and members' access rows (``PAYWALL["CACHE_ALIAS"]``)."""
    return caches[conf.get("CACHE_ALIAS")]


def invalidate_member(member_id: str) -> None:
    """Make the next request of ``member_id`` load its access from the database."""
    cache().set(GEN_KEY.format(member=member_id), uuid.uuid4().hex, None)
