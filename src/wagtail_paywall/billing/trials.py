"""Trial reminders: fire ``membership_trial_ending`` once per trial that ends soon.

The daily ``manage.py paywall_trial_reminders`` calls :func:`remind_trials`; a
:class:`~wagtail_paywall.models.TrialReminder` row per membership and trial end records
who was told, so running it again (or twice at once) reminds nobody twice. See
``docs/journey.md`` (trial reminders).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from membership_sdk import Status

from ..models import Membership, TrialReminder
from ..program import get_program


def remind_trials(days: int, *, now: datetime | None = None) -> list[Membership]:
    """Fire ``membership_trial_ending`` for trials ending within ``days``, once each;
    returns the memberships reminded now."""
    now = now or timezone.now()
    program = get_program()
    ending = Membership.objects.filter(
        status=Status.TRIALING,
        trial_end__gt=now,
        trial_end__lte=now + timedelta(days=days),
    ).order_by("trial_end")
    reminded = []
    for row in ending:
        with transaction.atomic():
            _, created = TrialReminder.objects.get_or_create(
                membership_id=row.pk, trial_end=row.trial_end
            )
            if created:
                program.pm.hook.membership_trial_ending(membership=row.to_core(), event=None)
                reminded.append(row)
    return reminded
