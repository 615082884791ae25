"""What every benchmark module shares: a timer, rows, checks and the table printer.

A benchmark module is a file ``benchmarks/bench_*.py`` exposing::

    def run() -> list[Row]: ...                     # required: measure, return rows
    def checks(rows: list[Row]) -> list[Check]: ... # optional: targets over all rows

``run.py`` discovers the modules, runs them, prints one table and the checks, and exits
non-zero when a check fails. ``checks`` sees the rows of *every* module, so a target may
compare measurements taken in different modules of the same run.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Row:
    """One measurement: the median time per call over ``repeats`` batches of ``loops``."""

    group: str
    name: str
    median_us: float
    best_us: float
    loops: int
    repeats: int
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Check:
    """A target: ``measured`` against ``target``, both as display strings."""

    name: str
    measured: str
    target: str
    ok: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Timer:
    """Settings for :func:`measure`; ``run.py --quick`` lowers them."""

    repeats: int = 25
    batch_seconds: float = 0.02
    extra: dict[str, Any] = field(default_factory=dict)


TIMER = Timer()


# CPU time of this thread, not wall time: on a shared machine (CI, two cores, other jobs)
# wall time also counts the time spent waiting for a core, which says nothing about the
# code. Both sides of every comparison are measured the same way.
_clock = time.thread_time


def _batch(func: Callable[[], object], loops: int) -> float:
    """CPU seconds for ``loops`` calls of ``func`` (the loop is included, as in timeit)."""
    start = _clock()
    for _ in range(loops):
        func()
    return _clock() - start


def samples(func: Callable[[], object]) -> tuple[int, list[float]]:
    """Time ``func``: calibrate a batch to ``TIMER.batch_seconds``, then return the loop
    count and the seconds per call of ``TIMER.repeats`` batches, garbage collector off."""
    func()  # warm caches, as a live server would have
    loops = 1
    while _batch(func, loops) < TIMER.batch_seconds / 4 and loops < 10_000_000:
        loops *= 4
    loops = max(1, int(loops * TIMER.batch_seconds / max(_batch(func, loops), 1e-9)))
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return loops, [_batch(func, loops) / loops for _ in range(TIMER.repeats)]
    finally:
        if gc_was_enabled:
            gc.enable()


def row(group: str, name: str, loops: int, per_call: Sequence[float], note: str = "") -> Row:
    """A row from per-call times in seconds (several :func:`samples` may be pooled)."""
    return Row(
        group=group,
        name=name,
        median_us=statistics.median(per_call) * 1e6,
        best_us=min(per_call) * 1e6,
        loops=loops,
        repeats=len(per_call),
        note=note,
    )


def measure(group: str, name: str, func: Callable[[], object], note: str = "") -> Row:
    """:func:`samples` of ``func`` as one row: the median time per call, and the best."""
    loops, per_call = samples(func)
    return row(group, name, loops, per_call, note)


def interleaved(
    cases: Sequence[tuple[str, str, Callable[[], object], str]], rounds: int = 3
) -> list[Row]:
    """Measure ``(group, name, func, note)`` cases in turn, ``rounds`` times, and pool each
    case's samples: a slow spell of a shared machine then hits every case alike, which
    keeps ratios between them honest."""
    pooled: dict[int, tuple[int, list[float]]] = {}
    for _ in range(rounds):
        for i, (_, _, func, _) in enumerate(cases):
            loops, per_call = samples(func)
            pooled.setdefault(i, (loops, []))[1].extend(per_call)
    return [
        row(group, name, pooled[i][0], pooled[i][1], note)
        for i, (group, name, _, note) in enumerate(cases)
    ]


def find(rows: Sequence[Row], group: str, name: str | None = None) -> list[Row]:
    """Rows of ``group`` (and ``name``, if given)."""
    return [r for r in rows if r.group == group and (name is None or r.name == name)]


def format_table(rows: Sequence[Row]) -> str:
    """Rows as an aligned plain-text table."""
    header = ("group", "benchmark", "median µs", "best µs", "loopsxruns", "note")
    body = [
        (
            r.group,
            r.name,
            f"{r.median_us:.3f}",
            f"{r.best_us:.3f}",
            f"{r.loops}x{r.repeats}",
            r.note,
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in (header, *body)) for i in range(len(header))]
    right = {2, 3, 4}

    def fmt(line: Sequence[str]) -> str:
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(line)
        ]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(header), rule, *(fmt(line) for line in body)])


def format_checks(checks: Sequence[Check]) -> str:
    width = max((len(c.name) for c in checks), default=0)
    return "\n".join(
        f"{'PASS' if c.ok else 'FAIL'}  {c.name.ljust(width)}  {c.measured}  (target {c.target})"
        for c in checks
    )
