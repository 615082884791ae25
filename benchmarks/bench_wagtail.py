"""A premium Wagtail article served to a subscriber, through the whole Django stack.

Three ways of serving the same page to the same signed-in member, in the same run:

* ``paywall on``: the page needs the Premium tier; the member holds it (their access is
  cached, as it is after their first request);
* ``paywall off``: the paywall's ``before_serve_page`` hook is unregistered;
* ``wagtail group restriction``: paywall off, and Wagtail's own view restriction lets
  only a group the member belongs to see the page.

Targets: paywall on / paywall off median ratio <= 1.05 with a warm cache, and at most one
extra query when the member's access is not cached (cold). The group restriction is
shown for comparison.
"""

from __future__ import annotations

import os
import statistics
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchlib import Check, Row, find

GROUP = "wagtail"
MAX_RATIO = 1.05
MAX_EXTRA_QUERIES_COLD = 1

ROOT = Path(__file__).resolve().parent.parent
_queries: dict[str, int] = {}


def _setup_django() -> bool:
    """Set up the test site's settings on an in-memory database; ``False`` without Wagtail."""
    try:
        import wagtail  # noqa: F401
    except ImportError:
        return False
    import django
    from django.conf import settings

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.wagtail.settings")
    # Always the in-memory SQLite database and the per-process cache: one process, no I/O.
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    if not settings.configured:
        settings.DEBUG  # noqa: B018 - loads the settings module
    django.setup()
    return "wagtail_paywall" in settings.INSTALLED_APPS


# Set up Django when the module is imported, before any other benchmark configures a
# minimal Django of its own (run.py imports every module before running any).
_READY = _setup_django()


def _paragraphs(n: int, text: str) -> list[tuple[str, Any]]:
    from wagtail.rich_text import RichText

    return [("paragraph", RichText(f"<p>{text} {i}. " + "Lorem ipsum dolor sit amet. " * 12))
            for i in range(n)]  # fmt: skip


def _site() -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.test import Client
    from tests.wagtail.testapp.models import ArticlePage
    from wagtail.models import PageViewRestriction, Site

    from membership_sdk import GrantKind
    from wagtail_paywall.models import Price, Tier
    from wagtail_paywall.program import get_program

    call_command("migrate", verbosity=0, interactive=False)
    premium = Tier.objects.create(
        slug="premium", name="Premium", rank=2, entitlements="content.premium"
    )
    Tier.objects.create(slug="free", name="Free", rank=0)
    Price.objects.create(key="premium-monthly", tier=premium, amount=1200, currency="EUR")
    user = get_user_model().objects.create_user("subscriber", password="x")
    get_program().grant(str(user.pk), GrantKind.COMP, tier="premium", days=30)

    home = Site.objects.get(is_default_site=True).root_page
    body = [
        *_paragraphs(3, "Teaser"),
        ("paywall", None),
        *_paragraphs(12, "Premium"),
    ]
    gated = ArticlePage(
        title="Premium article", slug="premium", body=body, paywall_rule="tier",
        paywall_min_tier=premium,
    )  # fmt: skip
    home.add_child(instance=gated)
    restricted = ArticlePage(title="Group article", slug="group", body=body)
    home.add_child(instance=restricted)
    staff = Group.objects.create(name="Subscribers")
    user.groups.add(staff)
    restriction = PageViewRestriction.objects.create(
        page=restricted, restriction_type=PageViewRestriction.GROUPS
    )
    restriction.groups.set([staff])

    client = Client()
    client.force_login(user)
    return {"client": client, "user": user, "gated": gated.url, "restricted": restricted.url}


@contextmanager
def _paywall_off() -> Iterator[None]:
    from wagtail import hooks

    from wagtail_paywall.wagtail_hooks import paywall_before_serve_page

    registered = hooks._hooks["before_serve_page"]
    entries = [e for e in registered if e[0] is paywall_before_serve_page]
    for entry in entries:
        registered.remove(entry)
    try:
        yield
    finally:
        registered.extend(entries)


def _get(client: Any, url: str, expect: str) -> Callable[[], object]:
    def serve() -> object:
        response = client.get(url)
        assert response.status_code == 200, response.status_code
        return response

    response = serve()
    assert expect in response.content.decode(), f"{url} did not show {expect!r}"
    return serve


def _count_queries(func: Callable[[], object], before: Callable[[], None]) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    func()
    before()
    with CaptureQueriesContext(connection) as queries:
        func()
    return len(queries)


def run() -> list[Row]:
    if not _READY:
        return []
    from wagtail_paywall.caching import invalidate_member

    site = _site()
    client, member = site["client"], str(site["user"].pk)
    on = _get(client, site["gated"], "Premium 11")
    with _paywall_off():
        off = _get(client, site["gated"], "Premium 11")
        group = _get(client, site["restricted"], "Premium 11")

    def cold() -> None:
        invalidate_member(member)

    def nothing() -> None:
        return None

    with _paywall_off():
        _queries["off"] = _count_queries(off, nothing)
    _queries["on warm"] = _count_queries(on, nothing)
    _queries["on cold"] = _count_queries(on, cold)

    # The three are measured interleaved, one request each in turn (the order rotating),
    # so that a slow spell of a shared machine hits all of them alike.
    import benchlib

    pairs = max(30, benchlib.TIMER.repeats * 8)
    samples: dict[str, list[float]] = {"on": [], "off": [], "group": [], "untracked": []}
    steps = [("on", on, False), ("off", off, True), ("group", group, True)]
    steps.append(("untracked", _untracked(on), False))
    for i in range(pairs):
        turn = i % len(steps)
        for name, func, paywall_off in steps[turn:] + steps[:turn]:
            if paywall_off:
                with _paywall_off():
                    samples[name].append(_time_one(func))
            else:
                samples[name].append(_time_one(func))

    def row(name: str, key: str, note: str) -> Row:
        return Row(
            group=GROUP,
            name=name,
            median_us=statistics.median(samples[key]) * 1e6,
            best_us=min(samples[key]) * 1e6,
            loops=1,
            repeats=pairs,
            note=note,
        )

    return [
        row("paywall on", "on", f"{_queries['on warm']} queries warm, {_queries['on cold']} cold"),
        row("paywall off", "off", f"{_queries['off']} queries"),
        row("wagtail group restriction", "group", "paywall off"),
        row(UNTRACKED, "untracked", "paywall on, reading activity not recorded"),
    ]


#: The paywall on with its reading-activity tracking taken out: the baseline of tracking.
UNTRACKED = "paywall on, no activity tracking"
MAX_TRACKING_RATIO = 1.02


def _untracked(serve: Callable[[], object]) -> Callable[[], object]:
    """``serve`` with :func:`wagtail_paywall.billing.activity.note_read` a no-op."""
    from wagtail_paywall import gating

    tracked = gating.note_read

    def untracked() -> object:
        gating.note_read = lambda request: None
        try:
            return serve()
        finally:
            gating.note_read = tracked

    return untracked


def _time_one(func: Callable[[], object]) -> float:
    """CPU seconds of one call, with the garbage collector off (as benchlib measures)."""
    import gc
    import time

    gc.disable()
    try:
        start = time.thread_time()
        func()
        return time.thread_time() - start
    finally:
        gc.enable()


def checks(rows: list[Row]) -> list[Check]:
    on = find(rows, GROUP, "paywall on")
    off = find(rows, GROUP, "paywall off")
    group = find(rows, GROUP, "wagtail group restriction")
    if not (on and off):
        return []
    ratio = on[0].median_us / off[0].median_us
    extra_cold = _queries["on cold"] - _queries["off"]
    extra_warm = _queries["on warm"] - _queries["off"]
    result = [
        Check(
            "wagtail: paywall on / off, warm",
            f"{ratio:.3f}x",
            f"<= {MAX_RATIO}x",
            ratio <= MAX_RATIO,
        ),
        Check(
            "wagtail: extra queries, warm",
            str(extra_warm),
            "0",
            extra_warm <= 0,
        ),
        Check(
            "wagtail: extra queries, cold",
            str(extra_cold),
            f"<= {MAX_EXTRA_QUERIES_COLD}",
            extra_cold <= MAX_EXTRA_QUERIES_COLD,
        ),
    ]
    untracked = find(rows, GROUP, UNTRACKED)
    if untracked:
        tracking = on[0].median_us / untracked[0].median_us
        result.append(
            Check(
                "wagtail: reading activity tracking, warm (on / on untracked)",
                f"{tracking:.3f}x",
                f"<= {MAX_TRACKING_RATIO}x",
                tracking <= MAX_TRACKING_RATIO,
            )
        )
    if group:
        vs_group = on[0].median_us / group[0].median_us
        result.append(
            Check(
                "wagtail: paywall on / wagtail group restriction",
                f"{vs_group:.3f}x",
                "shown for comparison",
                True,
            )
        )
    return result
