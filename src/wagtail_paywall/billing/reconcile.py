"""Reconciling the site's memberships with a provider: the Django glue around the core.

:func:`reconcile_site` runs :func:`membership_sdk.reconcile.reconcile` on the site's
program, for a provider configured in ``PAYWALL["PROVIDERS"]``; :class:`StateFile` keeps
a run's position between runs. ``manage.py paywall_reconcile`` is the command line on
top. What each outcome means is in :mod:`membership_sdk.reconcile`; ``docs/stripe.md``
("Reconciling with Stripe") shows a run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from membership_sdk.errors import ReconcileError
from membership_sdk.reconcile import (
    MAX_VANISHED,
    Finding,
    Progress,
    ReconcileState,
    listing_provider,
    reconcile,
)

from .. import conf
from ..program import get_program


class StateFile:
    """A run's position, kept as JSON in ``path`` (see :meth:`ReconcileState.to_dict`)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __str__(self) -> str:
        return str(self.path)

    def exists(self) -> bool:
        return self.path.exists()

    def save(self, state: ReconcileState | None) -> None:
        """Write ``state``; ``None`` removes the file (nothing is left to resume).

        Usable as the core's ``checkpoint``.
        """
        if state is None:
            self.path.unlink(missing_ok=True)
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(state.to_dict()))
        tmp.replace(self.path)  # atomic: an interrupted save never leaves half a file

    def load(self, provider: str) -> ReconcileState:
        """The position saved for ``provider``.

        :raises ReconcileError: there is no file, it is not JSON, or it is not a saved
            position of ``provider``; the message names the file.
        """
        name = repr(str(self.path))
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            raise ReconcileError(f"nothing to resume: no state file {name}") from None
        except ValueError as exc:
            raise ReconcileError(f"state file {name} is not JSON: {exc}") from exc
        return ReconcileState.from_dict(data, provider, source=f"state file {name}")


def reconcile_site(
    provider: str,
    *,
    state_file: StateFile,
    resume: bool = False,
    dry_run: bool = False,
    page_size: int = 100,
    max_vanished: int = MAX_VANISHED,
    report: Callable[[Finding], None] = lambda finding: None,
    progress: Progress | None = None,
) -> ReconcileState:
    """Reconcile the site's memberships with ``provider``; returns the final state.

    The position is saved in ``state_file`` as the run goes (never in a dry run) and the
    file is removed once the listing completes; ``resume`` continues from it.

    :raises ReconcileError: ``provider`` is not configured or cannot list its
        subscriptions, or ``resume`` finds no usable state file; nothing was done.
    :raises ReconcileInterrupted: the provider failed mid-listing; ``state_file`` holds
        the position to resume from.
    """
    program = get_program()
    if provider not in conf.providers() or provider not in program.providers:
        raise ReconcileError(
            f"no payment provider {provider!r} is configured; "
            f"PAYWALL['PROVIDERS'] has {sorted(conf.providers())}"
        )
    listing_provider(program, provider)  # a provider that cannot list is named before the file
    return reconcile(
        program,
        provider,
        resume_from=state_file.load(provider) if resume else None,
        dry_run=dry_run,
        page_size=page_size,
        max_vanished=max_vanished,
        report=report,
        progress=progress,
        checkpoint=state_file.save,
    )
