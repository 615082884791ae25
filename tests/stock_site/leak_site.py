"""The stock site's profile for the leak matrix, and what the matrix needs planted in it.

The site is the one :mod:`tests.stock_site.project` makes: ``wagtail start``, Wagtail's
API v2 at ``/api/v2/`` as Wagtail's docs add it, the paywall as ``docs/existing-site.md``
adds it, and gated downloads as ``docs/gating.md`` (Downloads) adds them. It has the page
model of that page (``home.ArticlePage``: no premium field, no ``{% entitled %}`` block in
its template) and the document model of the other (``home.PaywalledDocument``), and no
courses, so it holds the canaries of a premium, a purchase-only and a metered article, a
premium document and an unpublished draft. Its pages API is Wagtail's own
``PagesAPIViewSet``; its own search view is the stock one at ``/search/?query=``; it has
no sitemap.

Importing this module needs no Django settings: the outer test run reads the profile to
name its tests, the run inside the site (:mod:`tests.stock_site.leak_run`) plants with it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from tests.wagtail.leak_matrix import (
    CANARIES,
    PERSONAS,
    PURCHASE_ITEM,
    SearchView,
    SiteProfile,
    document,
    draft,
    metered_article,
    premium_article,
    purchase_article,
)

STOCK_SITE = SiteProfile(
    name="stock site",
    plant={
        CANARIES[0].name: premium_article(note_field=None),
        CANARIES[3].name: document,
        CANARIES[4].name: purchase_article,
        CANARIES[5].name: metered_article,
        CANARIES[6].name: draft(note_field=None),
    },
    features=frozenset(),
    stock_api="/api/v2/pages/",
    # The stock template lists each result as <h4><a href="{% pageurl result %}">.
    own_search=SearchView("/search/", "query", r'<h4><a href="([^"]+)"'),
    cache_page_urlconf="tests.stock_site.leak_urls",
)

#: The tier below Premium the wrong-tier persona holds (the page's catalog has Premium only).
SUPPORTER = {"slug": "supporter", "name": "Supporter", "rank": 0}


def catalog() -> dict[str, Any]:
    """Step 8's catalog as the page gives it (Premium and its price), and a lower tier."""
    from tests.stock_site.docsteps import blocks
    from wagtail_paywall.models import Tier

    exec(compile(blocks()["catalog"].code, "docs/existing-site.md#catalog", "exec"), {})
    Tier.objects.create(**SUPPORTER)
    return {tier.slug: tier for tier in Tier.objects.all()}


def article_maker() -> Callable[..., Any]:
    """Publish a ``home.ArticlePage`` under the site's home page, as an editor would."""
    from home.models import ArticlePage
    from wagtail.models import Site

    from tests.wagtail.gating_helpers import body

    home = Site.objects.get(is_default_site=True).root_page

    def make(rule: str = "tier", **fields: Any) -> Any:
        fields.setdefault("body", body())
        page = ArticlePage(paywall_rule=rule, **fields)
        home.add_child(instance=page)
        return page

    return make


def personas() -> dict[str, Any]:
    """The users of :data:`~tests.wagtail.leak_matrix.PERSONAS`, held as the test site's
    fixtures hold them (``tests/wagtail/conftest.py``, ``gating_fixtures.py``)."""
    from django.contrib.auth import get_user_model

    from membership_sdk import GrantKind
    from tests.wagtail.gating_helpers import FREE_READS, hold_membership, now
    from wagtail_paywall.models import MeterUsage
    from wagtail_paywall.program import get_program

    program = get_program()

    def user(name: str) -> Any:
        return get_user_model().objects.create_user(name, f"{name}@example.com", "x")

    reader, lapsed, supporter = user("reader"), user("lapsed"), user("supporter")
    metered_out, entitled = user("meteredout"), user("entitled")
    hold_membership(
        lapsed, "premium", "canceled", now() - timedelta(days=10), canceled_at=now() - timedelta(40)
    )
    program.grant(str(supporter.pk), GrantKind.COMP, tier="supporter", days=30)
    start = now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    for n in range(FREE_READS):
        MeterUsage.objects.create(
            member_id=str(metered_out.pk),
            meter="articles",
            resource_key=f"page:other-{n}",
            day=start.date(),
            used_at=start,
        )
    program.grant(str(entitled.pk), GrantKind.COMP, tier="premium", days=30)
    program.grant(str(entitled.pk), GrantKind.PURCHASE, item=PURCHASE_ITEM)
    users = {
        "anonymous": None,
        "free_member": reader,
        "lapsed": lapsed,
        "wrong_tier": supporter,
        "metered_out": metered_out,
        "entitled": entitled,
    }
    assert set(users) == set(PERSONAS), "a persona of the matrix has no user on the stock site"
    return users
