"""Pages behind the paywall, driven end to end through the test client.

Each rule is served to each persona: anonymous, a free member, a lapsed member
(canceled, period over), a past-due member past grace, each tier, and a member whose
free meter is used up. Those without access get the teaser and the offers, never the
premium text; those with access get the whole page.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from wagtail.rich_text import RichText

from membership_sdk import GrantKind
from tests.wagtail.gating_helpers import (
    FREE_READS,
    PREMIUM,
    TEASER,
    hold_grant,
    hold_membership,
    now,
)
from wagtail_paywall import program as program_module
from wagtail_paywall.models import Price
from wagtail_paywall.pages import WithheldContentError

pytest_plugins = ["tests.wagtail.gating_fixtures"]
pytestmark = pytest.mark.django_db

EVERYONE = ["anonymous", "reader", "lapsed", "past_due", "supporter", "premium", "metered_out"]


def get(client: Any, user: Any, page: Any) -> Any:
    if user is not None:
        client.force_login(user)
    return client.get(page.url)


def sees_premium(response: Any) -> bool:
    assert response.status_code == 200
    html = response.content.decode()
    assert TEASER in html, "the teaser is shown to everyone"
    return PREMIUM in html


def test_a_public_article_is_whole_for_an_anonymous_visitor(client: Any, make_article: Any) -> None:
    response = client.get(make_article("public").url)
    assert sees_premium(response)
    assert 'aria-labelledby="paywall-heading"' not in response.content.decode()


@pytest.mark.parametrize(
    ("persona", "allowed"),
    [("anonymous", False), ("reader", True), ("lapsed", True), ("premium", True)],
    indirect=["persona"],
)
def test_a_registered_article_is_whole_for_any_signed_in_member(
    client: Any, make_article: Any, persona: Any, allowed: bool
) -> None:
    assert sees_premium(get(client, persona, make_article("registered"))) is allowed


def test_an_anonymous_visitor_is_asked_to_sign_in_for_a_registered_article(
    client: Any, make_article: Any
) -> None:
    html = client.get(make_article("registered").url).content.decode()
    assert "Sign in to keep reading" in html
    assert "/accounts/login/?next=" in html


@pytest.mark.parametrize(
    ("persona", "allowed"),
    [
        ("anonymous", False),
        ("reader", False),
        ("lapsed", False),
        ("past_due", False),
        ("metered_out", False),
        ("supporter", True),
        ("premium", True),
    ],
    indirect=["persona"],
)
def test_a_minimum_tier_article_is_whole_for_that_tier_and_above(
    client: Any, make_article: Any, catalog: Any, persona: Any, allowed: bool
) -> None:
    page = make_article("tier", paywall_min_tier=catalog["supporter"])
    assert sees_premium(get(client, persona, page)) is allowed


def test_a_past_due_member_within_the_grace_period_keeps_reading(
    client: Any, make_article: Any, catalog: Any, make_user: Any
) -> None:
    member = make_user("late-payer")
    hold_membership(member, "premium", "past_due", now() - timedelta(days=1))
    page = make_article("tier", paywall_min_tier=catalog["premium"])
    assert sees_premium(get(client, member, page))


def test_a_canceled_member_keeps_reading_until_the_paid_period_ends(
    client: Any, make_article: Any, catalog: Any, make_user: Any
) -> None:
    member = make_user("leaving")
    hold_membership(member, "premium", "canceled", now() + timedelta(days=5))
    page = make_article("tier", paywall_min_tier=catalog["premium"])
    assert sees_premium(get(client, member, page))


@pytest.mark.parametrize(
    ("persona", "allowed"),
    [("anonymous", False), ("reader", False), ("supporter", True), ("premium", False)],
    indirect=["persona"],
)
def test_an_exact_tiers_article_is_whole_for_those_tiers_only(
    client: Any, make_article: Any, catalog: Any, persona: Any, allowed: bool
) -> None:
    page = make_article("tier", tiers=[catalog["supporter"]])
    assert sees_premium(get(client, persona, page)) is allowed


def test_a_denied_visitor_is_offered_the_tiers_that_unlock_the_article(
    client: Any, make_article: Any, catalog: Any, reader: Any
) -> None:
    page = make_article("tier", paywall_min_tier=catalog["supporter"])
    html = get(client, reader, page).content.decode()
    assert "Keep reading with a membership" in html
    assert "Supporter" in html
    assert "€5.00 a month" in html
    assert "Premium" in html
    assert "€120.00 a year" in html
    assert "(first 14 days free)" in html


@pytest.mark.parametrize(
    ("persona", "allowed"),
    [
        ("anonymous", False),
        ("reader", False),
        ("lapsed", False),
        ("supporter", False),
        ("premium", True),
    ],
    indirect=["persona"],
)
def test_an_entitlement_article_is_whole_for_holders_of_the_entitlement(
    client: Any, make_article: Any, persona: Any, allowed: bool
) -> None:
    page = make_article("entitlement", paywall_entitlement="content.premium")
    assert sees_premium(get(client, persona, page)) is allowed


def test_a_comp_of_extra_entitlements_unlocks_an_entitlement_article(
    client: Any, make_article: Any, reader: Any, program: Any
) -> None:
    program.grant(str(reader.pk), GrantKind.COMP, days=7, entitlements=["content.premium"])
    page = make_article("entitlement", paywall_entitlement="content.premium")
    assert sees_premium(get(client, reader, page))


@pytest.mark.parametrize(
    ("persona", "allowed"),
    [
        ("anonymous", True),
        ("reader", True),
        ("lapsed", True),
        ("metered_out", False),
        ("supporter", True),
    ],
    indirect=["persona"],
)
def test_a_metered_article_is_whole_until_the_free_reads_are_used_up(
    client: Any, make_article: Any, catalog: Any, persona: Any, allowed: bool
) -> None:
    page = make_article(
        "metered", paywall_min_tier=catalog["supporter"], paywall_meter_free=FREE_READS
    )
    assert sees_premium(get(client, persona, page)) is allowed


def test_a_metered_out_member_is_told_the_free_reads_are_used_up(
    client: Any, make_article: Any, catalog: Any, metered_out: Any
) -> None:
    page = make_article(
        "metered", paywall_min_tier=catalog["supporter"], paywall_meter_free=FREE_READS
    )
    html = get(client, metered_out, page).content.decode()
    assert "You have read all your free articles for now" in html
    assert "Supporter" in html


def test_an_anonymous_visitor_reads_the_free_articles_then_meets_the_paywall(
    client: Any, make_article: Any, catalog: Any
) -> None:
    pages = [
        make_article("metered", paywall_min_tier=catalog["supporter"], paywall_meter_free=2)
        for _ in range(3)
    ]
    seen = [sees_premium(client.get(page.url)) for page in pages]
    assert seen == [True, True, False]


def test_rereading_a_metered_article_does_not_use_up_the_meter(
    client: Any, make_article: Any, catalog: Any, reader: Any
) -> None:
    one, two = (
        make_article("metered", paywall_min_tier=catalog["supporter"], paywall_meter_free=1)
        for _ in range(2)
    )
    client.force_login(reader)
    assert [sees_premium(client.get(p.url)) for p in (one, one, one, two)] == [
        True,
        True,
        True,
        False,
    ]


@pytest.mark.parametrize(
    ("persona", "allowed"),
    [("anonymous", False), ("reader", False), ("premium", False)],
    indirect=["persona"],
)
def test_a_purchase_article_is_locked_for_those_who_did_not_buy_it(
    client: Any, make_article: Any, persona: Any, allowed: bool
) -> None:
    assert sees_premium(get(client, persona, make_article("purchase"))) is allowed


def test_a_purchase_article_is_whole_for_its_buyer_and_offered_to_others(
    client: Any, make_article: Any, reader: Any, make_user: Any, program: Any
) -> None:
    page = make_article("purchase")
    Price.objects.create(
        key="article-once", item=f"page:{page.pk}", item_name="This long read", amount=300,
        currency="EUR", interval=Price.Interval.ONE_OFF,
    )  # fmt: skip
    program_module.reset_program()  # the catalog now sells the article
    program_module.get_program().grant(str(reader.pk), GrantKind.PURCHASE, item=f"page:{page.pk}")
    assert sees_premium(get(client, reader, page))
    client.logout()
    html = client.get(page.url).content.decode()
    assert PREMIUM not in html
    assert "This long read" in html
    assert "€3.00 once" in html


def test_a_purchase_article_also_opens_to_the_tier_chosen_with_it(
    client: Any, make_article: Any, catalog: Any, premium: Any
) -> None:
    page = make_article("purchase", paywall_min_tier=catalog["premium"])
    assert sees_premium(get(client, premium, page))


def test_a_drip_article_is_locked_for_a_new_member_and_says_when_it_opens(
    client: Any, make_article: Any, catalog: Any, premium: Any
) -> None:
    page = make_article("drip", paywall_min_tier=catalog["premium"], paywall_drip_days=14)
    response = get(client, premium, page)
    assert not sees_premium(response)
    opens = (now() + timedelta(days=14)).strftime("%Y-%m-%d")
    assert f'datetime="{opens}' in response.content.decode()


def test_a_drip_article_is_whole_for_a_member_who_joined_long_enough_ago(
    client: Any, make_article: Any, catalog: Any, make_user: Any
) -> None:
    veteran = make_user("veteran")
    hold_grant(veteran, starts_at=now() - timedelta(days=20), tier="premium")
    page = make_article("drip", paywall_min_tier=catalog["premium"], paywall_drip_days=14)
    assert sees_premium(get(client, veteran, page))


@pytest.mark.parametrize(
    ("persona", "allowed"),
    [("anonymous", False), ("reader", False), ("premium", True)],
    indirect=["persona"],
)
def test_an_embargoed_article_is_whole_for_members_until_the_embargo_ends(
    client: Any, make_article: Any, catalog: Any, persona: Any, allowed: bool
) -> None:
    page = make_article(
        "embargo",
        paywall_min_tier=catalog["premium"],
        paywall_embargo_until=now() + timedelta(days=3),
    )
    assert sees_premium(get(client, persona, page)) is allowed


def test_an_embargoed_article_is_whole_for_everyone_once_the_embargo_ends(
    client: Any, make_article: Any, catalog: Any
) -> None:
    page = make_article(
        "embargo",
        paywall_min_tier=catalog["premium"],
        paywall_embargo_until=now() - timedelta(minutes=1),
    )
    assert sees_premium(client.get(page.url))


# -- what is withheld ---------------------------------------------------------------------------
def test_without_a_break_a_denied_visitor_gets_only_the_teaser_field(
    client: Any, make_article: Any, catalog: Any
) -> None:
    page = make_article(
        "tier",
        paywall_min_tier=catalog["premium"],
        paywall_teaser="A short teaser written by the editor.",
        body=[("paragraph", RichText(f"<p>{PREMIUM}</p>"))],
    )
    html = client.get(page.url).content.decode()
    assert PREMIUM not in html
    assert "A short teaser written by the editor." in html


def test_premium_plain_fields_are_withheld_too(
    client: Any, make_article: Any, catalog: Any
) -> None:
    page = make_article(
        "tier", paywall_min_tier=catalog["premium"], premium_note="Premium side note."
    )
    assert "Premium side note." not in client.get(page.url).content.decode()


def test_a_gated_response_is_private_and_varies_on_the_cookie(
    client: Any, make_article: Any, catalog: Any, premium: Any
) -> None:
    page = make_article("tier", paywall_min_tier=catalog["premium"])
    for user in (None, premium):
        response = get(client, user, page)
        assert "private" in response["Cache-Control"]
        assert "Cookie" in response["Vary"]


def test_a_page_whose_content_was_withheld_refuses_to_be_saved(
    make_article: Any, catalog: Any, rf: Any
) -> None:
    from django.contrib.auth.models import AnonymousUser

    from wagtail_paywall.gating import gate_page

    page = make_article("tier", paywall_min_tier=catalog["premium"])
    request = rf.get(page.url)
    request.user = AnonymousUser()
    gate_page(page, request)
    with pytest.raises(WithheldContentError):
        page.save()


def test_wagtail_view_restrictions_still_apply_to_a_paywalled_page(
    client: Any, make_article: Any, catalog: Any, premium: Any
) -> None:
    from django.contrib.auth.models import Group
    from wagtail.models import PageViewRestriction

    page = make_article("tier", paywall_min_tier=catalog["premium"])
    restriction = PageViewRestriction.objects.create(
        page=page, restriction_type=PageViewRestriction.GROUPS
    )
    restriction.groups.set([Group.objects.create(name="Staff")])
    response = get(client, premium, page)
    assert response.status_code == 302
    assert PREMIUM not in response.content.decode()


# -- query budget -------------------------------------------------------------------------------
def count_queries(client: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_a_premium_article_costs_one_query_more_than_a_public_one_cold(
    client: Any, make_article: Any, catalog: Any, premium: Any, program: Any
) -> None:
    from wagtail_paywall.caching import invalidate_member

    gated = make_article("tier", paywall_min_tier=catalog["premium"])
    public = make_article("public")
    client.force_login(premium)
    client.get(public.url)  # Wagtail's own per-process caches are warm for both pages
    client.get(gated.url)  # today's reading is recorded: its one write a day is done
    baseline = count_queries(client, public.url)
    invalidate_member(str(premium.pk))  # the member's access is not cached
    assert count_queries(client, gated.url) == baseline + 1


def test_a_premium_article_costs_no_extra_query_warm(
    client: Any, make_article: Any, catalog: Any, premium: Any, program: Any
) -> None:
    gated = make_article("tier", paywall_min_tier=catalog["premium"])
    public = make_article("public")
    client.force_login(premium)
    client.get(gated.url)
    client.get(public.url)
    assert count_queries(client, gated.url) == count_queries(client, public.url)


def test_an_exact_tiers_article_needs_no_query_for_its_tiers(
    client: Any, make_article: Any, catalog: Any, supporter: Any, program: Any
) -> None:
    gated = make_article("tier", tiers=[catalog["supporter"]])
    public = make_article("public")
    client.force_login(supporter)
    client.get(gated.url)
    client.get(public.url)
    assert count_queries(client, gated.url) == count_queries(client, public.url)


# -- the editor's side --------------------------------------------------------------------------
def test_a_tier_rule_without_a_tier_is_refused_by_the_editor_form(make_article: Any) -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="Choose a minimum tier or some tiers"):
        make_article("tier")


def test_the_editor_has_an_access_tab(make_article: Any) -> None:
    from tests.wagtail.testapp.models import ArticlePage

    tabs = [child.heading for child in ArticlePage.get_edit_handler().children]
    assert tabs == ["Content", "Access", "Promote", "Settings"]


def test_the_editor_sets_the_rule_in_the_access_panel(
    client: Any, make_article: Any, editor: Any
) -> None:
    from django.urls import reverse

    page = make_article("public")
    client.force_login(editor)
    html = client.get(reverse("wagtailadmin_pages:edit", args=(page.pk,))).content.decode()
    assert 'name="paywall_rule"' in html
    assert 'name="paywall_tiers"' in html
    assert 'name="paywall_teaser"' in html


# -- the paywall break --------------------------------------------------------------------------
def test_the_break_splits_a_stream_into_teaser_and_premium(make_article: Any) -> None:
    from wagtail_paywall.blocks import split_at_break

    teaser, premium = split_at_break(make_article("public").body)
    assert [child.block_type for child in teaser] == ["heading", "paragraph"]
    assert [child.block_type for child in premium] == ["paragraph"]
    assert PREMIUM in str(premium[0].value)


def test_a_stream_without_a_break_is_all_premium(make_article: Any) -> None:
    from wagtail_paywall.blocks import split_at_break

    page = make_article("public", body=[("paragraph", RichText(f"<p>{PREMIUM}</p>"))])
    teaser, premium = split_at_break(page.body)
    assert len(teaser) == 0
    assert len(premium) == 1


def test_the_break_renders_nothing_for_a_visitor_with_access(
    client: Any, make_article: Any
) -> None:
    html = client.get(make_article("public").url).content.decode()
    assert "Paywall break" not in html
    assert 'aria-labelledby="paywall-heading"' not in html


def test_a_denied_member_can_start_a_checkout_from_the_paywall(
    client: Any, make_article: Any, catalog: Any, reader: Any
) -> None:
    page = make_article("tier", paywall_min_tier=catalog["supporter"])
    html = get(client, reader, page).content.decode()
    assert 'action="/paywall/checkout/"' in html
    assert 'name="price" value="supporter-monthly"' in html
    assert f'name="next" value="{page.url}"' in html
    assert "Join Supporter" in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_an_anonymous_visitor_is_shown_the_plans_and_a_sign_in_link(
    client: Any, make_article: Any, catalog: Any
) -> None:
    html = client.get(make_article("tier", paywall_min_tier=catalog["supporter"]).url)
    text = html.content.decode()
    # The link carries the page it is on, signed (``?from=``, see docs/experiments.md).
    assert 'href="/paywall/pricing/?from=' in text
    assert "/accounts/login/?next=" in text
    assert "/paywall/checkout/" not in text
