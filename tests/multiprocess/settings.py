"""Settings of the two app servers in ``tests/multiprocess``: the Wagtail test site on the
PostgreSQL database and the Redis cache that every server process shares.

The test starts each server with ``DATABASE_URL`` pointing at a database of its own making
and ``PAYWALL_CACHE_PREFIX`` set to a key prefix of its own, so the servers share exactly
one database and one set of cache keys, and nothing of anyone else's.
"""

from __future__ import annotations

import os

from tests.wagtail.settings import *  # noqa: F403

# Every process of every server must see the same keys: no per-process prefix here.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ["REDIS_URL"],
        "KEY_PREFIX": os.environ["PAYWALL_CACHE_PREFIX"],
    }
}
# A shared cache, so the paywall's per-process cache warning (W001) must stay quiet unsilenced.
SILENCED_SYSTEM_CHECKS: list[str] = []
