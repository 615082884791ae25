"""Fixtures of the stock site: made once per run, probed once per run.

The site's database is its own SQLite, or PostgreSQL when ``DATABASE_URL`` is set (a
test database of its own, dropped afterwards), as in the adapter's tox envs.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.stock_site import project
from tests.stock_site.docsteps import Block, blocks
from tests.wagtail.leak_matrix import OUTCOMES, Outcome, summary


@pytest.fixture(scope="session")
def steps() -> dict[str, Block]:
    return blocks()


@pytest.fixture(scope="session")
def database() -> dict[str, str]:
    """The environment that points the site at PostgreSQL, or nothing (its SQLite)."""
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        return {}
    return {
        "STOCK_SITE_DATABASE_URL": url,
        "STOCK_SITE_TEST_DATABASE": f"test_stock_site_{uuid.uuid4().hex[:12]}",
    }


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory, steps: dict[str, Block]) -> project.StockSite:
    """``wagtail start``, Wagtail's API, then the paywall as docs/existing-site.md says."""
    stock = project.start(tmp_path_factory.mktemp("stock") / "site")
    project.install_paywall(stock, steps)
    return stock


@pytest.fixture(scope="session")
def probed(site: project.StockSite, database: dict[str, str], tmp_path_factory: Any) -> Any:
    """Every channel's responses, from one run of :mod:`tests.stock_site.probe` inside the site."""
    out = tmp_path_factory.mktemp("probe") / "responses.json"
    result = site.run(
        "-m",
        "tests.stock_site.probe",
        str(out),
        DJANGO_SETTINGS_MODULE=f"{project.NAME}.settings.test",
        **database,
    )
    if result.returncode != 0:
        raise AssertionError(f"the probes failed inside the stock site:\n{result.output}")
    return json.loads(Path(out).read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def leak_matrix(
    site: project.StockSite, database: dict[str, str], tmp_path_factory: Any
) -> dict[str, Any]:
    """The leak matrix's outcomes and the parallel reads' responses, from one run of
    :mod:`tests.stock_site.leak_run` inside the site; the outcomes join the run's summary."""
    folder = tmp_path_factory.mktemp("leak-matrix")
    out = folder / "outcomes.json"
    # On SQLite, a test database in a file: the parallel reads need a connection per thread.
    sqlite = {} if database else {"STOCK_SITE_SQLITE_TEST_FILE": str(folder / "test.sqlite3")}
    result = site.run(
        "-m",
        "tests.stock_site.leak_run",
        str(out),
        DJANGO_SETTINGS_MODULE=f"{project.NAME}.settings.test",
        **database,
        **sqlite,
    )
    if result.returncode != 0:
        raise AssertionError(f"the leak matrix failed inside the stock site:\n{result.output}")
    found: dict[str, Any] = json.loads(Path(out).read_text(encoding="utf-8"))
    OUTCOMES.extend(Outcome(**outcome) for outcome in found["outcomes"])
    return found


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The stock site's leak matrix: its size and result, as the test site's prints it."""
    if OUTCOMES:
        terminalreporter.write_sep("-", "leak matrix")
        for line in summary(OUTCOMES):
            terminalreporter.write_line(line)


@pytest.fixture
def production_settings(site: project.StockSite, steps: dict[str, Block]) -> Iterator[str]:
    """The site's production settings with step 8's production block added, as a module
    of its own (the stock ``production.py`` is left as generated)."""
    stock = (site.settings / "production.py").read_text(encoding="utf-8")
    path = site.settings / "production_real.py"
    path.write_text(f"{stock}\n\n{steps['production'].code}", encoding="utf-8")
    yield f"{project.NAME}.settings.production_real"
    path.unlink()
