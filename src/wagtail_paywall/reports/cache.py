"""The reports' cache: results kept for :data:`TTL` seconds under a key naming the report,
its parameters and the ledger's generation, which every ledger write replaces, so a
report never outlives the data it was computed from by more than a page load.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TypeVar

from ..caching import cache as django_cache

T = TypeVar("T")

#: Seconds a report is kept (also when the ledger does not change: "now" moves on).
TTL = 5 * 60
GEN_KEY = "paywall:reports:gen"
KEY = "paywall:reports:{gen}:{name}"


def generation() -> str:
    """The ledger's current generation token (made on first use)."""
    store = django_cache()
    gen = store.get(GEN_KEY)
    if gen is None:
        store.add(GEN_KEY, uuid.uuid4().hex, None)
        gen = store.get(GEN_KEY)
    return str(gen)


def changed() -> None:
    """The ledger changed: every cached report is stale."""
    django_cache().set(GEN_KEY, uuid.uuid4().hex, None)


def cached(name: str, compute: Callable[[], T]) -> T:
    """``compute()``'s result, from the cache when the ledger has not changed since it was
    computed in the last :data:`TTL` seconds. ``name`` names the report and its
    parameters (``"mrr:12"``)."""
    store = django_cache()
    key = KEY.format(gen=generation(), name=name)
    found = store.get(key)
    if found is not None:
        return found  # type: ignore[no-any-return]
    result = compute()
    store.set(key, result, TTL)
    return result
