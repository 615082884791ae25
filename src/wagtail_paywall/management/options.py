"""Options the paywall's daily commands share."""

from __future__ import annotations

from datetime import datetime

from django.core.management.base import CommandParser
from django.utils import timezone


def moment(value: str) -> datetime:
    """An ISO date and time from the command line; a naive one is in the site's zone."""
    when = datetime.fromisoformat(value)
    if timezone.is_naive(when):
        when = timezone.make_aware(when)
    return when


def add_now(parser: CommandParser) -> None:
    """``--now``: run as if it were that moment (to catch up after an outage, or to
    rehearse a day ahead)."""
    parser.add_argument(
        "--now",
        type=moment,
        default=None,
        help="act as if it were this ISO date and time (to catch up, or to rehearse)",
    )
