"""Every dotted path the docs and the README name still imports: a module that moves
takes its documentation with it (the changelog alone keeps the old names)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(p for p in (ROOT / "docs").glob("*.md") if p.name != "changelog.md")
DOTTED = re.compile(r"\b((?:wagtail_paywall|membership_sdk)(?:\.[A-Za-z_]\w*)+)")
CHECK_ID = re.compile(r"^wagtail_paywall\.[EW]\d{3}$")


def resolves(name: str) -> bool:
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attribute in parts[cut:]:
                found = getattr(found, attribute)
        except AttributeError:
            return False
        return True
    return False


@pytest.mark.parametrize("page", [*PAGES, ROOT / "README.md"], ids=lambda p: p.name)
def test_every_dotted_path_a_page_names_imports(page: Path) -> None:
    names = {m.group(1) for m in DOTTED.finditer(page.read_text())}
    stale = sorted(n for n in names if not CHECK_ID.match(n) and not resolves(n))
    assert stale == [], f"{page.name} names paths that no longer import: {stale}"
