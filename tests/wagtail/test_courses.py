"""Courses: lessons follow their course's rule unless they set their own, and drip open."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.formats import date_format

from tests.wagtail.gating_helpers import hold_grant, now

pytest_plugins = ["tests.wagtail.gating_fixtures"]
pytestmark = pytest.mark.django_db


def html_for(client: Any, user: Any, page: Any) -> str:
    if user is not None:
        client.force_login(user)
    response = client.get(page.url)
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def course(make_course: Any, catalog: Any) -> Any:
    """A course for Supporters and above."""
    return make_course("tier", paywall_min_tier=catalog["supporter"])


@pytest.mark.parametrize(
    ("persona", "allowed"),
    [
        ("anonymous", False),
        ("reader", False),
        ("lapsed", False),
        ("supporter", True),
        ("premium", True),
    ],
    indirect=["persona"],
)
def test_a_lesson_follows_the_rule_of_its_course(
    client: Any, course: Any, make_lesson: Any, persona: Any, allowed: bool
) -> None:
    lesson = make_lesson(course)
    html = html_for(client, persona, lesson)
    assert lesson.title + " teaser." in html
    assert (lesson.title + " premium text." in html) is allowed


def test_a_lesson_with_its_own_rule_overrides_the_course(
    client: Any, course: Any, make_lesson: Any
) -> None:
    lesson = make_lesson(course, rule="public")
    assert "premium text." in html_for(client, None, lesson)


def test_a_lesson_sees_a_change_of_its_course_rule_at_once(
    client: Any, course: Any, make_lesson: Any
) -> None:
    lesson = make_lesson(course)
    assert "premium text." not in html_for(client, None, lesson)
    course.paywall_rule = "public"
    course.save()
    assert "premium text." in html_for(client, None, lesson)


def test_a_dripped_lesson_is_locked_for_a_member_who_just_joined(
    client: Any, course: Any, make_lesson: Any, supporter: Any
) -> None:
    lesson = make_lesson(course, paywall_drip_days=7)
    html = html_for(client, supporter, lesson)
    assert "premium text." not in html
    assert "This part opens soon" in html


def test_a_dripped_lesson_opens_the_configured_days_after_joining(
    client: Any, course: Any, make_lesson: Any, make_user: Any
) -> None:
    member = make_user("member")
    hold_grant(member, starts_at=now() - timedelta(days=8), tier="supporter")
    week_one = make_lesson(course, paywall_drip_days=7)
    week_two = make_lesson(course, paywall_drip_days=14)
    assert "premium text." in html_for(client, member, week_one)
    assert "premium text." not in html_for(client, member, week_two)


def test_the_course_page_shows_which_lessons_are_locked_and_when_they_open(
    client: Any, course: Any, make_lesson: Any, supporter: Any
) -> None:
    make_lesson(course, title="Welcome")
    make_lesson(course, title="Going further", paywall_drip_days=7)
    html = html_for(client, supporter, course)
    opens = date_format(now() + timedelta(days=7), "DATE_FORMAT")
    assert 'data-lesson-state="open"' in html
    assert html.count('data-lesson-state="locked"') == 1
    assert f"Locked: opens on {opens}" in html


def test_the_course_page_shows_lessons_as_locked_to_an_anonymous_visitor(
    client: Any, course: Any, make_lesson: Any
) -> None:
    make_lesson(course, title="Welcome")
    html = html_for(client, None, course)
    assert "Locked: for members" in html
    assert "Course notes for members." not in html


def count_queries(client: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return len(queries)


def test_inheriting_the_course_rule_costs_no_query_once_warm(
    client: Any, course: Any, make_lesson: Any, supporter: Any
) -> None:
    inherits = make_lesson(course)
    own_rule = make_lesson(course, rule="tier", paywall_min_tier=course.paywall_min_tier)
    client.force_login(supporter)
    client.get(inherits.url)
    client.get(own_rule.url)
    assert count_queries(client, inherits.url) == count_queries(client, own_rule.url)


def test_a_lesson_keeps_wagtails_own_validation(course: Any, make_lesson: Any) -> None:
    from django.core.exceptions import ValidationError

    make_lesson(course, slug="intro")
    with pytest.raises(ValidationError, match="slug"):
        make_lesson(course, slug="intro")
