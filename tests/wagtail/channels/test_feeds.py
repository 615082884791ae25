"""RSS and Atom feeds (``paywall:feed_rss``, ``paywall:feed_atom``) and a member's
private feed (``paywall:member_feed_rss``, ``paywall:member_feed_atom``).

The public feeds carry teasers; a member's feed carries full text only while the
member may read it, and stops working once revoked.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.urls import reverse

from tests.wagtail.gating_helpers import PREMIUM, TEASER
from wagtail_paywall.models import FeedToken, Grant

pytest_plugins = ["tests.wagtail.gating_fixtures"]
pytestmark = pytest.mark.django_db


def fetch(client: Any, url: str, status: int = 200) -> Any:
    response = client.get(url)
    assert response.status_code == status
    return response


def premium_article(make_article: Any, catalog: Any) -> Any:
    return make_article("tier", tiers=[catalog["premium"]], premium_note="Premium note.")


def member_feed(user: Any, kind: str = "rss") -> str:
    _row, token = FeedToken.issue(str(user.pk))
    return reverse(f"paywall:member_feed_{kind}", args=[token])


def shown_token(response: Any) -> str:
    """The token in the RSS address the page shows."""
    found = re.search(r"/paywall/feeds/member/([^/\"]+)/rss/", response.content.decode())
    assert found is not None, "the page shows no feed address"
    return found.group(1)


def get_feed_address(client: Any, user: Any) -> str:
    """Sign in as ``user``, press "Get a private feed address"; the token shown."""
    client.force_login(user)
    response = client.post(reverse("paywall:feed_token_issue"))
    assert response.status_code == 200
    return shown_token(response)


def every_stored_value() -> str:
    """Every value of every row of every table, as one text to search."""
    parts: list[str] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            parts.extend(str(value) for row in cursor.fetchall() for value in row)
    return "\n".join(parts)


@pytest.mark.parametrize("name", ["paywall:feed_rss", "paywall:feed_atom"])
def test_the_public_feed_carries_the_teaser_of_a_gated_article_and_never_its_premium_part(
    client: Any, make_article: Any, catalog: Any, name: str
) -> None:
    page = premium_article(make_article, catalog)
    xml = fetch(client, reverse(name)).content.decode()
    assert page.title in xml
    assert TEASER in xml
    assert PREMIUM not in xml
    assert "Premium note." not in xml


def test_the_public_feed_carries_a_free_article_whole(client: Any, make_article: Any) -> None:
    make_article("public")
    assert PREMIUM in fetch(client, reverse("paywall:feed_rss")).content.decode()


def test_the_public_feed_is_the_same_for_a_signed_in_member(
    client: Any, make_article: Any, catalog: Any, premium: Any
) -> None:
    premium_article(make_article, catalog)
    client.force_login(premium)
    assert PREMIUM not in fetch(client, reverse("paywall:feed_rss")).content.decode()


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_a_members_feed_carries_the_full_text_of_what_the_member_may_read(
    client: Any, make_article: Any, catalog: Any, premium: Any, kind: str
) -> None:
    premium_article(make_article, catalog)
    xml = fetch(client, member_feed(premium, kind)).content.decode()
    assert PREMIUM in xml
    assert "Premium note." in xml


def test_a_members_feed_carries_only_teasers_of_what_the_member_may_not_read(
    client: Any, make_article: Any, catalog: Any, supporter: Any
) -> None:
    premium_article(make_article, catalog)
    xml = fetch(client, member_feed(supporter)).content.decode()
    assert TEASER in xml
    assert PREMIUM not in xml


def test_a_members_feed_falls_back_to_teasers_once_the_access_ends(
    client: Any, make_article: Any, catalog: Any, premium: Any, program: Any
) -> None:
    premium_article(make_article, catalog)
    url = member_feed(premium)
    assert PREMIUM in fetch(client, url).content.decode()
    for grant in Grant.objects.filter(member_id=str(premium.pk)):
        program.revoke_grant(grant.id)
    assert PREMIUM not in fetch(client, url).content.decode()


def test_a_revoked_feed_token_finds_no_feed(
    client: Any, make_article: Any, catalog: Any, premium: Any
) -> None:
    premium_article(make_article, catalog)
    url = member_feed(premium)
    FeedToken.objects.get(member_id=str(premium.pk)).revoke()
    fetch(client, url, status=404)


def test_a_forged_feed_token_finds_no_feed(client: Any, make_article: Any, catalog: Any) -> None:
    premium_article(make_article, catalog)
    fetch(client, reverse("paywall:member_feed_rss", args=["forged-token"]), status=404)


def test_a_token_digest_used_as_the_address_finds_no_feed(
    client: Any, make_article: Any, catalog: Any, premium: Any
) -> None:
    premium_article(make_article, catalog)
    member_feed(premium)
    digest = FeedToken.objects.get(member_id=str(premium.pk)).token_digest
    fetch(client, reverse("paywall:member_feed_rss", args=[digest]), status=404)


def test_a_members_feed_is_never_stored_by_any_cache(
    client: Any, make_article: Any, catalog: Any, premium: Any
) -> None:
    premium_article(make_article, catalog)
    response = fetch(client, member_feed(premium))
    assert "private" in response["Cache-Control"]
    assert "no-store" in response["Cache-Control"]


def test_the_account_page_offers_a_private_feed_address(client: Any, premium: Any) -> None:
    client.force_login(premium)
    html = fetch(client, reverse("paywall:account")).content.decode()
    assert reverse("paywall:feed_token_issue") in html
    assert "Get a private feed address" in html


def test_getting_a_feed_address_shows_one_that_opens_the_members_feed(
    client: Any, make_article: Any, catalog: Any, premium: Any
) -> None:
    premium_article(make_article, catalog)
    token = get_feed_address(client, premium)
    client.logout()
    xml = fetch(client, reverse("paywall:member_feed_rss", args=[token])).content.decode()
    assert PREMIUM in xml


def test_the_page_showing_a_new_feed_address_is_never_stored_by_any_cache(
    client: Any, premium: Any
) -> None:
    client.force_login(premium)
    response = client.post(reverse("paywall:feed_token_issue"))
    assert "no-store" in response["Cache-Control"]


def test_the_database_never_holds_a_feed_token_itself(client: Any, premium: Any) -> None:
    token = get_feed_address(client, premium)
    fetch(client, reverse("paywall:account"))
    assert token not in every_stored_value()


def test_the_account_page_never_shows_a_feed_address_again(client: Any, premium: Any) -> None:
    token = get_feed_address(client, premium)
    html = fetch(client, reverse("paywall:account")).content.decode()
    assert token not in html
    assert "Your private feed is on. Its address was shown once" in html
    assert "Make a new address (the old one stops)" in html


def test_a_new_address_stops_the_old_one(client: Any, premium: Any) -> None:
    old = get_feed_address(client, premium)
    get_feed_address(client, premium)
    client.logout()
    fetch(client, reverse("paywall:member_feed_rss", args=[old]), status=404)


def test_revoking_from_the_account_page_stops_the_feed(
    client: Any, make_article: Any, catalog: Any, premium: Any
) -> None:
    premium_article(make_article, catalog)
    url = member_feed(premium)
    client.force_login(premium)
    client.post(reverse("paywall:feed_token_revoke"))
    client.logout()
    fetch(client, url, status=404)


def test_an_editor_revokes_a_members_feed_in_the_admin(
    client: Any, make_article: Any, catalog: Any, premium: Any, editor: Any
) -> None:
    premium_article(make_article, catalog)
    url = member_feed(premium)
    token = FeedToken.objects.get(member_id=str(premium.pk))
    client.force_login(editor)
    response = client.post(
        reverse("paywall_feed_tokens:edit", args=[token.pk]),
        {"member_id": token.member_id, "revoked_at": "2026-01-01 00:00"},
    )
    assert response.status_code == 302
    client.logout()
    fetch(client, url, status=404)
