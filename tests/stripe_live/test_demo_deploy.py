"""The demo's production settings selling through Stripe pass ``check --deploy`` where the
``stripe`` extra is installed (the adapter's own envs run without it)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("allauth", reason="the demo site needs django-allauth")

from tests.wagtail.test_security_settings import manage, with_stripe_keys


def test_check_deploy_is_clean_with_stripe_keys_from_the_environment(tmp_path: Path) -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", **with_stripe_keys(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
