"""The ``--now`` option the paywall's daily commands share."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from wagtail_paywall.management.options import moment


@pytest.mark.parametrize(
    "command", ["paywall_at_risk", "paywall_dunning", "paywall_lifecycle", "paywall_referrals"]
)
def test_a_now_that_is_no_date_is_refused_naming_the_option(command: str) -> None:
    with pytest.raises(CommandError, match="--now"):
        call_command(command, "--now", "next tuesday")


def test_a_now_without_a_zone_is_in_the_sites_zone() -> None:
    when = moment("2026-12-01T06:00")

    assert when == timezone.make_aware(datetime(2026, 12, 1, 6, 0))


def test_a_now_with_a_zone_keeps_it() -> None:
    assert moment("2026-12-01T06:00+01:00").utcoffset().total_seconds() == 3600  # type: ignore[union-attr]
