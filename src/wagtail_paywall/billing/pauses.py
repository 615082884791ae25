"""Pauses that end by themselves: :func:`resume_due_pauses` resumes each pause whose
``paused_until`` has come, at every provider that needs a site to do it.

Stripe resumes a ``pause_collection`` by itself at ``resumes_at`` and says so in a
webhook; the ``manual`` provider's daily schedule (``manage.py paywall_bank_transfers``)
ends its pauses. The ``fake`` provider only keeps state: a site (or a demo) runs
``manage.py paywall_lifecycle`` hourly, or at least daily, to resume its pauses. Each
resume's webhook goes through the inbox, as a provider's would; a second run resumes
nothing more.

Until the resume is reported, the core counts a pause past its ``paused_until`` as
resumed for access (for the site's grace period), so a late run or a late webhook
locks nobody out (see ``docs/lifecycle.md``).
"""

from __future__ import annotations

from datetime import datetime

from membership_sdk.providers.base import Webhook
from membership_sdk.providers.simulated_lifecycle import SimulatedPlans

from ..program import get_program


def resume_due_pauses(now: datetime | None = None) -> list[tuple[str, Webhook]]:
    """Resume every due pause at the providers a site resumes them for (the ``fake``
    provider: any :class:`~membership_sdk.providers.simulated_lifecycle.SimulatedPlans`);
    returns each resume's provider name and webhook, for the caller to deliver to the
    inbox. ``now``: the providers' own clock by default."""
    program = get_program()
    sent: list[tuple[str, Webhook]] = []
    for name in sorted(program.providers):
        provider = program.providers[name]
        if isinstance(provider, SimulatedPlans):  # the others resume by themselves
            sent.extend((name, webhook) for webhook in provider.resume_due_pauses(now))
    return sent
