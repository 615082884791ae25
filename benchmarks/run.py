"""Run the benchmarks: ``python benchmarks/run.py [--json FILE] [--quick] [-k NAME]``.

Every ``benchmarks/bench_*.py`` module is a benchmark: its ``run()`` returns rows and its
optional ``checks(rows)`` returns targets over the rows of the whole run. The rows are
printed as one table, then the checks as PASS/FAIL lines; the exit status is 1 when a
check fails. ``--json FILE`` (``-`` for stdout) also writes rows, checks and the machine.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import platform
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import benchlib  # noqa: E402


def discover(names: list[str]) -> list[ModuleType]:
    """The ``bench_*`` modules, in name order; only those matching ``names`` if given."""
    stems = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if names:
        stems = [s for s in stems if any(n in s for n in names)]
    return [importlib.import_module(stem) for stem in stems]


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for dist in ("membership-sdk", "pluggy", "django", "wagtail", "gunicorn", "psycopg"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    import os

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "packages": versions,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", dest="names", action="append", default=[], help="module filter")
    parser.add_argument("--json", metavar="FILE", help="also write results as JSON ('-': stdout)")
    parser.add_argument("--quick", action="store_true", help="fewer, shorter runs (smoke test)")
    args = parser.parse_args(argv)
    if args.quick:
        benchlib.TIMER.repeats, benchlib.TIMER.batch_seconds = 5, 0.002

    modules = discover(args.names)
    rows: list[benchlib.Row] = []
    for module in modules:
        rows.extend(module.run())
    checks: list[benchlib.Check] = []
    for module in modules:
        if hasattr(module, "checks"):
            checks.extend(module.checks(rows))

    info = machine()
    out = sys.stderr if args.json == "-" else sys.stdout
    print(
        f"{info['cpu']}, {info['cores']} cores, {info['python']}, "
        + ", ".join(f"{k} {v}" for k, v in info["packages"].items()),
        file=out,
    )
    print(file=out)
    print(benchlib.format_table(rows), file=out)
    if checks:
        print(file=out)
        print(benchlib.format_checks(checks), file=out)
    failed = [c for c in checks if not c.ok]

    if args.json:
        payload = {
            "machine": info,
            "rows": [r.as_dict() for r in rows],
            "checks": [c.as_dict() for c in checks],
            "ok": not failed,
        }
        text = json.dumps(payload, indent=2, ensure_ascii=False)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n", encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
