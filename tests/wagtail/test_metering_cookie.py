"""Anonymous visitors are metered by a signed cookie; their reads carry over on sign-in."""

from __future__ import annotations

from typing import Any

import pytest
from django.http import HttpResponse

from membership_sdk import Metered, MinTier, Reason, Resource, Window
from wagtail_paywall import metering
from wagtail_paywall.access import check_access, merge_cookie_reads
from wagtail_paywall.middleware import PaywallMiddleware
from wagtail_paywall.models import MeterUsage

pytestmark = pytest.mark.django_db

COOKIE = "paywall_meter"


def article(n: int) -> Resource:
    return Resource(
        f"page:{n}", Metered(MinTier("premium"), free=2, window=Window.calendar("month"))
    )


def read(request_for: Any, n: int, cookies: dict[str, str], user: Any = None) -> Any:
    """Read article ``n`` through the middleware; returns (decision, response)."""
    request = request_for(user, cookies=cookies)
    decisions = []

    def view(req: Any) -> HttpResponse:
        decisions.append(check_access(req, article(n)))
        return HttpResponse("ok")

    response = PaywallMiddleware(view)(request)
    if COOKIE in response.cookies:
        value = response.cookies[COOKIE].value
        if value:
            cookies[COOKIE] = value
        else:
            cookies.pop(COOKIE, None)
    return decisions[0], response


def test_an_anonymous_visitor_reads_the_free_articles_then_is_stopped(
    request_for: Any, program: Any
) -> None:
    cookies: dict[str, str] = {}
    first, _ = read(request_for, 1, cookies)
    second, _ = read(request_for, 2, cookies)
    third, _ = read(request_for, 3, cookies)
    assert (first.allowed, first.remaining) == (True, 1)
    assert (second.allowed, second.remaining) == (True, 0)
    assert (third.allowed, third.reason) == (False, Reason.METER_EXHAUSTED)


def test_rereading_an_article_does_not_use_up_the_meter(request_for: Any, program: Any) -> None:
    cookies: dict[str, str] = {}
    read(request_for, 1, cookies)
    again, _ = read(request_for, 1, cookies)
    assert again.allowed
    assert again.charge is None
    assert read(request_for, 2, cookies)[0].allowed


def test_the_meter_cookie_is_signed_http_only_and_lax(request_for: Any, program: Any) -> None:
    _, response = read(request_for, 1, {})
    morsel = response.cookies[COOKIE]
    assert morsel["httponly"]
    assert morsel["samesite"] == "Lax"
    assert "page:1" not in morsel.value  # compressed and signed, not readable JSON


def test_a_tampered_cookie_counts_as_no_reads_never_more(request_for: Any, program: Any) -> None:
    cookies: dict[str, str] = {}
    read(request_for, 1, cookies)
    read(request_for, 2, cookies)
    cookies[COOKIE] = cookies[COOKIE][:-2] + "xx"
    decision, _ = read(request_for, 3, cookies)
    assert decision.allowed
    assert decision.remaining == 1


def test_a_gated_response_is_private_and_varies_on_cookie(request_for: Any, program: Any) -> None:
    _, response = read(request_for, 1, {})
    assert "private" in response["Cache-Control"]
    assert "Cookie" in response["Vary"]


def test_a_response_that_checked_no_gate_is_left_cacheable(request_for: Any, program: Any) -> None:
    response = PaywallMiddleware(lambda req: HttpResponse("ok"))(request_for())
    assert not response.has_header("Cache-Control")
    assert COOKIE not in response.cookies


def test_a_members_reads_are_counted_in_the_database(
    request_for: Any, reader: Any, program: Any
) -> None:
    read(request_for, 1, {}, user=reader)
    _, response = read(request_for, 2, {}, user=reader)
    assert COOKIE not in response.cookies
    assert set(MeterUsage.objects.values_list("resource_key", flat=True)) == {"page:1", "page:2"}
    assert not read(request_for, 3, {}, user=reader)[0].allowed


def test_reads_made_before_signing_in_carry_over(
    client: Any, request_for: Any, program: Any, reader: Any
) -> None:
    from tests.wagtail.conftest import PASSWORD

    cookies: dict[str, str] = {}
    read(request_for, 1, cookies)
    read(request_for, 2, cookies)
    client.cookies[COOKIE] = cookies[COOKIE]
    response = client.post("/admin/login/", {"username": "reader", "password": PASSWORD})
    assert response.status_code == 302
    assert set(
        MeterUsage.objects.filter(member_id=str(reader.pk)).values_list("resource_key", flat=True)
    ) == {"page:1", "page:2"}
    # The cookie is cleared: the count now lives with the account.
    assert response.cookies[COOKIE].value == ""
    assert not read(request_for, 3, {}, user=reader)[0].allowed


def test_merging_an_empty_cookie_records_nothing(
    request_for: Any, reader: Any, program: Any
) -> None:
    assert merge_cookie_reads(request_for(), str(reader.pk)) == 0
    assert not MeterUsage.objects.exists()


def test_reads_that_could_not_be_stored_stay_in_the_cookie(
    request_for: Any, reader: Any, program: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cookies: dict[str, str] = {}
    read(request_for, 1, cookies)
    request = request_for(cookies=cookies)

    def database_down(*args: Any) -> None:
        raise RuntimeError("database is locked")

    monkeypatch.setattr(program.store.meters, "record", database_down)
    with pytest.raises(RuntimeError):
        merge_cookie_reads(request, str(reader.pk))

    response = HttpResponse("ok")
    metering.write_cookie(request, response)
    assert COOKIE not in response.cookies  # neither deleted nor emptied
    (uses,) = metering.cookie_usage(request).values()
    assert set(uses) == {"page:1"}
