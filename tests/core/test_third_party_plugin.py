"""A third-party provider installed with pip is discovered and passes the contract suite.

``examples/provider_plugin`` is built and installed, for real and without the network,
into a throwaway virtual environment that also sees the SDK under test. Then, in that
environment, the SDK must find the provider through its entry point and the example's
own contract test must pass.
"""

from __future__ import annotations

import inspect
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pluggy
import pytest

import membership_sdk
from membership_sdk.plugins import DISABLED_ENV, ENTRY_POINT_GROUP
from membership_sdk.testing import ProviderContract

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "provider_plugin"

LIST_PROVIDERS = (
    "from membership_sdk import Providers, get_plugin_manager; "
    "print(','.join(sorted(Providers(get_plugin_manager(), development=True))))"
)


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("COV_CORE_", "COVERAGE_", "PYTEST_")) and k != "PYTHONPATH"
    }
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env={**clean, "PIP_DISABLE_PIP_VERSION_CHECK": "1", **(env or {})},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(python of a fresh virtualenv with the example installed, the example's copy)."""
    pytest.importorskip("virtualenv", reason="creating the throwaway environment needs it")
    base = tmp_path_factory.mktemp("third-party")
    # Build from a copy: building writes build/ and *.egg-info next to the sources.
    source = shutil.copytree(
        EXAMPLE,
        base / "provider_plugin",
        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", ".pytest_cache"),
    )
    venv = base / "venv"
    # virtualenv (a dependency of tox) seeds pip and setuptools from bundled wheels, so
    # this needs no network, unlike `uv venv --seed`.
    _run(sys.executable, "-m", "virtualenv", "--quiet", "--no-periodic-update", venv, cwd=base)
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / ("python.exe" if os.name == "nt" else "python")
    purelib = _run(
        python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=base
    ).strip()
    # Let the new environment see the SDK under test and pytest exactly as installed here
    # (a wheel in tox, an editable install in a dev venv), after its own site-packages.
    parents = {
        *site.getsitepackages(),
        *(str(Path(m.__file__ or "").resolve().parents[1]) for m in (membership_sdk, pytest)),
        str(Path(pluggy.__file__ or "").resolve().parents[1]),
    }
    (Path(purelib) / "zz_sdk_under_test.pth").write_text(
        "import site; " + "; ".join(f"site.addsitedir({p!r})" for p in sorted(parents)) + "\n"
    )
    _run(
        python, "-m", "pip", "install", "--quiet", "--no-index", "--no-build-isolation",
        "--no-deps", source, cwd=base,
    )  # fmt: skip
    return python, source


def test_the_example_declares_the_providers_entry_point() -> None:
    pyproject = (EXAMPLE / "pyproject.toml").read_text(encoding="utf-8")

    assert f'[project.entry-points."{ENTRY_POINT_GROUP}"]' in pyproject
    assert 'voucher = "membership_provider_voucher"' in pyproject


def test_installing_the_example_registers_its_entry_point(plugin_env: tuple[Path, Path]) -> None:
    python, source = plugin_env

    found = _run(
        python,
        "-c",
        "from importlib.metadata import entry_points; "
        f"print([e.value for e in entry_points(group={ENTRY_POINT_GROUP!r}, name='voucher')])",
        cwd=source.parent,
    )

    assert found.strip() == "['membership_provider_voucher']"


def test_the_sdk_discovers_the_installed_provider(plugin_env: tuple[Path, Path]) -> None:
    python, source = plugin_env

    names = _run(python, "-c", LIST_PROVIDERS, cwd=source.parent).strip().split(",")

    assert "voucher" in names
    assert {"fake", "manual"} <= set(names)


def test_the_installed_provider_can_be_blocked_like_a_built_in(
    plugin_env: tuple[Path, Path],
) -> None:
    python, source = plugin_env

    names = _run(python, "-c", LIST_PROVIDERS, cwd=source.parent, env={DISABLED_ENV: "voucher"})

    assert "voucher" not in names.strip().split(",")


def test_the_installed_provider_passes_the_contract_suite(plugin_env: tuple[Path, Path]) -> None:
    python, source = plugin_env
    contract = [n for n, _ in inspect.getmembers(ProviderContract) if n.startswith("test_")]

    report = _run(python, "-m", "pytest", "-p", "no:cacheprovider", "-v", "tests", cwd=source)

    for name in contract:
        assert f"TestVoucherProvider::{name} " in report, f"{name} did not run"
    assert " failed" not in report
    assert "TestVoucherProvider::test_paid_checkout_grants_access PASSED" in report
