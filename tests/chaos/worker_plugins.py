"""Imported by the program when a worker process builds it (``PAYWALL["PLUGINS"]``),
once Django's apps are ready: logs membership writes and lifecycle hooks to the chaos
harness's tables."""

from __future__ import annotations

from . import harness

harness.install_write_log()
hook_log = harness.HookLog()
