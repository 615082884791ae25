"""Fixtures of the gating tests: pages of the test site, and the personas the shared
conftest does not provide (a lapsed member, a past-due member past grace, a member whose
free meter is used up).

Test modules load them with ``pytest_plugins = ["tests.wagtail.gating_fixtures"]``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from wagtail.models import Page, Site

from tests.wagtail.gating_helpers import FREE_READS, body, hold_membership, now
from tests.wagtail.testapp.models import ArticlePage, CoursePage, LessonPage
from wagtail_paywall.models import MeterUsage


@pytest.fixture
def home(db: Any) -> Page:
    """The root page of the default site."""
    return Site.objects.get(is_default_site=True).root_page


@pytest.fixture
def make_article(home: Page, catalog: Any) -> Callable[..., ArticlePage]:
    """Publish an article with a teaser, a paywall break and a premium paragraph."""
    count = iter(range(1, 10_000))

    def make(rule: str = "tier", **fields: Any) -> ArticlePage:
        n = next(count)
        fields.setdefault("title", f"Article {n}")
        fields.setdefault("slug", f"article-{n}")
        fields.setdefault("body", body())
        tiers = fields.pop("tiers", ())
        page = ArticlePage(paywall_rule=rule, **fields)
        page.paywall_tiers.set(tiers)  # in memory, saved with the page as in the editor
        home.add_child(instance=page)
        return page

    return make


@pytest.fixture
def make_course(home: Page, catalog: Any) -> Callable[..., CoursePage]:
    def make(rule: str = "tier", **fields: Any) -> CoursePage:
        fields.setdefault("title", "Python 101")
        fields.setdefault("slug", "python-101")
        fields.setdefault("body", body("Course overview.", "Course notes for members."))
        course = CoursePage(paywall_rule=rule, **fields)
        home.add_child(instance=course)
        return course

    return make


@pytest.fixture
def make_lesson() -> Callable[..., LessonPage]:
    count = iter(range(1, 10_000))

    def make(course: CoursePage, rule: str = "inherit", **fields: Any) -> LessonPage:
        n = next(count)
        fields.setdefault("title", f"Lesson {n}")
        fields.setdefault("slug", f"lesson-{n}")
        fields.setdefault("body", body(f"Lesson {n} teaser.", f"Lesson {n} premium text."))
        lesson = LessonPage(paywall_rule=rule, **fields)
        course.add_child(instance=lesson)
        return lesson

    return make


@pytest.fixture
def lapsed(make_user: Callable[..., Any], catalog: Any) -> Any:
    """A former Premium member: canceled, and the paid period ended ten days ago."""
    user = make_user("lapsed")
    hold_membership(
        user, "premium", "canceled", now() - timedelta(days=10), canceled_at=now() - timedelta(40)
    )
    return user


@pytest.fixture
def past_due(make_user: Callable[..., Any], catalog: Any) -> Any:
    """A Premium member whose payment failed and whose grace period (3 days) is over."""
    user = make_user("pastdue")
    hold_membership(user, "premium", "past_due", now() - timedelta(days=5))
    return user


@pytest.fixture
def metered_out(make_user: Callable[..., Any], catalog: Any) -> Any:
    """A free member who already read this month's free articles (other ones)."""
    user = make_user("meteredout")
    start = now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    for n in range(FREE_READS):
        MeterUsage.objects.create(
            member_id=str(user.pk),
            meter="articles",
            resource_key=f"page:other-{n}",
            day=start.date(),
            used_at=start,
        )
    return user


@pytest.fixture
def persona(
    request: pytest.FixtureRequest,
) -> Any:
    """The user of the persona named by the test's parameter (``None``: anonymous)."""
    name = request.param
    return None if name == "anonymous" else request.getfixturevalue(name)
