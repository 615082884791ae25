"""Settings of the ``paywall_process_inbox`` processes the chaos tests start: the Wagtail
test site with the harness's write log and hook log (:mod:`tests.chaos.worker_plugins`)."""

from __future__ import annotations

from tests.wagtail.settings import *  # noqa: F403
from tests.wagtail.settings import PAYWALL

PAYWALL = {**PAYWALL, "PLUGINS": ("tests.chaos.worker_plugins.hook_log",)}
