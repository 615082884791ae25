"""The marked code blocks of ``docs/existing-site.md``, the page a developer follows to add
the paywall to an existing site.

Each block the harness applies is preceded by an HTML comment naming it
(``<!-- existing-site: settings -->``), invisible on the rendered page. The harness reads
the blocks from the page at test time, so the page and what is tested cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

PAGE = Path(__file__).resolve().parents[2] / "docs" / "existing-site.md"
#: The page whose "Downloads" section gives a site gated downloads.
GATING = PAGE.with_name("gating.md")

_BLOCK = re.compile(
    r"<!-- existing-site: (?P<name>[\w-]+) -->\n```(?P<lang>\w*)\n(?P<code>.*?)^```",
    re.S | re.M,
)

#: every block the harness uses, and its fence's language.
EXPECTED = {
    "settings": "python",
    "urls": "python",
    "models": "python",
    "migrate": "sh",
    "template": "django",
    "update-index": "sh",
    "search-view": "python",
    "catalog": "python",
    "no-provider-id-error": "text",
    "production": "python",
    "check": "sh",
    "test-settings": "python",
    "test-command": "sh",
    "site-test": "python",
}


@dataclass(frozen=True)
class Block:
    name: str
    lang: str
    code: str

    def commands(self) -> list[list[str]]:
        """A ``sh`` block's ``python manage.py ...`` lines, as argument lists (comments and
        other lines are explanations, not steps)."""
        found = []
        for line in self.code.splitlines():
            words = line.split("#", 1)[0].split()
            if words[:2] == ["python", "manage.py"]:
                found.append(words[2:])
        return found


def blocks(page: Path = PAGE) -> dict[str, Block]:
    """The page's marked blocks by name; every name in :data:`EXPECTED` must be there once,
    with its language."""
    text = page.read_text(encoding="utf-8")
    found: dict[str, Block] = {}
    for match in _BLOCK.finditer(text):
        name = match["name"]
        if name in found:
            raise AssertionError(f"{page.name} marks two blocks {name!r}")
        found[name] = Block(name, match["lang"], match["code"])
    missing = sorted(set(EXPECTED) - set(found))
    if missing:
        raise AssertionError(f"{page.name} lost its marked blocks {missing}")
    wrong = {n: b.lang for n, b in found.items() if n in EXPECTED and b.lang != EXPECTED[n]}
    if wrong:
        raise AssertionError(f"{page.name}: blocks in an unexpected language: {wrong}")
    return found


def downloads(page: Path = GATING) -> tuple[str, str]:
    """The two ``python`` blocks of the "Downloads" section of ``docs/gating.md``: the
    paywalled document model, and its settings (the model's app named ``home``, where the
    stock site keeps its models, for the page's ``myapp``)."""
    text = page.read_text(encoding="utf-8")
    _, found, rest = text.partition("\n## Downloads\n")
    if not found:
        raise AssertionError(f"{page.name} lost its Downloads section")
    section = rest.split("\n## ", 1)[0]
    code = re.findall(r"^```python\n(.*?)^```", section, re.S | re.M)
    if len(code) != 2 or "WAGTAILDOCS_DOCUMENT_MODEL" not in code[1]:
        raise AssertionError(
            f"{page.name}, Downloads: expected a model block and a settings block, got {code}"
        )
    model, settings = code
    return model, settings.replace('"myapp.', '"home.')
