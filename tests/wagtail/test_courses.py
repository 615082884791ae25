"""Courses: lessons follow their course's rule unless they set their own, and drip open from
the grant that holds the course: a purchase, or the tier since an upgrade."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.formats import date_format

from tests.wagtail.gating_helpers import hold_grant, now
from wagtail_paywall.models import Membership

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


# -- when the drip starts ---------------------------------------------------------------------
@pytest.fixture
def old_account(make_user: Any) -> Any:
    """A member who registered more than a year ago and holds no paid access."""
    return make_user("oldtimer", date_joined=now() - timedelta(days=400))


def test_a_course_bought_outright_drips_from_the_purchase_not_the_registration(
    client: Any, make_course: Any, make_lesson: Any, old_account: Any
) -> None:
    course = make_course("purchase", paywall_purchase_item="course:python-101")
    welcome = make_lesson(course)
    week_two = make_lesson(course, paywall_drip_days=7)
    hold_grant(old_account, starts_at=now(), kind="purchase", item="course:python-101")
    assert "premium text." in html_for(client, old_account, welcome)
    html = html_for(client, old_account, week_two)
    assert "premium text." not in html
    assert "This part opens soon" in html


def test_a_course_bought_a_week_ago_has_opened_its_first_week(
    client: Any, make_course: Any, make_lesson: Any, old_account: Any
) -> None:
    course = make_course("purchase", paywall_purchase_item="course:python-101")
    week_one = make_lesson(course, paywall_drip_days=7)
    week_two = make_lesson(course, paywall_drip_days=14)
    bought = now() - timedelta(days=8)
    hold_grant(old_account, starts_at=bought, kind="purchase", item="course:python-101")
    assert "premium text." in html_for(client, old_account, week_one)
    assert "premium text." not in html_for(client, old_account, week_two)


def subscribed(user: Any, tier: str, started: Any, **fields: Any) -> None:
    """A subscription of ``user`` to ``tier`` since ``started``, active unless told."""
    fields.setdefault("status", "active")
    fields.setdefault("current_period_end", now() + timedelta(days=20))
    Membership.objects.create(
        id=f"mem_{user.pk}_{tier}",
        member_id=str(user.pk),
        tier=tier,
        provider="fake",
        provider_subscription_id=f"sub_{user.pk}_{tier}",
        started_at=started,
        **fields,
    )


def upgraded(user: Any, upgraded_at: Any) -> None:
    """A Supporter for 100 days who switched to Premium at ``upgraded_at``: the Supporter
    subscription ends with the period it paid for, a day after the switch."""
    subscribed(
        user,
        "supporter",
        now() - timedelta(days=100),
        status="canceled",
        current_period_end=upgraded_at + timedelta(days=1),
    )
    subscribed(user, "premium", upgraded_at)


def test_upgrading_to_a_higher_tier_does_not_open_its_dripped_lessons_at_once(
    client: Any, make_course: Any, make_lesson: Any, catalog: Any, make_user: Any
) -> None:
    member = make_user("upgrader")
    upgraded(member, upgraded_at=now())
    course = make_course("tier", paywall_min_tier=catalog["premium"], slug="premium-course")
    lesson = make_lesson(course, paywall_drip_days=7)
    html = html_for(client, member, lesson)
    assert "premium text." not in html
    assert "This part opens soon" in html


def test_upgrading_keeps_the_lower_tiers_dripped_lessons_open(
    client: Any, course: Any, make_lesson: Any, make_user: Any
) -> None:
    member = make_user("upgrader")
    upgraded(member, upgraded_at=now() - timedelta(days=2))  # the Supporter one ended
    lesson = make_lesson(course, paywall_drip_days=7)  # a Supporter course
    assert "premium text." in html_for(client, member, lesson)


def test_the_course_page_counts_an_upgraded_members_drip_from_the_upgrade(
    client: Any, make_course: Any, make_lesson: Any, catalog: Any, make_user: Any
) -> None:
    member = make_user("upgrader")
    upgraded(member, upgraded_at=now() - timedelta(days=3))
    course = make_course("tier", paywall_min_tier=catalog["premium"], slug="premium-course")
    make_lesson(course, title="Week one", paywall_drip_days=7)
    html = html_for(client, member, course)
    opens = date_format(now() + timedelta(days=4), "DATE_FORMAT")
    assert f"Locked: opens on {opens}" in html
