"""The quick start's example runs, and prints what the page says it prints."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

QUICKSTART = Path(__file__).resolve().parents[2] / "docs" / "quickstart.md"


def example_and_output() -> tuple[str, str]:
    text = QUICKSTART.read_text(encoding="utf-8")
    match = re.search(
        r"<!-- quickstart-example.*?-->\n```python\n(?P<code>.*?)```\n\nIt prints:\n\n"
        r"```text\n(?P<output>.*?)```",
        text,
        re.S,
    )
    assert match is not None, "docs/quickstart.md lost its marked example"
    return match["code"], match["output"]


def test_the_quickstart_example_is_about_twenty_lines() -> None:
    code, _ = example_and_output()
    assert len(code.strip().splitlines()) <= 25


def test_the_quickstart_example_prints_what_the_page_says() -> None:
    code, output = example_and_output()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, str(QUICKSTART), "exec"), {"__name__": "quickstart"})
    assert printed.getvalue() == output
