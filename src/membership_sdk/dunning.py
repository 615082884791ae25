"""Dunning: what happens between a failed renewal payment and its recovery (or loss).

A payment service like Stripe retries a failed charge by itself; the ``fake`` provider
and the ``manual`` (bank transfer) provider do not. For those a site runs a
:class:`RetrySchedule`: the days after the first failure on which the charge is tried
again (``fake``, see :class:`RetriesPayments`) or the member is reminded to pay
(``manual``: a bank transfer cannot be retried, only asked for again).

Each failed-payment episode of a membership ends one of two ways: *recovered* (paid
again) or *lost* (the membership ended unpaid). :func:`recovery_rate` is the share of
the ended episodes that were recovered. Framework-free: adapters store the episodes and
run the schedule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from itertools import pairwise
from typing import Protocol, runtime_checkable

from .errors import MembershipError
from .providers.base import Webhook

#: Stripe's default Smart Retries window spread over a week, used when a site sets none.
DEFAULT_RETRY_DAYS: tuple[int, ...] = (1, 3, 5)
#: A schedule longer than this is a mistake (a year of reminders), not a policy.
MAX_RETRY_DAY = 365


class InvalidSchedule(MembershipError, ValueError):
    """A retry schedule that is not a rising list of whole days (the message says why)."""


class EpisodeState(StrEnum):
    """Where a failed-payment episode stands."""

    OPEN = "open"
    RECOVERED = "recovered"
    LOST = "lost"


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """Days after the first failure on which the next attempt is due, rising.

    ``RetrySchedule((1, 3, 5))``: the first retry one day after the failure, the second
    after three days, the third and last after five. An empty schedule never retries.

    :raises InvalidSchedule: a day is not a whole number from 1 to :data:`MAX_RETRY_DAY`,
        or the days do not rise.
    """

    days: tuple[int, ...] = DEFAULT_RETRY_DAYS

    def __post_init__(self) -> None:
        days = self.days
        if isinstance(days, (str, bytes)) or not isinstance(days, Iterable):
            raise InvalidSchedule(f"a retry schedule is a list of days; got {days!r}")
        days = tuple(days)
        for day in days:
            if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= MAX_RETRY_DAY:
                raise InvalidSchedule(
                    f"retry day {day!r} must be a whole number of days from 1 to "
                    f"{MAX_RETRY_DAY}; schedule {list(days)!r}"
                )
        for earlier, later in pairwise(days):
            if later <= earlier:
                raise InvalidSchedule(
                    f"retry days must rise: {later!r} follows {earlier!r} in {list(days)!r}"
                )
        object.__setattr__(self, "days", days)

    @property
    def attempts(self) -> int:
        """How many attempts the schedule makes after the first failure."""
        return len(self.days)

    def next_attempt(self, failed_at: datetime, attempts_made: int) -> datetime | None:
        """When attempt number ``attempts_made + 1`` is due, for a first failure at
        ``failed_at``; ``None`` once every attempt was made.

        :raises ValueError: ``attempts_made`` is negative.
        """
        if attempts_made < 0:
            raise ValueError(f"attempts_made must be 0 or more; got {attempts_made!r}")
        if attempts_made >= len(self.days):
            return None
        return failed_at + timedelta(days=self.days[attempts_made])

    def due(self, failed_at: datetime, attempts_made: int, now: datetime) -> bool:
        """Whether the next attempt is due at ``now`` (one attempt per run, however late
        the run: a site that missed days does not fire several attempts at once)."""
        at = self.next_attempt(failed_at, attempts_made)
        return at is not None and now >= at

    def is_last(self, attempts_made: int) -> bool:
        """Whether attempt number ``attempts_made`` was the schedule's last."""
        return attempts_made >= len(self.days)


@runtime_checkable
class RetriesPayments(Protocol):
    """Optional provider capability: charge a past-due subscription again on request.

    Providers whose service retries by itself (Stripe's Smart Retries) do not implement
    it; a site then only tracks their episodes.
    """

    def retry_payment(self, subscription_id: str) -> Webhook:
        """Try the past-due subscription's failed charge again; returns the webhook the
        service sends: ``payment.succeeded`` (active again) or ``payment.failed``.

        :raises ProviderError: code ``not_past_due`` when it is not past due.
        """
        ...


def recovery_rate(recovered: int, lost: int) -> float | None:
    """The share of ended episodes that were recovered (open ones are not counted yet);
    ``None`` when none has ended."""
    if recovered < 0 or lost < 0:
        raise ValueError(f"counts must be 0 or more; got recovered={recovered!r}, lost={lost!r}")
    ended = recovered + lost
    return recovered / ended if ended else None


def grace_ends(
    paid_through: datetime | None, period_end: datetime | None, grace: timedelta
) -> datetime | None:
    """When a past-due membership loses access: its last paid period's end (else the
    current period's) plus ``grace``, as :meth:`Membership.grants_access` decides."""
    paid = paid_through or period_end
    return None if paid is None else paid + grace
