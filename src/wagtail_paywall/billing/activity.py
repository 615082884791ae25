"""Reading activity: which days each member read, at most one write per member and day.

:func:`note_read` is called by the gates (:mod:`wagtail_paywall.gating`) for every page or
document a signed-in member is allowed to read. A warm view costs nothing: this process
remembers the members it already recorded today (:class:`ReadDays`), so the second view of
the day touches neither the cache nor the database. The first view of the day in a process
asks the shared cache to ``add`` the member's key for the day; only the process whose
``add`` wins (Redis ``SET NX``: exactly one across every server) writes the day's row, with
one ``INSERT`` that ignores a row already there. Anonymous visitors are not tracked.

A failure to record (the cache or the database down) is logged and forgets the day's key,
so a later view records it again; the page itself is always served.

See ``docs/at-risk.md`` (Reading activity).
"""

from __future__ import annotations

import logging
import threading
from datetime import date, datetime

from django.db import router, transaction
from django.http import HttpRequest
from django.utils import timezone

from ..access import NO_SPEND_METHODS, member_context
from ..caching import cache
from ..models import ReadingActivity

logger = logging.getLogger(__name__)

#: The shared cache's key of "this member's reading of this day is recorded".
READ_KEY = "paywall:read:{member}:{day}"
#: Seconds the key is kept: past the day's end in every time zone.
READ_KEY_TIMEOUT = 2 * 24 * 60 * 60


def activity_day(moment: datetime) -> date:
    """The day ``moment`` counts for: the site's local date (``TIME_ZONE``)."""
    return timezone.localdate(moment)


class ReadDays:
    """The members this process recorded today, at most ``size`` of them.

    Past ``size`` the memory starts again: a member it forgot costs one cache ``add`` that
    fails (another view recorded the day), never a second write.
    """

    def __init__(self, size: int = 100_000) -> None:
        self.size = size
        self._day: date | None = None
        self._members: set[str] = set()
        self._lock = threading.Lock()

    def remembers(self, member_id: str, day: date) -> bool:
        with self._lock:
            return day == self._day and member_id in self._members

    def remember(self, member_id: str, day: date) -> None:
        with self._lock:
            if day != self._day:
                if self._day is not None and day < self._day:
                    return  # a view still finishing yesterday's: today's memory stays
                self._day, self._members = day, set()
            if len(self._members) >= self.size:
                self._members = set()
            self._members.add(member_id)

    def clear(self) -> None:
        with self._lock:
            self._day, self._members = None, set()


#: This process's memory of the members it recorded today.
read_days = ReadDays()


def _insert_day(member_id: str, day: date) -> None:
    """The day's row, in one ``INSERT`` ignoring a row already there."""
    row = ReadingActivity(member_id=member_id, day=day, reads=1)
    alias = router.db_for_write(ReadingActivity)
    if transaction.get_connection(alias).in_atomic_block:
        # Inside the request's transaction: a failure must not break the rest of it.
        with transaction.atomic(using=alias):
            ReadingActivity.objects.using(alias).bulk_create([row], ignore_conflicts=True)
    else:
        ReadingActivity.objects.using(alias).bulk_create([row], ignore_conflicts=True)


def record_read(member_id: str, moment: datetime) -> bool:
    """Record that ``member_id`` read on ``moment``'s day; whether this call wrote the row.

    At most one call per member and day writes, across processes sharing the cache.
    """
    day = activity_day(moment)
    if read_days.remembers(member_id, day):
        return False
    key = READ_KEY.format(member=member_id, day=day.isoformat())
    store = cache()
    try:
        first = store.add(key, 1, READ_KEY_TIMEOUT)
    except Exception:
        logger.exception("could not note the reading of member %r", member_id)
        return False
    wrote = False
    if first:
        try:
            _insert_day(member_id, day)
            wrote = True
        except Exception:
            logger.exception("could not record the reading of member %r", member_id)
            try:
                store.delete(key)  # a later view tries again
            except Exception:
                logger.exception("could not forget the reading key of member %r", member_id)
            return False
    read_days.remember(member_id, day)
    return wrote


def note_read(request: HttpRequest) -> None:
    """Record the reading of the signed-in member of ``request`` (anonymous: nothing).

    A ``HEAD`` or ``OPTIONS`` request reads nothing and is not recorded.
    """
    if request.method in NO_SPEND_METHODS:
        return
    ctx = member_context(request)  # resolved already by the gate: no query
    if ctx.member_id is None:
        return
    record_read(ctx.member_id, ctx.now)
