"""``manage.py paywall_erase_member``: erase members, or retry the pending erasures.

``paywall_erase_member 42 57`` erases members 42 and 57 exactly as the account page and
the admin do (:func:`wagtail_paywall.privacy.erase`): their subscriptions are canceled
now at every provider, then their rows are deleted, anonymised or (invoices) kept under a
pseudonym. ``--pending`` retries every erasure a provider outage left pending (run it
hourly from cron). Erasing a member again changes nothing. Exits with status 1 when an
erasure is still blocked, naming the provider.

See ``docs/privacy.md``.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from membership_sdk.privacy import ErasureBlocked

from ...models import Erasure
from ...privacy import erase, retry_pending


class Command(BaseCommand):
    help = "Erase members' paywall data (cancels their subscriptions now), or retry pending ones."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("member_ids", nargs="*", help="member ids (str(user.pk))")
        parser.add_argument(
            "--pending", action="store_true", help="retry the erasures left pending"
        )

    def handle(self, *args: Any, member_ids: list[str], pending: bool, **options: Any) -> None:
        if not member_ids and not pending:
            raise CommandError("name at least one member id, or pass --pending")
        blocked: list[str] = []
        for member_id in member_ids:
            try:
                erasure = erase(member_id, source=Erasure.Source.COMMAND)
            except ErasureBlocked as exc:
                blocked.append(f"member {member_id!r}: {exc}")
                continue
            self.stdout.write(f"Erased member {member_id!r} (kept as {erasure.pseudonym}).")
        if pending:
            done, still = retry_pending()
            for erasure in done:
                self.stdout.write(f"Finished pending erasure {erasure.pseudonym}.")
            blocked += [f"pending erasure {e.pseudonym}: {exc}" for e, exc in still]
        if blocked:
            raise CommandError("not erased yet (retry later):\n" + "\n".join(blocked))
