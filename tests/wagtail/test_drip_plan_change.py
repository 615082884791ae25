"""Dripped lessons after a plan change in place (one subscription moved to another
price): the new tier's lessons count from ``price_since``, the old tier's from the start
(the program keeps the tier held before as an ended ``membership`` grant)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.wagtail.gating_helpers import hold_grant, now
from wagtail_paywall.models import Membership

pytest_plugins = ["tests.wagtail.gating_fixtures"]
pytestmark = pytest.mark.django_db


def html_for(client: Any, user: Any, page: Any) -> str:
    client.force_login(user)
    response = client.get(page.url)
    assert response.status_code == 200
    return response.content.decode()


def changed_in_place(user: Any, days_ago: int) -> None:
    """A Supporter for 100 days whose subscription moved to Premium ``days_ago``."""
    base = now()
    started, changed_at = base - timedelta(days=100), base - timedelta(days=days_ago)
    Membership.objects.create(
        id=f"mem_{user.pk}",
        member_id=str(user.pk),
        tier="premium",
        provider="fake",
        provider_subscription_id=f"sub_{user.pk}",
        status="active",
        started_at=started,
        price_since=changed_at,
        current_period_end=now() + timedelta(days=20),
    )
    hold_grant(user, starts_at=started, days=100 - days_ago, kind="membership", tier="supporter")


def test_a_plan_change_in_place_does_not_open_the_new_tiers_lessons_at_once(
    client: Any, make_course: Any, make_lesson: Any, catalog: Any, make_user: Any
) -> None:
    member = make_user("changer")
    changed_in_place(member, days_ago=1)
    course = make_course("tier", paywall_min_tier=catalog["premium"], slug="premium-course")
    lesson = make_lesson(course, paywall_drip_days=7)
    html = html_for(client, member, lesson)
    assert "premium text." not in html
    assert "This part opens soon" in html


def test_a_plan_change_in_place_keeps_the_old_tiers_lessons_open(
    client: Any, make_course: Any, make_lesson: Any, catalog: Any, make_user: Any
) -> None:
    member = make_user("changer")
    changed_in_place(member, days_ago=1)
    course = make_course("tier", paywall_min_tier=catalog["supporter"])
    lesson = make_lesson(course, paywall_drip_days=7)
    assert "premium text." in html_for(client, member, lesson)


def test_the_new_tiers_lessons_open_the_drip_days_after_the_change(
    client: Any, make_course: Any, make_lesson: Any, catalog: Any, make_user: Any
) -> None:
    member = make_user("changer")
    changed_in_place(member, days_ago=8)
    course = make_course("tier", paywall_min_tier=catalog["premium"], slug="premium-course")
    lesson = make_lesson(course, paywall_drip_days=7)
    assert "premium text." in html_for(client, member, lesson)
