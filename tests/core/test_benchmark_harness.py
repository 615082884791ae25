"""The benchmark runner: discovery, the table, the checks and the JSON output.

Runs ``--quick`` (a smoke test, not a measurement) and only the ``decide`` module.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def runner() -> Iterator[ModuleType]:
    sys.path.insert(0, str(BENCHMARKS))
    saved = dict(vars(importlib.import_module("benchlib").TIMER))
    try:
        yield importlib.import_module("run")
    finally:
        timer = importlib.import_module("benchlib").TIMER
        for key, value in saved.items():
            setattr(timer, key, value)
        sys.path.remove(str(BENCHMARKS))
        for name in ("run", "benchlib", "bench_decide"):
            sys.modules.pop(name, None)


def test_the_runner_measures_every_decide_case_and_writes_json(
    runner: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench.json"
    status = runner.main(["-k", "decide", "--quick", "--json", str(out)])
    result = json.loads(out.read_text(encoding="utf-8"))
    names = [row["name"] for row in result["rows"] if row["group"] == "decide"]
    assert names == [
        "min tier, allowed",
        "min tier, denied",
        "metered, re-read",
        "entitlement + quota",
        "AnyOf(tier, purchase)",
    ]
    assert all(row["median_us"] > 0 for row in result["rows"])
    assert status == (0 if result["ok"] else 1)
    assert {"cpu", "cores", "python", "packages"} <= set(result["machine"])
    printed = capsys.readouterr().out
    assert "median µs" in printed
    assert "decide ≤ 2 µs: min tier, allowed" in printed


def test_checks_fail_when_the_baseline_is_missing(runner: ModuleType) -> None:
    benchlib = importlib.import_module("benchlib")
    bench_decide = importlib.import_module("bench_decide")
    rows = [benchlib.Row("decide", "x", 0.5, 0.4, 10, 3)]
    checks = bench_decide.checks(rows)
    assert [c.ok for c in checks] == [True, False]
    assert "PASS" in benchlib.format_checks(checks[:1])
    assert "FAIL" in benchlib.format_checks(checks[1:])


def test_the_table_aligns_numbers_right(runner: ModuleType) -> None:
    benchlib = importlib.import_module("benchlib")
    table = benchlib.format_table(
        [benchlib.Row("g", "short", 1.0, 1.0, 1, 1), benchlib.Row("g", "longer", 10.0, 9.0, 1, 1)]
    )
    lines = table.splitlines()
    assert lines[2].index("1.000") + len("1.000") == lines[3].index("10.000") + len("10.000")
