"""Make the stock site: ``wagtail start`` with the installed Wagtail, Wagtail's API v2 as
Wagtail's docs set it up, then the paywall exactly as ``docs/existing-site.md`` says, and
gated downloads (a document model with ``PaywallDocumentMixin``) as the "Downloads"
section of ``docs/gating.md`` says.

Nothing is downloaded: ``wagtail start`` copies the project template shipped inside the
installed Wagtail, so the site is the stock one of whichever Wagtail version is installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.stock_site.docsteps import Block, blocks, downloads

NAME = "mysite"  # the project name docs/existing-site.md uses
ROOT = Path(__file__).resolve().parents[2]

# Wagtail's API v2 as "Wagtail API v2 configuration" (docs.wagtail.org) sets it up: the
# site as it was before the paywall came.
STOCK_API = """\
from wagtail.api.v2.router import WagtailAPIRouter
from wagtail.api.v2.views import PagesAPIViewSet
from wagtail.documents.api.v2.views import DocumentsAPIViewSet
from wagtail.images.api.v2.views import ImagesAPIViewSet

# Create the router. "wagtailapi" is the URL namespace
api_router = WagtailAPIRouter("wagtailapi")

# Add the three endpoints using the "register_endpoint" method.
api_router.register_endpoint("pages", PagesAPIViewSet)
api_router.register_endpoint("images", ImagesAPIViewSet)
api_router.register_endpoint("documents", DocumentsAPIViewSet)
"""
STOCK_API_APPS = '\nINSTALLED_APPS += ["wagtail.api.v2", "rest_framework"]\n'

# The harness's own settings, in the ``local.py`` every settings module of a
# ``wagtail start`` project imports last: another database when asked, and the
# secrets a production check needs. None of it comes from the docs.
LOCAL_SETTINGS = """\
import os

if os.environ.get("STOCK_SITE_DATABASE_URL"):
    import dj_database_url

    DATABASES = {"default": dj_database_url.parse(os.environ["STOCK_SITE_DATABASE_URL"])}
    DATABASES["default"]["TEST"] = {"NAME": os.environ["STOCK_SITE_TEST_DATABASE"]}

elif os.environ.get("STOCK_SITE_SQLITE_TEST_FILE"):
    # A test database in a file, where threads each have a connection of their own (the
    # leak matrix's parallel reads); Django's default in-memory one shares one cache.
    from .base import DATABASES as STOCK_DATABASES

    DATABASES = {"default": {**STOCK_DATABASES["default"]}}
    DATABASES["default"]["TEST"] = {"NAME": os.environ["STOCK_SITE_SQLITE_TEST_FILE"]}

if os.environ.get("STOCK_SITE_SECRET_KEY"):
    SECRET_KEY = os.environ["STOCK_SITE_SECRET_KEY"]
    ALLOWED_HOSTS = ["www.example.com"]
"""


@dataclass(frozen=True)
class Result:
    args: list[str]
    returncode: int
    output: str  # stdout and stderr, interleaved


@dataclass(frozen=True)
class StockSite:
    path: Path

    @property
    def settings(self) -> Path:
        return self.path / NAME / "settings"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STOCK_SITE_")}
        env.pop("DJANGO_SETTINGS_MODULE", None)  # manage.py chooses, as it does for its owner
        # The project first; the source tree after it, for the probes' helpers only; then
        # whatever the caller had.
        outer = os.environ.get("PYTHONPATH", "")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(self.path), str(ROOT), outer) if p)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.update(extra)
        return env

    def run(self, *args: str, timeout: float = 600, **env: str) -> Result:
        """``python <args>`` in the project's folder, with this interpreter."""
        command = [sys.executable, *args]
        done = subprocess.run(
            command,
            cwd=self.path,
            env=self.env(**env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Result(command, done.returncode, done.stdout)

    def manage(self, *args: str, **env: str) -> Result:
        return self.run("manage.py", *args, **env)


def _must(result: Result) -> Result:
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(result.args)} failed:\n{result.output}")
    return result


def _append(path: Path, code: str) -> None:
    with path.open("a", encoding="utf-8") as file:
        file.write("\n\n" + code)


def _insert_into_urlpatterns(path: Path, code: str) -> None:
    """Into the first ``urlpatterns`` list, at its top: before Wagtail's catch-all."""
    text = path.read_text(encoding="utf-8")
    opening = "urlpatterns = [\n"
    if text.count(opening) != 1:
        raise AssertionError(f"{path} has no single {opening!r} to add the paywall's URLs to")
    path.write_text(text.replace(opening, opening + code, 1), encoding="utf-8")


def _paywall_paths(code: str) -> str:
    """The lines of the page's ``urlpatterns = [...]`` excerpt that add a path (its
    comment stands for the paths the project already has)."""
    lines = [line for line in code.splitlines() if line.strip().startswith("path(")]
    if not lines:
        raise AssertionError(f"the page's urls block adds no path(...):\n{code}")
    return "".join(line + "\n" for line in lines)


def start(folder: Path) -> StockSite:
    """``wagtail start mysite <folder>``, then Wagtail's API v2 as Wagtail's docs add it."""
    folder.mkdir(parents=True, exist_ok=True)
    site = StockSite(folder)
    _must(
        site.run(
            "-c",
            "import sys; from wagtail.bin.wagtail import main; sys.argv[0] = 'wagtail'; main()",
            "start",
            NAME,
            str(folder),
        )
    )
    (folder / NAME / "api.py").write_text(STOCK_API, encoding="utf-8")
    _append(site.settings / "base.py", STOCK_API_APPS)
    urls = folder / NAME / "urls.py"
    _insert_into_urlpatterns(urls, '    path("api/v2/", api_router.urls),\n')
    text = urls.read_text(encoding="utf-8")
    urls.write_text(
        text.replace("\nurlpatterns = [", "\nfrom .api import api_router\n\nurlpatterns = [", 1)
    )
    (site.settings / "local.py").write_text(LOCAL_SETTINGS, encoding="utf-8")
    return site


#: The stock search view's line that step 7 replaces.
STOCK_QUERY_LINE = '    search_query = request.GET.get("query", None)\n'


def _edit_search_view(path: Path, code: str) -> None:
    """Step 7: the block's imports at the top of ``search/views.py``, and the lines under
    its ``def search(request):`` in place of the stock view's first line."""
    head, found, body = code.partition("def search(request):\n")
    if not found or not body.strip():
        raise AssertionError(f"the page's search-view block has no view body:\n{code}")
    text = path.read_text(encoding="utf-8")
    if text.count(STOCK_QUERY_LINE) != 1:
        raise AssertionError(f"{path} has no single {STOCK_QUERY_LINE!r} to replace")
    text = text.replace(STOCK_QUERY_LINE, body.rstrip("\n") + "\n", 1)
    path.write_text(head.strip() + "\n\n" + text, encoding="utf-8")


def install_paywall(site: StockSite, steps: dict[str, Block] | None = None) -> None:
    """Steps 2 to 5, 7 and 10 of docs/existing-site.md, applied where the page says, with
    downloads gated as docs/gating.md (Downloads) says before the first ``migrate``."""
    steps = steps or blocks()
    _append(site.settings / "base.py", steps["settings"].code)
    _insert_into_urlpatterns(site.path / NAME / "urls.py", _paywall_paths(steps["urls"].code))
    _append(site.path / "home" / "models.py", steps["models"].code)
    document_model, document_settings = downloads()
    _append(site.path / "home" / "models.py", document_model)
    _append(site.settings / "base.py", document_settings)
    _edit_search_view(site.path / "search" / "views.py", steps["search-view"].code)
    for command in steps["migrate"].commands():
        _must(site.manage(*command))
    template = site.path / "home" / "templates" / "home" / "article_page.html"
    template.write_text(steps["template"].code, encoding="utf-8")
    (site.settings / "test.py").write_text(steps["test-settings"].code, encoding="utf-8")
    _append(site.path / "home" / "tests.py", steps["site-test"].code)
