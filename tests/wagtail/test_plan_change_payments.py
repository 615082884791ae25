"""A plan change follows what was paid, on a site: a downgrade waiting for the period's
end ends with the membership, a coupon carries over to the new price (and MRR with it),
and a free period credits nothing."""

from __future__ import annotations

from typing import Any

import pytest

from membership_sdk import metrics
from wagtail_paywall.models import Coupon, Grant, Membership
from wagtail_paywall.program import get_program, reset_program
from wagtail_paywall.tasks import deliver

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.wagtail.journey_fixtures"]


def checkout_with(user: Any, price: str, coupon: str) -> Membership:
    reset_program()  # the coupon was just created
    program = get_program()
    session = program.start_checkout(
        str(user.pk),
        price,
        provider="fake",
        success_url="http://testserver/ok/",
        cancel_url="http://testserver/no/",
        coupon=coupon,
    )
    webhook = program.providers["fake"].complete_checkout(session.id)  # type: ignore[attr-defined]
    deliver("fake", webhook.headers, webhook.body)
    return Membership.objects.get(member_id=str(user.pk), price_id=price)


def test_a_downgrade_waiting_for_the_year_end_ends_with_a_refund_and_cancel(
    program: Any, reader: Any, subscribe: Any
) -> None:
    membership = subscribe(reader, "premium-yearly")
    program.change_plan(str(membership.pk), "supporter-monthly")
    assert "content.premium" in program.context(str(reader.pk)).entitlements
    program.refund(str(membership.pk))
    program.cancel(str(membership.pk), at_period_end=False)
    assert "content.premium" not in program.context(str(reader.pk)).entitlements
    assert not Grant.objects.filter(member_id=str(reader.pk)).exists()


def test_a_half_price_coupon_is_half_the_new_price_after_an_upgrade(
    program: Any, reader: Any
) -> None:
    Coupon.objects.create(code="HALF", percent_off=50, duration="forever")
    membership = checkout_with(reader, "supporter-monthly", "HALF")
    program = get_program()
    program.change_plan(str(membership.pk), "premium-monthly")
    membership.refresh_from_db()
    premium = program.catalog.price("premium-monthly").amount
    assert (membership.coupon, membership.amount) == ("HALF", premium // 2)
    stored = program.store.memberships.get(str(membership.pk))
    assert stored is not None
    assert metrics.mrr([stored], program.catalog, program.clock()) == {"EUR": premium // 2}


def test_a_free_first_month_credits_nothing_on_an_upgrade(program: Any, reader: Any) -> None:
    Coupon.objects.create(code="FREE", percent_off=100, duration="once")
    membership = checkout_with(reader, "supporter-monthly", "FREE")
    preview = get_program().preview_plan_change(str(membership.pk), "premium-monthly")
    assert all(line.amount >= 0 for line in preview.lines)
    assert preview.amount_due == 0
