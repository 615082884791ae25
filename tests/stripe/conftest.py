"""Fixtures for the Stripe provider tests.

Two kinds of Stripe stand in for the real one, each behind its own marker so it can run
alone:

- ``localstripe`` (``pytest -m localstripe``): a real, stateful Stripe-compatible server
  (the ``localstripe`` package from PyPI), started once per session as a subprocess on
  127.0.0.1 and a free port, from scratch, and stopped at the end.
- ``stripe_replay`` (``pytest -m stripe_replay``): the ``stripe`` SDK with an HTTP client
  that replays recorded responses of API version 2026-10-28.endive (see ``replay.py``),
  for what localstripe lacks: prices, Checkout Sessions, the Billing Portal, invoice
  previews and ``customer.subscription.updated`` events.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("stripe", reason="the Stripe provider tests need the 'stripe' extra")

from membership_sdk import Catalog, Interval, MemoryStore, Price, Tier
from membership_sdk.providers.stripe import StripeProvider

from .replay import ReplayClient

HERE = Path(__file__).parent
WEBHOOK_SECRET = "whsec_test_current"
OLD_WEBHOOK_SECRET = "whsec_test_rotated_out"
#: Set to run localstripe from another interpreter (e.g. a separate venv's python).
LOCALSTRIPE_PYTHON = os.environ.get("LOCALSTRIPE_PYTHON", sys.executable)


@pytest.fixture(scope="session")
def localstripe_url() -> Iterator[str]:
    """The base URL of a localstripe server on 127.0.0.1, started for this session."""
    try:
        import localstripe  # noqa: F401
    except ImportError:
        if sys.executable == LOCALSTRIPE_PYTHON:
            pytest.skip("localstripe is not installed (pip install localstripe)")
    proc = subprocess.Popen(
        [LOCALSTRIPE_PYTHON, str(HERE / "localstripe_server.py")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line.isdigit():
            raise RuntimeError(f"localstripe did not start (said {line!r})")
        url = f"http://127.0.0.1:{line}"
        deadline = time.monotonic() + 15
        while True:
            try:
                urllib.request.urlopen(f"{url}/v1/balance", timeout=1)
                break
            except urllib.error.HTTPError:
                break  # it answers (401 without a key): up
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("localstripe did not come up within 15 s") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def localstripe(localstripe_url: str) -> StripeProvider:
    """A provider talking to the session's localstripe server, with no SDK retries."""
    return StripeProvider(
        "sk_test_localstripe",
        webhook_secrets=[WEBHOOK_SECRET],
        api_base=localstripe_url,
        max_network_retries=0,
    )


@pytest.fixture
def replay() -> ReplayClient:
    return ReplayClient()


@pytest.fixture
def stripe_provider(replay: ReplayClient) -> StripeProvider:
    """A provider whose requests are answered by ``replay``."""
    return StripeProvider(
        "sk_test_replay",
        webhook_secrets=[WEBHOOK_SECRET, OLD_WEBHOOK_SECRET],
        http_client=replay,
        max_network_retries=0,
    )


def gold_catalog(*, monthly: str = "price_RecGoldMonthly") -> Catalog:
    """A catalog whose prices carry the Stripe ids used by the recordings."""
    return Catalog(
        tiers=[
            Tier("free", "Free"),
            Tier("gold", "Gold", rank=2, entitlements=("content.premium",)),
        ],
        prices=[
            Price(
                "gold-monthly",
                900,
                "EUR",
                Interval.MONTH,
                tier="gold",
                provider_ids={"stripe": monthly},
            ),
            Price(
                "gold-yearly",
                9000,
                "EUR",
                Interval.YEAR,
                tier="gold",
                trial_days=14,
                provider_ids={"stripe": "price_RecGoldYearly"},
            ),
            Price(
                "ebook",
                500,
                "EUR",
                Interval.ONE_OFF,
                item="ebook.python",
                provider_ids={"stripe": "price_RecEbook"},
            ),
        ],
    )


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()
