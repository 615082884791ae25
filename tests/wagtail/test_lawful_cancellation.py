"""Lawful cancellation on the site (docs/cancellation.md): the "Cancel contracts here"
button and its no-login page (§312k BGB), the withdrawal button (Art. 11a Consumer
Rights Directive), the Wet van Dam (trials that end by themselves, one month's notice at
most) and §309 Nr. 9 BGB (a yearly plan renewing monthly), with their system checks."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core import checks
from django.core.cache import caches
from django.core.management import call_command
from django.template import Context, Template
from django.test import Client, override_settings
from django.utils import formats, timezone

from membership_sdk import ProviderError
from membership_sdk.providers.fake import FakeProvider
from wagtail_paywall import checks as paywall_checks
from wagtail_paywall import program as program_module
from wagtail_paywall.models import CancellationDeclaration, Membership, RetentionAttempt
from wagtail_paywall.tasks import deliver

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.wagtail.journey_fixtures"]

PAGE = "/paywall/cancel-contract/"
ACCOUNT = "/paywall/account/"
WITHDRAW = "/paywall/account/withdraw/"
BUTTON = "Cancel contracts here"


def paywall(**extra: Any) -> dict[str, Any]:
    return {
        "PROVIDERS": {"fake": {"secret": "tests-webhook-secret"}},
        "DEFAULT_PROVIDER": "fake",
        "CANCELLATION_BUTTON": True,
        "WITHDRAWAL_BUTTON": True,
        **extra,
    }


@pytest.fixture
def site_settings() -> Iterator[Callable[..., None]]:
    """Switch the site's ``PAYWALL`` to ``paywall(**extra)`` for the rest of the test."""
    active: list[Any] = []

    def switch(**extra: Any) -> None:
        # The switches are read when used: the program (and the fake's state) stays.
        if active:
            active.pop().disable()
        override = override_settings(PAYWALL=paywall(**extra), DEFAULT_FROM_EMAIL="abo@example.com")
        override.enable()
        active.append(override)

    switch()
    program_module.reset_program()
    yield switch
    for override in active:
        override.disable()
    program_module.reset_program()


@pytest.fixture
def committed(django_capture_on_commit_callbacks: Any) -> Callable[[], Any]:
    """Run what the block schedules for after the commit (mails, provider calls)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def member(
    site_settings: Any, reader: Any, subscribe: Callable[..., Membership], committed: Any
) -> Membership:
    """``reader`` holding Premium yearly through the fake, paid from today."""
    with committed():
        return subscribe(reader, "premium-yearly")


def declaration(email: str, **extra: str) -> dict[str, str]:
    return {
        "name": "Ann Reader",
        "email": email,
        "member_number": "",
        "contract": "",
        "kind": "ordinary",
        "reason": "",
        "when": "earliest",
        "wished_date": "",
        **extra,
    }


def send(client: Client, committed: Any, email: str, **extra: str) -> Any:
    with committed():
        return client.post(PAGE, declaration(email, **extra))


def confirmations(mailoutbox: list[Any]) -> list[Any]:
    """The confirmations of this flow (the lifecycle emails go out as well)."""
    return [m for m in mailoutbox if "is confirmed" in m.subject]


def fresh(membership: Membership) -> Membership:
    return Membership.objects.get(pk=membership.pk)


# -- the button ------------------------------------------------------------------------------
def test_the_button_and_its_page_are_off_by_default(client: Client, catalog: Any) -> None:
    assert BUTTON not in client.get("/paywall/pricing/").content.decode()
    assert client.get(PAGE).status_code == 404


def test_every_paywall_page_shows_the_button(
    client: Client, member: Membership, login: Callable[..., Client], reader: Any
) -> None:
    pricing = client.get("/paywall/pricing/").content.decode()
    account = login(reader).get(ACCOUNT).content.decode()
    for page in (pricing, account):
        assert f'href="{PAGE}">{BUTTON}</a>' in page


def test_a_site_puts_the_button_in_its_footer_with_the_template_tag(site_settings: Any) -> None:
    html = Template("{% load paywall_cancellation %}{% paywall_cancellation_link %}").render(
        Context()
    )
    assert f'href="{PAGE}"' in html
    assert BUTTON in html


def test_the_template_tag_shows_nothing_while_the_setting_is_off(catalog: Any) -> None:
    html = Template("{% load paywall_cancellation %}{% paywall_cancellation_link %}").render(
        Context()
    )
    assert html.strip() == ""


# -- the page: no login, only what the law allows ---------------------------------------------
def test_the_page_needs_no_login_and_asks_only_what_the_law_allows(
    client: Client, site_settings: Any, catalog: Any
) -> None:
    response = client.get(PAGE)
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.fields) == {
        "name",
        "email",
        "member_number",
        "contract",
        "kind",
        "reason",
        "when",
        "wished_date",
    }
    assert form["when"].initial == "earliest"
    html = response.content.decode()
    assert ">Cancel now</button>" in html
    assert "password" not in html.lower()


def test_a_member_is_set_to_end_at_the_period_end_and_mailed_the_confirmation(
    client: Client, member: Membership, committed: Any, reader: Any, mailoutbox: list[Any]
) -> None:
    response = send(client, committed, "READER@example.com", member_number="42")
    assert response.status_code == 200
    assert "Your cancellation was received" in response.content.decode()
    after = fresh(member)
    assert after.cancel_at_period_end
    assert after.status == "active"  # access to the end of what was paid
    [mail] = confirmations(mailoutbox)
    assert mail.to == [reader.email]
    assert "cancellation is confirmed" in mail.subject
    ends = timezone.localtime(after.current_period_end)
    for text in ("Contract: Premium", "Kind: Ordinary cancellation"):
        assert text in mail.body
    assert f"ends on {formats.date_format(ends, 'DATETIME_FORMAT')}" in mail.body
    assert "Received:" in mail.body
    row = CancellationDeclaration.objects.get()
    assert (row.outcome, row.member_id) == ("applied", str(reader.pk))


def test_an_unknown_address_gets_the_same_page_and_no_mail(
    client: Client,
    member: Membership,
    committed: Any,
    mailoutbox: list[Any],
    program: Any,
) -> None:
    moment = timezone.now().replace(microsecond=0)
    program_module.get_program().clock = lambda: moment
    known = send(client, committed, "reader@example.com").content.decode()
    mailoutbox.clear()
    unknown = send(client, committed, "nobody@example.com").content.decode()

    def page(html: str, email: str) -> str:
        html = html.replace(email, "EMAIL")
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)

    assert page(known, "reader@example.com") == page(unknown, "nobody@example.com")
    assert confirmations(mailoutbox) == []
    assert CancellationDeclaration.objects.filter(outcome="no_match").count() == 1


def test_declaring_twice_changes_nothing_more_and_confirms_again(
    client: Client, member: Membership, committed: Any, mailoutbox: list[Any]
) -> None:
    send(client, committed, "reader@example.com")
    ends = fresh(member).current_period_end
    again = send(client, committed, "reader@example.com")
    assert again.status_code == 200
    assert fresh(member).current_period_end == ends
    assert len(confirmations(mailoutbox)) == 2
    assert list(CancellationDeclaration.objects.values_list("outcome", flat=True)) == [
        "applied",
        "applied",
    ]


def test_a_member_asking_for_another_contract_is_told_none_matched(
    client: Client, member: Membership, committed: Any, mailoutbox: list[Any]
) -> None:
    send(client, committed, "reader@example.com", contract="supporter")
    assert not fresh(member).cancel_at_period_end
    [mail] = confirmations(mailoutbox)
    assert "found no running contract" in mail.body


def test_the_cancellation_flow_makes_no_retention_offer(
    client: Client, member: Membership, committed: Any, site_settings: Any
) -> None:
    site_settings(RETENTION_OFFERS={"half": {"kind": "pause", "reasons": ["too_expensive"]}})
    response = send(client, committed, "reader@example.com")
    assert "Your cancellation was received" in response.content.decode()
    assert RetentionAttempt.objects.count() == 0


def test_a_declaration_without_a_name_is_refused_naming_the_field(
    client: Client, member: Membership, committed: Any
) -> None:
    response = send(client, committed, "reader@example.com", name="")
    assert response.status_code == 400
    assert response.context["form"].errors["name"]
    assert not fresh(member).cancel_at_period_end
    assert CancellationDeclaration.objects.count() == 0


def test_an_extraordinary_cancellation_needs_a_reason(
    client: Client, member: Membership, committed: Any
) -> None:
    response = send(client, committed, "reader@example.com", kind="extraordinary")
    assert response.status_code == 400
    assert "Say why you cancel for cause." in response.content.decode()


def test_a_wished_date_in_the_past_is_refused(
    client: Client, member: Membership, committed: Any
) -> None:
    past = (timezone.localdate() - timedelta(days=1)).isoformat()
    response = send(client, committed, "reader@example.com", when="date", wished_date=past)
    assert response.status_code == 400
    assert response.context["form"].errors["wished_date"]


def test_a_later_wished_date_is_applied_at_the_renewal_reaching_it(
    client: Client,
    site_settings: Any,
    reader: Any,
    subscribe: Callable[..., Membership],
    fake: FakeProvider,
    committed: Any,
    mailoutbox: list[Any],
) -> None:
    with committed():
        monthly = subscribe(reader, "supporter-monthly")
    assert monthly.current_period_end is not None
    wished = (monthly.current_period_end + timedelta(days=10)).date()
    send(client, committed, "reader@example.com", when="date", wished_date=wished.isoformat())
    assert not fresh(monthly).cancel_at_period_end
    assert CancellationDeclaration.objects.get().outcome == "pending"
    assert "billing period that includes" in confirmations(mailoutbox)[0].body
    with committed():
        webhook = fake.renew(monthly.provider_subscription_id)
        deliver("fake", webhook.headers, webhook.body)
    after = fresh(monthly)
    assert after.cancel_at_period_end
    assert after.current_period_end is not None
    assert after.current_period_end.date() >= wished
    assert CancellationDeclaration.objects.get().outcome == "applied"


# -- abuse: rate limit and CSRF ---------------------------------------------------------------
def test_the_page_takes_a_few_declarations_per_client_then_refuses(
    client: Client, member: Membership, committed: Any, site_settings: Any
) -> None:
    site_settings(CANCELLATION_RATE_LIMIT=(2, 3600))
    for n in range(2):
        assert send(client, committed, f"someone{n}@example.com").status_code == 200
    refused = send(client, committed, "reader@example.com")
    assert refused.status_code == 429
    assert "Too many cancellations" in refused.content.decode()
    assert not fresh(member).cancel_at_period_end
    assert CancellationDeclaration.objects.count() == 2


def test_the_page_takes_a_few_declarations_per_address_from_one_client(
    client: Client, member: Membership, committed: Any, site_settings: Any
) -> None:
    site_settings(CANCELLATION_RATE_LIMIT=(2, 3600))
    statuses = [send(client, committed, "reader@example.com").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_strangers_elsewhere_cannot_stop_a_member_cancelling_nor_flood_their_mail(
    member: Membership, committed: Any, site_settings: Any, mailoutbox: list[Any]
) -> None:
    site_settings(CANCELLATION_RATE_LIMIT=(2, 3600))
    for n in range(3):  # strangers use up the address's limit
        stranger = Client(REMOTE_ADDR=f"203.0.113.{n + 1}")
        send(stranger, committed, "reader@example.com", contract="supporter")
    assert len(confirmations(mailoutbox)) == 2  # then no more mail
    response = send(Client(REMOTE_ADDR="198.51.100.7"), committed, "reader@example.com")
    assert response.status_code == 200
    assert fresh(member).cancel_at_period_end  # the member's own cancellation is applied
    assert CancellationDeclaration.objects.filter(outcome="applied").count() == 1
    assert CancellationDeclaration.objects.count() == 4  # every declaration is on record
    assert len(confirmations(mailoutbox)) == 2


def test_the_confirmation_repeats_nothing_a_stranger_typed(
    client: Client, member: Membership, committed: Any, mailoutbox: list[Any]
) -> None:
    send(
        client,
        committed,
        "reader@example.com",
        name="Win a prize at https://evil.example/",
        member_number="evil.example",
        kind="extraordinary",
        reason="Log in at https://evil.example/login to keep your account",
    )
    [mail] = confirmations(mailoutbox)
    assert "evil.example" not in mail.body
    assert "Win a prize" not in mail.body
    assert "Kind: Extraordinary cancellation" in mail.body
    assert CancellationDeclaration.objects.get().reason.startswith("Log in at")  # kept as evidence


def test_the_rate_limit_keeps_no_address_in_the_cache(
    client: Client, member: Membership, committed: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = caches["default"]
    keys: list[str] = []
    add = cache.add

    def spy(key: str, *args: Any, **kwargs: Any) -> Any:
        keys.append(key)
        return add(key, *args, **kwargs)

    monkeypatch.setattr(cache, "add", spy)
    send(client, committed, "reader@example.com")
    counters = [k for k in keys if k.startswith("paywall:cancel-rate:")]
    assert len(counters) == 3  # the client, the client with the address, the address
    assert not any("reader" in k or "127.0.0.1" in k for k in counters)


def test_a_declaration_without_the_csrf_token_is_refused(
    strict_client: Client, member: Membership
) -> None:
    response = strict_client.post(PAGE, declaration("reader@example.com"))
    assert response.status_code == 403
    assert not fresh(member).cancel_at_period_end


def test_a_declaration_with_the_pages_csrf_token_is_taken(
    strict_client: Client, member: Membership, committed: Any
) -> None:
    strict_client.get(PAGE)
    token = strict_client.cookies["csrftoken"].value
    with committed():
        response = strict_client.post(
            PAGE, {**declaration("reader@example.com"), "csrfmiddlewaretoken": token}
        )
    assert response.status_code == 200
    assert fresh(member).cancel_at_period_end


# -- withdrawal (Art. 11a) -------------------------------------------------------------------
def test_the_account_page_offers_withdrawal_within_14_days(
    member: Membership, login: Callable[..., Client], reader: Any
) -> None:
    html = login(reader).get(ACCOUNT).content.decode()
    assert "Withdraw from contract" in html


def test_withdrawing_ends_the_membership_now_refunds_and_mails(
    member: Membership,
    login: Callable[..., Client],
    reader: Any,
    committed: Any,
    fake: FakeProvider,
    mailoutbox: list[Any],
) -> None:
    client = login(reader)
    with committed():
        response = client.post(WITHDRAW, {"membership": member.pk})
    assert response.status_code == 302
    after = fresh(member)
    assert after.status == "canceled"
    assert fake.refunded.get(member.provider_subscription_id) is not None
    [mail] = confirmations(mailoutbox)
    assert "withdrawal is confirmed" in mail.subject
    assert "refunded" in mail.body
    row = CancellationDeclaration.objects.get()
    assert (row.kind, row.via_account) == ("withdrawal", True)


def test_after_14_days_there_is_no_withdrawal_and_a_forged_one_is_refused(
    member: Membership, login: Callable[..., Client], reader: Any, program: Any
) -> None:
    later = timezone.now() + timedelta(days=15)
    program_module.get_program().clock = lambda: later
    client = login(reader)
    assert "Withdraw from contract" not in client.get(ACCOUNT).content.decode()
    response = client.post(WITHDRAW, {"membership": member.pk})
    assert response.status_code == 409
    assert fresh(member).status == "active"
    assert not fresh(member).cancel_at_period_end


def test_someone_elses_membership_cannot_be_withdrawn(
    member: Membership, login: Callable[..., Client], make_user: Callable[..., Any]
) -> None:
    response = login(make_user("mallory")).post(WITHDRAW, {"membership": member.pk})
    assert response.status_code == 404
    assert fresh(member).status == "active"


def test_a_withdrawal_without_login_ends_nothing_until_the_mailed_link_is_used(
    client: Client, member: Membership, committed: Any, mailoutbox: list[Any]
) -> None:
    send(client, committed, "reader@example.com", kind="withdrawal")
    assert fresh(member).status == "active"
    assert fresh(member).cancel_at_period_end  # harmless and undoable until then
    [mail] = confirmations(mailoutbox)
    link = re.search(r"http://\S+/cancel-contract/withdraw/\S+/", mail.body)
    assert link is not None
    path = link.group(0).split("localhost", 1)[-1].split("testserver", 1)[-1]
    path = path[path.index("/paywall/") :]
    page = client.get(path)
    assert page.status_code == 200
    assert "Withdraw from contract" in page.content.decode()
    with committed():
        done = client.post(path)
    assert "You withdrew from the contract" in done.content.decode()
    assert fresh(member).status == "canceled"


def withdrawal_link(mailoutbox: list[Any]) -> str:
    link = re.search(r"/paywall/cancel-contract/withdraw/\S+/", confirmations(mailoutbox)[0].body)
    assert link is not None
    return link.group(0)


def test_a_withdrawal_declared_in_time_is_carried_out_when_the_link_is_followed_late(
    client: Client, member: Membership, committed: Any, mailoutbox: list[Any]
) -> None:
    send(client, committed, "reader@example.com", kind="withdrawal")  # day 0: in time
    later = timezone.now() + timedelta(days=15)  # the reader clicks after the 14 days
    program_module.get_program().clock = lambda: later
    path = withdrawal_link(mailoutbox)
    assert "Withdraw from contract" in client.get(path).content.decode()
    with committed():
        done = client.post(path)
    assert done.status_code == 200
    assert "You withdrew from the contract" in done.content.decode()
    assert fresh(member).status == "canceled"


def test_a_withdrawal_link_stops_working_when_the_site_turns_withdrawal_off(
    client: Client,
    member: Membership,
    committed: Any,
    mailoutbox: list[Any],
    site_settings: Any,
) -> None:
    send(client, committed, "reader@example.com", kind="withdrawal")
    link = re.search(r"/paywall/cancel-contract/withdraw/\S+/", confirmations(mailoutbox)[0].body)
    assert link is not None
    site_settings(WITHDRAWAL_BUTTON=False)
    assert client.post(link.group(0)).status_code == 404
    assert fresh(member).status == "active"


def test_a_forged_withdrawal_link_does_nothing(client: Client, member: Membership) -> None:
    response = client.post("/paywall/cancel-contract/withdraw/forged-token/")
    assert response.status_code == 404
    assert fresh(member).status == "active"


# -- Wet van Dam -----------------------------------------------------------------------------
def test_under_wet_van_dam_a_new_trial_ends_by_itself_unless_confirmed(
    site_settings: Any,
    reader: Any,
    subscribe: Callable[..., Membership],
    committed: Any,
    login: Callable[..., Client],
) -> None:
    site_settings(WET_VAN_DAM=True)
    with committed():
        trial = subscribe(reader, "premium-monthly")  # 14 days' trial
    after = fresh(trial)
    assert after.status == "trialing"
    assert after.cancel_at_period_end
    assert after.cancel_reason == "trial_ends"
    html = login(reader).get(ACCOUNT).content.decode()
    assert "Your trial ends by itself on" in html
    assert "Keep my membership" in html


def test_without_wet_van_dam_a_trial_converts_as_usual(
    site_settings: Any, reader: Any, subscribe: Callable[..., Membership], committed: Any
) -> None:
    with committed():
        trial = subscribe(reader, "premium-monthly")
    assert not fresh(trial).cancel_at_period_end


def test_under_wet_van_dam_a_renewed_yearly_plan_ends_within_a_month(
    client: Client, member: Membership, committed: Any, site_settings: Any
) -> None:
    site_settings(WET_VAN_DAM=True)
    # Its first year is over (the period running now is its second).
    Membership.objects.filter(pk=member.pk).update(started_at=timezone.now() - timedelta(days=400))
    send(client, committed, "reader@example.com")
    after = fresh(member)
    assert after.cancel_at_period_end
    assert after.current_period_end is not None
    month = timezone.now() + timedelta(days=31)
    assert after.current_period_end <= month
    assert after.current_period_end >= timezone.now() + timedelta(days=27)


def test_under_wet_van_dam_the_account_pages_cancel_caps_the_notice_too(
    member: Membership,
    site_settings: Any,
    login: Callable[..., Client],
    reader: Any,
    committed: Any,
) -> None:
    site_settings(WET_VAN_DAM=True)
    Membership.objects.filter(pk=member.pk).update(started_at=timezone.now() - timedelta(days=400))
    with committed():
        response = login(reader).post(
            "/paywall/account/cancel/", {"membership": member.pk, "reason": "too_expensive"}
        )
    assert response.status_code == 302
    after = fresh(member)
    assert after.cancel_at_period_end
    assert after.current_period_end is not None
    assert after.current_period_end <= timezone.now() + timedelta(days=31)


# -- §309 Nr. 9 BGB --------------------------------------------------------------------------
def test_a_yearly_plan_renews_on_the_monthly_price(
    site_settings: Any,
    reader: Any,
    subscribe: Callable[..., Membership],
    fake: FakeProvider,
    committed: Any,
) -> None:
    site_settings(YEARLY_RENEWS_MONTHLY=True)
    with committed():
        yearly = subscribe(reader, "premium-yearly")
    sub = fake.subscriptions[yearly.provider_subscription_id]
    assert sub.pending_price == "fake_price_premium_monthly"
    assert fresh(yearly).price_id == "premium-yearly"
    with committed():
        webhook = fake.renew(yearly.provider_subscription_id)
        deliver("fake", webhook.headers, webhook.body)
    after = fresh(yearly)
    assert after.price_id == "premium-monthly"
    assert after.current_period_end is not None
    assert yearly.current_period_end is not None
    assert after.current_period_end - yearly.current_period_end <= timedelta(days=31)


# -- system checks ---------------------------------------------------------------------------
def ids(found: list[checks.CheckMessage]) -> list[str]:
    return [m.id or "" for m in found if (m.id or "").startswith("wagtail_paywall.E02")]


def test_switches_that_are_not_true_or_false_are_reported(site_settings: Any) -> None:
    site_settings(WET_VAN_DAM="yes")
    assert ids(checks.run_checks()) == ["wagtail_paywall.E020"]


def test_a_malformed_rate_limit_is_reported(site_settings: Any) -> None:
    site_settings(CANCELLATION_RATE_LIMIT=(5,))
    assert ids(checks.run_checks()) == ["wagtail_paywall.E021"]


def test_the_built_in_providers_can_do_everything_the_switches_ask(site_settings: Any) -> None:
    site_settings(WET_VAN_DAM=True, YEARLY_RENEWS_MONTHLY=True)
    assert ids(checks.run_checks()) == []


def test_a_provider_lacking_a_capability_is_named(
    site_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    site_settings(WET_VAN_DAM=True, YEARLY_RENEWS_MONTHLY=True)
    monkeypatch.setattr(paywall_checks, "_lawful_providers", lambda: [("mollie", object())])
    found = [m for m in checks.run_checks() if (m.id or "").startswith("wagtail_paywall.E02")]
    assert [m.id for m in found] == ["wagtail_paywall.E022", "wagtail_paywall.E023"]
    assert "'mollie'" in found[0].msg


def test_the_button_needs_a_real_sender_address_in_production(site_settings: Any) -> None:
    with override_settings(DEBUG=False, DEFAULT_FROM_EMAIL="webmaster@localhost"):
        found = paywall_checks.check_cancellation_sender()
    assert [m.id for m in found] == ["wagtail_paywall.E024"]
    with override_settings(DEBUG=False, DEFAULT_FROM_EMAIL="abo@example.com"):
        assert paywall_checks.check_cancellation_sender() == []


# -- failed declarations: the staff's list and the hourly retry --------------------------------
@pytest.fixture
def provider_down(monkeypatch: pytest.MonkeyPatch) -> Callable[[bool], None]:
    """Make the fake provider refuse (``True``) or carry out (``False``) cancellations."""
    original = FakeProvider.cancel_subscription

    def switch(down: bool) -> None:
        def cancel(self: FakeProvider, *args: Any, **kwargs: Any) -> Any:
            raise ProviderError("fake: unreachable", code="unreachable", retryable=True)

        monkeypatch.setattr(FakeProvider, "cancel_subscription", cancel if down else original)

    return switch


def test_a_failed_cancellation_is_retried_hourly_until_applied_and_then_mailed(
    client: Client,
    member: Membership,
    committed: Any,
    mailoutbox: list[Any],
    provider_down: Callable[[bool], None],
) -> None:
    provider_down(True)
    send(client, committed, "reader@example.com")
    row = CancellationDeclaration.objects.get()
    assert row.outcome == "failed"
    assert [(e["membership"], e["failed"]) for e in row.memberships] == [(member.pk, True)]
    assert "our staff will do so" in confirmations(mailoutbox)[0].body
    with committed():
        call_command("paywall_lifecycle", stdout=StringIO())  # still down: tried again later
    assert CancellationDeclaration.objects.get().outcome == "failed"
    assert not fresh(member).cancel_at_period_end
    provider_down(False)
    out = StringIO()
    with committed():
        call_command("paywall_lifecycle", stdout=out)
    assert "Cancellations: 1 failed ones completed." in out.getvalue()
    row = CancellationDeclaration.objects.get()
    assert row.outcome == "applied"
    assert not row.memberships[0].get("failed")
    assert fresh(member).cancel_at_period_end
    mails = confirmations(mailoutbox)
    assert len(mails) == 2
    ends = timezone.localtime(fresh(member).current_period_end)
    assert f"ends on {formats.date_format(ends, 'DATETIME_FORMAT')}" in mails[1].body


def test_the_mail_says_the_staff_completes_a_cancellation_that_failed_in_part(
    client: Client,
    member: Membership,
    committed: Any,
    mailoutbox: list[Any],
    reader: Any,
    subscribe: Callable[..., Membership],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from django.contrib.auth import get_user_model

    # A second account under the same address: the declaration covers both.
    twin = get_user_model().objects.create_user("reader-twin", email="reader@example.com")
    with committed():
        second = subscribe(twin, "supporter-monthly")
    original = FakeProvider.cancel_subscription

    def cancel(self: FakeProvider, subscription_id: str, **kwargs: Any) -> Any:
        if subscription_id == second.provider_subscription_id:
            raise ProviderError("fake: unreachable", code="unreachable", retryable=True)
        return original(self, subscription_id, **kwargs)

    monkeypatch.setattr(FakeProvider, "cancel_subscription", cancel)
    send(client, committed, "reader@example.com")
    assert CancellationDeclaration.objects.get().outcome == "failed"
    body = confirmations(mailoutbox)[0].body
    assert "Your Premium membership ends on" in body
    assert "our staff will complete the cancellation" in body


def test_the_declarations_list_needs_its_permission_and_shows_failed_ones_first(
    client: Client,
    member: Membership,
    committed: Any,
    make_user: Callable[..., Any],
    provider_down: Callable[[bool], None],
) -> None:
    from django.contrib.auth.models import Permission
    from django.urls import reverse

    provider_down(True)
    send(client, committed, "reader@example.com")  # failed
    provider_down(False)
    send(client, committed, "reader@example.com")  # applied, and newer
    staff = make_user("staff")
    staff.user_permissions.add(Permission.objects.get(codename="access_admin"))
    admin = Client()
    admin.force_login(staff)
    url = reverse("paywall_declarations:index")

    refused = admin.get(url)
    staff.user_permissions.add(Permission.objects.get(codename="view_cancellationdeclaration"))
    allowed = admin.get(url)
    failed_only = admin.get(url, {"outcome": "failed"})

    assert refused.status_code == 302
    assert allowed.status_code == 200
    rows = [str(r.get_outcome_display()) for r in allowed.context["object_list"]]
    assert rows == ["failed: for the staff", "applied"]
    assert [r.outcome for r in failed_only.context["object_list"]] == ["failed"]


def test_nobody_edits_or_deletes_a_declaration_in_the_admin(
    client: Client, member: Membership, committed: Any, editor: Any
) -> None:
    from django.urls import NoReverseMatch, reverse

    send(client, committed, "reader@example.com")
    row = CancellationDeclaration.objects.get()
    admin = Client()
    admin.force_login(editor)
    assert admin.get(reverse("paywall_declarations:inspect", args=[row.pk])).status_code == 200
    for view in ("edit", "delete"):
        with pytest.raises(NoReverseMatch):
            reverse(f"paywall_declarations:{view}", args=[row.pk])
    index = reverse("paywall_declarations:index")
    assert admin.post(f"{index}delete/{row.pk}/").status_code == 404
    assert CancellationDeclaration.objects.filter(pk=row.pk).exists()
