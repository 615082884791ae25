"""What a running A/B test of the paywall adds to a gated page, through the whole stack.

The same Premium article, served with its paywall (the visitor has no access) to a
signed-in member and to an anonymous visitor, in the same run, interleaved:

* ``no A/B test``: no test runs;
* ``A/B test running``: a test with two variants runs, one of them changing the meter
  size, so every decision asks for the visitor's variant. The visitor was exposed
  before (the warm case: their exposure is counted, their assignment known).

The two set-ups are swapped in this process only (the set-up a catalog check loads), so
both are measured under the same conditions. Targets: median ratio <= 1.02 and no extra
query on a warm view.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

import bench_wagtail
from benchlib import Check, Row, find

GROUP = "wagtail A/B"
MAX_RATIO = 1.02
_queries: dict[str, int] = {}


def _site() -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client
    from tests.wagtail.testapp.models import ArticlePage
    from wagtail.models import Site

    from wagtail_paywall import experiments
    from wagtail_paywall.models import PaywallTest, PaywallVariant, Price, Tier
    from wagtail_paywall.program import get_program

    call_command("migrate", verbosity=0, interactive=False)
    premium, _ = Tier.objects.get_or_create(
        slug="premium", defaults={"name": "Premium", "rank": 2, "entitlements": "content.premium"}
    )
    Tier.objects.get_or_create(slug="free", defaults={"name": "Free", "rank": 0})
    Price.objects.get_or_create(
        key="premium-monthly", defaults={"tier": premium, "amount": 1200, "currency": "EUR"}
    )
    user = get_user_model().objects.create_user("ab-reader", password="x")
    home = Site.objects.get(is_default_site=True).root_page
    body = [
        *bench_wagtail._paragraphs(3, "Teaser"),
        ("paywall", None),
        *bench_wagtail._paragraphs(12, "Premium"),
    ]
    page = ArticlePage(
        title="Premium A/B article", slug="premium-ab", body=body, paywall_rule="tier",
        paywall_min_tier=premium,
    )  # fmt: skip
    home.add_child(instance=page)

    get_program()
    without = experiments.setup()
    test = PaywallTest.objects.create(name="Bench", status=PaywallTest.Status.RUNNING)
    PaywallVariant.objects.create(test=test, name="A", heading="Keep reading", sort_order=0)
    PaywallVariant.objects.create(
        test=test, name="B", heading="Read on", meter_free=5, sort_order=1
    )
    get_program()  # the catalog check reloads the set-up
    running = experiments.setup()
    assert running.test_id == test.pk

    member = Client()
    member.force_login(user)
    anonymous = Client()
    return {
        "member": member,
        "anonymous": anonymous,
        "url": page.url,
        "without": without,
        "running": running,
    }


def _use(setup: Any) -> None:
    from wagtail_paywall import experiments

    experiments._current = setup


def _get(client: Any, url: str) -> Callable[[], object]:
    def serve() -> object:
        response = client.get(url)
        assert response.status_code == 200, response.status_code
        assert b"Teaser 2" in response.content
        assert b"Premium 11" not in response.content
        return response

    return serve


def _queries_of(func: Callable[[], object]) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    func()
    with CaptureQueriesContext(connection) as queries:
        func()
    return len(queries)


def run() -> list[Row]:
    if not bench_wagtail._READY:
        return []
    import benchlib

    site = _site()
    cases = {
        "member": _get(site["member"], site["url"]),
        "anonymous": _get(site["anonymous"], site["url"]),
    }
    setups = {"no test": site["without"], "test": site["running"]}
    for who, func in cases.items():
        for name, setup in setups.items():
            _use(setup)
            func()  # the exposure is counted, the cookie set: the warm case from here
            _queries[f"{who} {name}"] = _queries_of(func)

    pairs = max(40, benchlib.TIMER.repeats * 10)
    samples: dict[str, list[float]] = {f"{w} {n}": [] for w in cases for n in setups}
    order = [(w, n) for w in cases for n in setups]
    for i in range(pairs):
        turn = i % len(order)
        for who, name in order[turn:] + order[:turn]:
            _use(setups[name])
            samples[f"{who} {name}"].append(bench_wagtail._time_one(cases[who]))
    _use(site["running"])

    def row(key: str, label: str) -> Row:
        return Row(
            group=GROUP,
            name=label,
            median_us=statistics.median(samples[key]) * 1e6,
            best_us=min(samples[key]) * 1e6,
            loops=1,
            repeats=pairs,
            note=f"{_queries[key]} queries warm",
        )

    return [
        row("member no test", "member, paywall, no A/B test"),
        row("member test", "member, paywall, A/B test running"),
        row("anonymous no test", "anonymous, paywall, no A/B test"),
        row("anonymous test", "anonymous, paywall, A/B test running"),
    ]


def checks(rows: list[Row]) -> list[Check]:
    result = []
    for who in ("member", "anonymous"):
        base = find(rows, GROUP, f"{who}, paywall, no A/B test")
        test = find(rows, GROUP, f"{who}, paywall, A/B test running")
        if not (base and test):
            continue
        ratio = test[0].median_us / base[0].median_us
        extra = _queries[f"{who} test"] - _queries[f"{who} no test"]
        result += [
            Check(
                f"wagtail A/B: {who}, test running / none",
                f"{ratio:.3f}x",
                f"<= {MAX_RATIO}x",
                ratio <= MAX_RATIO,
            ),
            Check(f"wagtail A/B: {who}, extra queries, warm", str(extra), "0", extra <= 0),
        ]
    return result
