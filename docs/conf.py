"""Sphinx configuration for the membership-sdk documentation (MyST markdown pages)."""

from __future__ import annotations

import sys
from pathlib import Path

# Autodoc imports the package from the source tree, so docs build without installing it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

project = "membership-sdk"
author = "The membership-sdk authors"
copyright = f"2026, {author}"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"

html_theme = "furo"
html_title = "membership-sdk"
