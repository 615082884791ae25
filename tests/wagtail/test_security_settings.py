"""The demo's production settings: secrets come from the environment only, the process
refuses to start without them, and ``manage.py check --deploy`` is clean. Its development
settings (``make demo``) never take the fake provider's published secret with DEBUG off.

Each case runs ``manage.py`` in a fresh process with only the environment it names, as
a deployment would.
"""

from __future__ import annotations

import importlib.util
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("allauth", reason="the demo site needs django-allauth")

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo_site"
PRODUCTION = DEMO / "demo_site" / "production.py"


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``manage.py`` of the demo under ``demo_site.production`` with only ``env`` set."""
    base = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        "DJANGO_SETTINGS_MODULE": "demo_site.production",
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=DEMO,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def deployment(tmp_path: Path) -> dict[str, str]:
    """What an operator sets: a secret key, the host, the database, a shared cache."""
    return {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "news.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "MANUAL_WEBHOOK_SECRET": secrets.token_urlsafe(32),
        # Only named: the checks never connect.
        "REDIS_URL": "redis://127.0.0.1:6379/0",
    }


def test_check_deploy_is_clean_for_the_production_settings(tmp_path: Path) -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", **deployment(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def with_stripe_keys(tmp_path: Path) -> dict[str, str]:
    env = deployment(tmp_path)
    env.update(STRIPE_API_KEY="sk_test_from_env", STRIPE_WEBHOOK_SECRET="whsec_from_env")
    return env


def test_check_deploy_is_clean_with_stripe_keys_from_the_environment(tmp_path: Path) -> None:
    pytest.importorskip("stripe", reason="selling through Stripe needs the stripe extra")
    result = manage("check", "--deploy", "--fail-level", "WARNING", **with_stripe_keys(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_stripe_keys_without_the_stripe_package_stop_the_site_naming_the_extra(
    tmp_path: Path,
) -> None:
    if importlib.util.find_spec("stripe") is not None:
        pytest.skip("the stripe package is installed here")
    result = manage("check", "--deploy", **with_stripe_keys(tmp_path))
    assert result.returncode != 0
    assert "wagtail_paywall.E006" in result.stderr
    assert "pip install 'membership-sdk[stripe]'" in result.stderr


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL"])
def test_production_refuses_to_start_without_a_required_variable(
    tmp_path: Path, missing: str
) -> None:
    env = deployment(tmp_path)
    del env[missing]
    result = manage("check", **env)
    assert result.returncode != 0
    assert f"needs the environment variable {missing}" in result.stderr


def test_a_stripe_key_without_its_webhook_secret_refuses_to_start(tmp_path: Path) -> None:
    env = deployment(tmp_path)
    env["STRIPE_API_KEY"] = "sk_test_from_env"
    result = manage("check", **env)
    assert result.returncode != 0
    assert "needs the environment variable STRIPE_WEBHOOK_SECRET" in result.stderr


def test_the_manual_provider_without_its_webhook_secret_refuses_to_start(tmp_path: Path) -> None:
    env = deployment(tmp_path)
    del env["MANUAL_WEBHOOK_SECRET"]
    result = manage("check", **env)
    assert result.returncode != 0
    assert "needs the environment variable MANUAL_WEBHOOK_SECRET" in result.stderr


def test_the_production_settings_hold_no_literal_secret() -> None:
    source = PRODUCTION.read_text()
    assert not re.search(r"\b(sk|rk|pk)_(live|test)_\w+|whsec_\w+", source)
    assert re.search(r'SECRET_KEY = required\("DJANGO_SECRET_KEY"\)', source)


# -- the demo's development settings ------------------------------------------------------------
def demo_check(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``manage.py check`` of the demo under its development settings (``make demo``)."""
    return manage(
        "check",
        DJANGO_SETTINGS_MODULE="demo_site.settings",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        DEMO_FAKE_STATE_FILE=str(tmp_path / "fake-state"),
        **env,
    )


def test_the_demo_runs_with_the_fake_providers_public_secret_while_debugging(
    tmp_path: Path,
) -> None:
    result = demo_check(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_demo_with_debug_off_refuses_the_published_secret(tmp_path: Path) -> None:
    result = demo_check(tmp_path, DJANGO_DEBUG="0")
    assert result.returncode != 0
    assert "wagtail_paywall.E001" in result.stderr
    assert "public development secret" in result.stderr
    assert 'PAYWALL["PROVIDERS"]["fake"]["secret"]' in result.stderr


def test_the_demo_with_debug_off_refuses_the_bank_transfers_published_secret(
    tmp_path: Path,
) -> None:
    result = demo_check(tmp_path, DJANGO_DEBUG="0", FAKE_WEBHOOK_SECRET=secrets.token_urlsafe(32))
    assert result.returncode != 0
    assert "wagtail_paywall.E001" in result.stderr
    assert 'PAYWALL["PROVIDERS"]["manual"]["secret"]' in result.stderr
    assert 'PAYWALL["PROVIDERS"]["fake"]' not in result.stderr


def test_the_demo_with_debug_off_runs_with_its_secrets_from_the_environment(
    tmp_path: Path,
) -> None:
    result = demo_check(
        tmp_path,
        DJANGO_DEBUG="0",
        FAKE_WEBHOOK_SECRET=secrets.token_urlsafe(32),
        MANUAL_WEBHOOK_SECRET=secrets.token_urlsafe(32),
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_demo_settings_hold_no_literal_webhook_secret() -> None:
    source = (DEMO / "demo_site" / "settings.py").read_text()
    assert not re.search(r'"secret":\s*"', source)
    assert "FAKE_WEBHOOK_SECRET" in source
    assert "MANUAL_WEBHOOK_SECRET" in source
