"""A member's data: the JSON export holds every table's rows of theirs and nobody else's;
erasure (by the member, by staff, by the command, or by deleting the user) cancels their
subscriptions on every provider first, then leaves no row naming them but the
pseudonymised invoices; it is idempotent, survives a provider outage as a pending
erasure, and later webhooks of their subscription re-create nothing."""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import models
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from wagtail.models import ModelLogEntry

from membership_sdk import GrantKind, MinTier, Resource
from membership_sdk.privacy import EXPORT_FORMAT, ErasureBlocked
from membership_sdk.providers.fake import FakeProvider
from membership_sdk.providers.manual import ManualProvider
from wagtail_paywall import privacy
from wagtail_paywall.access import check_access
from wagtail_paywall.models import (
    CancellationFeedback,
    CouponRedemption,
    CustomerLink,
    ErasedCustomer,
    Erasure,
    FeedToken,
    Gift,
    GiftOrder,
    ManualInvoice,
    Membership,
    MeterUsage,
    PaymentRecovery,
    RetentionAttempt,
    TrialReminder,
    WebhookEvent,
)
from wagtail_paywall.models import Price as PriceRow
from wagtail_paywall.models.fields import MEMBER_ID_LENGTH
from wagtail_paywall.privacy import erase, export
from wagtail_paywall.program import get_program, reset_program
from wagtail_paywall.tasks import deliver

from .conftest import PASSWORD

pytest_plugins = ["tests.wagtail.journey_fixtures"]
pytestmark = pytest.mark.django_db

PREMIUM = Resource("page:1", MinTier("premium"))
MANUAL_SECRET = "tests-manual-secret"
EXPORT = "/paywall/account/data/"
ERASE = "/paywall/account/data/erase/"


# -- the rows of a member ----------------------------------------------------------------------
def member_columns(model: type[models.Model]) -> list[str]:
    """The columns holding a member id: ``member_id`` and any other made by
    ``member_id_field`` (a gift's ``buyer_id``)."""
    return [
        f.name
        for f in model._meta.concrete_fields
        if f.name == "member_id"
        or (
            isinstance(f, models.CharField)
            and f.max_length == MEMBER_ID_LENGTH
            and str(f.verbose_name) == "member"
        )
        or f.name in ("buyer_id", "redeemed_by")
    ]


def paywall_models() -> list[type[models.Model]]:
    return list(apps.get_app_config("wagtail_paywall").get_models())


_numbers = itertools.count(1000)


def _value(field: models.Field[Any, Any], member_id: str, membership: Membership) -> Any:
    if isinstance(field, models.ForeignKey):
        if field.related_model is Membership:
            return membership
        return None
    if field.choices:
        return field.choices[0][0]
    if field.name in ("interval", "currency"):
        return {"interval": "month", "currency": "EUR"}[field.name]
    if isinstance(field, models.DateTimeField):
        return timezone.now()
    if isinstance(field, models.DateField):
        return date.today()
    if isinstance(field, models.BooleanField):
        return False
    if isinstance(field, models.IntegerField | models.FloatField | models.DecimalField):
        return next(_numbers)  # unique, for columns in a unique constraint
    if isinstance(field, models.JSONField):
        return {}
    return f"x-{member_id}"[: getattr(field, "max_length", None) or 64]


def generic_row(model: type[models.Model], member_id: str, membership: Membership) -> Any:
    """A row of ``model`` for ``member_id`` with every required column filled, for tables
    this test does not know (the next feature's): they are covered without editing it."""
    values: dict[str, Any] = {}
    for f in model._meta.concrete_fields:
        if isinstance(f, models.AutoField):
            continue
        if f.name in member_columns(model):
            values[f.name] = member_id
        elif (
            f.has_default()
            or f.null
            or getattr(f, "auto_now", False)
            or getattr(f, "auto_now_add", False)
        ):
            continue
        else:
            value = _value(f, member_id, membership)
            if value is None:
                return None
            values[f.name] = value
    return model._default_manager.create(**values)


def populate(user: Any, subscribe: Callable[..., Membership]) -> Membership:
    """``user`` holds a row in every table the paywall keeps of members."""
    member_id = str(user.pk)
    membership = subscribe(user)
    program = get_program()
    program.grant(member_id, GrantKind.COMP, tier="supporter", days=30)
    MeterUsage.objects.create(
        member_id=member_id,
        meter="free",
        resource_key="page:9",
        day=date.today(),
        used_at=timezone.now(),
    )
    CancellationFeedback.objects.create(
        membership_id=membership.pk,
        member_id=member_id,
        tier="premium",
        reason="other",
        comment=f"I am {user.username}",
    )
    TrialReminder.objects.create(membership_id=membership.pk, trial_end=timezone.now())
    FeedToken.issue(member_id)
    CouponRedemption.objects.create(code="SPRING", member_id=member_id)
    Gift.objects.create(
        id=f"gift_{member_id}",
        code=f"CODE{member_id}",
        tier="premium",
        months=3,
        buyer_id=member_id,
        price_id="premium-yearly",
        source=f"fake:pi_{member_id}",
        bought_at=timezone.now(),
        recipient_email="friend@example.com",
        message="Enjoy",
    )
    GiftOrder.objects.create(buyer_id=member_id, price_id="premium-yearly")
    PaymentRecovery.objects.create(
        membership_id=membership.pk,
        member_id=member_id,
        provider="fake",
        failed_at=timezone.now(),
        state="lost",
    )
    RetentionAttempt.objects.create(
        membership_id=membership.pk,
        member_id=member_id,
        reason="other",
        offer="pause",
        kind="pause",
        shown_at=timezone.now(),
    )
    known = {m for m, _d in privacy.declarations()}
    for model in paywall_models():
        columns = member_columns(model)
        if model is Erasure:
            continue  # written by erasures only
        if (
            model in known
            and columns
            and not model._default_manager.filter(**{columns[0]: member_id}).exists()
        ):
            generic_row(model, member_id, membership)
    return membership


def rows_naming(member_id: str) -> dict[str, int]:
    """Rows of any paywall table whose member columns hold ``member_id``."""
    found = {}
    for model in paywall_models():
        for column in member_columns(model):
            n = model._default_manager.filter(**{column: member_id}).count()
            if n:
                found[f"{model._meta.label}.{column}"] = n
    return found


@pytest.fixture
def member(make_user: Callable[..., Any]) -> Any:
    return make_user("member")


@pytest.fixture
def other(make_user: Callable[..., Any]) -> Any:
    return make_user("other")


@pytest.fixture
def populated(member: Any, other: Any, subscribe: Any) -> Membership:
    populate(other, subscribe)
    return populate(member, subscribe)


# -- the registry ------------------------------------------------------------------------------
def test_every_model_with_a_member_column_declares_how_it_is_exported_and_erased() -> None:
    forgotten = [
        model._meta.label
        for model in paywall_models()
        if member_columns(model) and not privacy.declared(model)
    ]

    assert forgotten == [], (
        f"{forgotten} hold member ids but are not declared in wagtail_paywall.privacy: "
        "declare() how each is exported and erased"
    )


# -- export ------------------------------------------------------------------------------------
def test_the_export_holds_every_table_of_the_member_and_nothing_of_another(
    populated: Membership, member: Any, other: Any, client: Client
) -> None:
    client.force_login(member)

    response = client.get(EXPORT)

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="membership-data-')
    document = json.loads(response.content)
    assert document["format"] == EXPORT_FORMAT
    data = document["data"]
    subject = privacy.subject_for(str(member.pk))
    for model, declaration in privacy.declarations():
        mine = model._default_manager.filter(declaration.rows(subject))
        exported = {str(row[model._meta.pk.attname]) for row in data[declaration.section]}
        assert {str(pk) for pk in mine.values_list("pk", flat=True)} <= exported, model
    assert data["memberships"]
    assert data["grants"]
    assert data["feed_tokens"]
    assert data["cancellation_feedback"][0]["comment"] == "I am member"
    text = json.dumps(data)
    assert "I am other" not in text
    members = {
        row.get(column)
        for rows in data.values()
        for row in rows
        for column in ("member_id", "buyer_id", "redeemed_by")
    }
    assert str(other.pk) not in members
    others = privacy.subject_for(str(other.pk))
    assert not any(m in text for m in others.membership_ids)


def test_the_export_never_holds_a_feed_tokens_digest(populated: Membership, member: Any) -> None:
    [row] = export(str(member.pk))["data"]["feed_tokens"]

    assert "token_digest" not in row
    assert FeedToken.objects.get(pk=row["id"]).token_digest not in json.dumps(row)


def test_the_export_needs_a_signed_in_member(client: Client) -> None:
    response = client.get(EXPORT)

    assert response.status_code == 302
    assert "login" in response["Location"]


def test_the_account_page_links_the_export_and_the_erasure(member: Any, client: Client) -> None:
    client.force_login(member)

    html = client.get("/paywall/account/").content.decode()

    assert EXPORT in html
    assert ERASE in html


# -- erasure on the fake provider ----------------------------------------------------------------
def test_erasure_cancels_the_subscription_and_leaves_only_pseudonymised_invoices(
    populated: Membership, member: Any, other: Any, fake: FakeProvider, request_for: Any
) -> None:
    member_id = str(member.pk)
    others_before = rows_naming(str(other.pk))
    subscription = populated.provider_subscription_id

    erasure = erase(member_id, source=Erasure.Source.STAFF)

    assert fake.subscriptions[subscription].status == "canceled"
    assert rows_naming(member_id) == {}
    assert rows_naming(str(other.pk)) == others_before
    assert not check_access(request_for(member), PREMIUM).allowed
    assert (erasure.state, erasure.member_id) == ("done", "")
    feedback = CancellationFeedback.objects.exclude(member_id=str(other.pk)).get()
    assert (feedback.member_id, feedback.comment, feedback.reason) == ("", "", "other")
    gift = Gift.objects.get(pk=f"gift_{member_id}")  # still redeemable by its recipient
    assert (gift.buyer_id, gift.redeemed_by, gift.recipient_email) == ("", "", "friend@example.com")


def test_a_gift_the_member_redeemed_stays_redeemed_by_a_stand_in(
    member: Any, other: Any, program: Any
) -> None:
    Gift.objects.create(
        id="gift_1",
        code="ABCD-EFGH-JKMN-PQRS",
        tier="premium",
        months=3,
        buyer_id=str(other.pk),
        price_id="premium-yearly",
        source="fake:pi_1",
        bought_at=timezone.now(),
        recipient_email="member@example.com",
        message="For you",
    )
    program.redeem_gift("ABCD-EFGH-JKMN-PQRS", str(member.pk))

    erase(str(member.pk), source=Erasure.Source.MEMBER)

    gift = Gift.objects.get(pk="gift_1")
    assert gift.redeemed_by.startswith("anon-")
    assert (gift.recipient_email, gift.message, gift.buyer_id) == ("", "", str(other.pk))
    assert rows_naming(str(member.pk)) == {}


def _gift_to(email: str, buyer: Any) -> Gift:
    return Gift.objects.create(
        id="gift_to",
        code="TOTO-TOTO-TOTO-TOTO",
        tier="premium",
        months=3,
        buyer_id=str(buyer.pk),
        price_id="premium-yearly",
        source="fake:pi_to",
        bought_at=timezone.now(),
        recipient_email=email,
        message="Happy birthday",
    )


def test_an_unredeemed_gift_sent_to_the_member_is_in_their_export(member: Any, other: Any) -> None:
    _gift_to("Member@Example.com", other)

    [gift] = export(str(member.pk))["data"]["gifts"]

    assert (gift["id"], gift["recipient_email"]) == ("gift_to", "Member@Example.com")


def test_erasure_blanks_the_members_address_on_a_gift_sent_to_them_which_stays_the_buyers(
    member: Any, other: Any
) -> None:
    _gift_to("member@example.com", other)
    order = GiftOrder.objects.create(
        buyer_id=str(other.pk), price_id="premium-yearly", recipient_email="member@example.com"
    )

    erase(str(member.pk), source=Erasure.Source.MEMBER)

    gift = Gift.objects.get(pk="gift_to")
    assert (gift.recipient_email, gift.message, gift.buyer_id) == ("", "", str(other.pk))
    assert gift.redeemed_by == ""
    order.refresh_from_db()
    assert (order.recipient_email, order.buyer_id) == ("", str(other.pk))


def test_a_retried_erasure_of_a_deleted_user_still_finds_gifts_sent_to_their_address(
    populated: Membership, member: Any, other: Any, fake: FakeProvider
) -> None:
    _gift_to("member@example.com", other)
    fake.simulate_outage()
    member.delete()
    pending = Erasure.objects.get()
    assert pending.emails == ["member@example.com"]  # kept while the retry is due

    fake.simulate_outage(None)
    call_command("paywall_erase_member", "--pending")

    assert Gift.objects.get(pk="gift_to").recipient_email == ""
    done = Erasure.objects.get()
    assert (done.state, done.emails) == ("done", [])


def test_erasing_twice_changes_nothing_more(populated: Membership, member: Any) -> None:
    first = erase(str(member.pk), source=Erasure.Source.MEMBER)
    before = {m._meta.label: m._default_manager.count() for m in paywall_models()}

    again = erase(str(member.pk), source=Erasure.Source.COMMAND)

    assert again.pk == first.pk
    assert (again.attempts, again.completed_at) == (first.attempts, first.completed_at)
    assert {m._meta.label: m._default_manager.count() for m in paywall_models()} == before


def test_a_later_webhook_of_the_erased_subscription_recreates_nothing(
    populated: Membership, member: Any, fake: FakeProvider, django_capture_on_commit_callbacks: Any
) -> None:
    erase(str(member.pk), source=Erasure.Source.MEMBER)
    deleted = fake.outbox[-1]  # the cancel's subscription.deleted, carrying the member id

    with django_capture_on_commit_callbacks(execute=True):
        row = deliver("fake", deleted.headers, deleted.body)

    row.refresh_from_db()
    assert row.status == WebhookEvent.Status.IGNORED
    assert rows_naming(str(member.pk)) == {}
    assert not CustomerLink.objects.filter(member_id=str(member.pk)).exists()
    assert bytes(row.body) == b""  # the payload about the erased member is dropped too
    assert row.detail == "personal data erased"


def test_the_member_webhooks_in_the_inbox_lose_their_payload(
    populated: Membership, member: Any
) -> None:
    customer = populated.provider_customer_id
    mine = [r for r in WebhookEvent.objects.all() if customer.encode() in bytes(r.body)]
    assert mine

    erase(str(member.pk), source=Erasure.Source.MEMBER)

    for row in WebhookEvent.objects.filter(pk__in=[r.pk for r in mine]):
        assert (bytes(row.body), row.events, row.headers) == (b"", [], {})


def test_a_provider_outage_erases_nothing_and_leaves_the_erasure_pending(
    populated: Membership, member: Any, fake: FakeProvider
) -> None:
    before = rows_naming(str(member.pk))
    fake.simulate_outage()

    with pytest.raises(ErasureBlocked, match="unreachable") as raised:
        erase(str(member.pk), source=Erasure.Source.MEMBER)

    assert raised.value.retryable
    assert rows_naming(str(member.pk)) == before | {"wagtail_paywall.Erasure.member_id": 1}
    assert Erasure.objects.get().state == "pending"
    fake.simulate_outage(None)
    call_command("paywall_erase_member", "--pending")
    assert rows_naming(str(member.pk)) == {}
    assert Erasure.objects.get().state == "done"


def test_the_command_erases_members_and_names_what_is_still_blocked(
    populated: Membership, member: Any, other: Any, fake: FakeProvider, capsys: Any
) -> None:
    call_command("paywall_erase_member", str(member.pk))
    assert rows_naming(str(member.pk)) == {}
    fake.simulate_outage()

    with pytest.raises(CommandError, match=f"member '{other.pk}'.*fake"):
        call_command("paywall_erase_member", str(other.pk))

    assert Membership.objects.filter(member_id=str(other.pk)).exists()


def test_the_command_needs_a_member_or_pending() -> None:
    with pytest.raises(CommandError, match="--pending"):
        call_command("paywall_erase_member")


# -- deleting the user -------------------------------------------------------------------------
def test_deleting_the_user_erases_the_member(
    populated: Membership, member: Any, fake: FakeProvider
) -> None:
    member_id = str(member.pk)

    member.delete()

    assert fake.subscriptions[populated.provider_subscription_id].status == "canceled"
    assert rows_naming(member_id) == {}
    assert Erasure.objects.get().source == "user_deleted"


def test_deleting_a_user_during_an_outage_still_deletes_it_and_leaves_a_pending_erasure(
    populated: Membership, member: Any, fake: FakeProvider
) -> None:
    member_id = str(member.pk)
    fake.simulate_outage()

    member.delete()

    assert not get_user_model().objects.filter(pk=member_id).exists()
    erasure = Erasure.objects.get()
    assert (erasure.state, erasure.member_id) == ("pending", member_id)
    assert "unreachable" in erasure.last_error
    fake.simulate_outage(None)
    call_command("paywall_erase_member", "--pending")
    assert rows_naming(member_id) == {}


def test_deleting_a_user_with_no_paywall_data_leaves_no_record(reader: Any) -> None:
    reader.delete()

    assert not Erasure.objects.exists()


# -- the account page --------------------------------------------------------------------------
def test_the_member_erases_their_data_with_their_password(
    populated: Membership, member: Any, client: Client
) -> None:
    client.force_login(member)
    assert client.get(ERASE).status_code == 200

    response = client.post(ERASE, {"member": str(member.pk), "confirm": "on", "password": PASSWORD})

    assert response.status_code == 302
    assert rows_naming(str(member.pk)) == {}
    assert "erased" in client.get(response["Location"]).content.decode()


def test_a_wrong_password_erases_nothing(
    populated: Membership, member: Any, client: Client
) -> None:
    client.force_login(member)

    response = client.post(ERASE, {"member": str(member.pk), "confirm": "on", "password": "no"})

    assert response.status_code == 400
    assert "This is not your password." in response.content.decode()
    assert Membership.objects.filter(member_id=str(member.pk)).exists()


def test_the_sixth_wrong_password_within_an_hour_is_refused_with_429(
    populated: Membership, member: Any, client: Client
) -> None:
    client.force_login(member)
    wrong = {"member": str(member.pk), "confirm": "on", "password": "no"}
    for _attempt in range(5):
        assert client.post(ERASE, wrong).status_code == 400

    response = client.post(ERASE, {**wrong, "password": PASSWORD})

    assert response.status_code == 429
    assert "Too many wrong passwords" in response.content.decode()
    assert Membership.objects.filter(member_id=str(member.pk)).exists()


def test_wrong_passwords_of_one_member_do_not_lock_out_another(
    populated: Membership, member: Any, other: Any, client: Client
) -> None:
    client.force_login(member)
    for _attempt in range(5):
        client.post(ERASE, {"member": str(member.pk), "confirm": "on", "password": "no"})
    client.force_login(other)

    response = client.post(ERASE, {"member": str(other.pk), "confirm": "on", "password": PASSWORD})

    assert response.status_code == 302
    assert not Membership.objects.filter(member_id=str(other.pk)).exists()


def test_a_post_naming_another_member_is_a_404_and_erases_nobody(
    populated: Membership, member: Any, other: Any, client: Client
) -> None:
    client.force_login(member)

    response = client.post(ERASE, {"member": str(other.pk), "confirm": "on", "password": PASSWORD})

    assert response.status_code == 404
    assert Membership.objects.filter(member_id=str(other.pk)).exists()
    assert Membership.objects.filter(member_id=str(member.pk)).exists()


def test_an_outage_on_the_account_page_says_nothing_was_erased(
    populated: Membership, member: Any, client: Client, fake: FakeProvider
) -> None:
    client.force_login(member)
    fake.simulate_outage()

    response = client.post(ERASE, {"member": str(member.pk), "confirm": "on", "password": PASSWORD})

    assert response.status_code == 503
    assert "nothing was erased yet" in response.content.decode()
    assert Membership.objects.filter(member_id=str(member.pk)).exists()


def test_erasure_is_a_csrf_protected_post(member: Any, strict_client: Client) -> None:
    strict_client.force_login(member)

    response = strict_client.post(ERASE, {"member": str(member.pk), "confirm": "on"})

    assert response.status_code == 403


# -- staff ---------------------------------------------------------------------------------------
def test_staff_erase_a_member_from_the_admin_and_it_is_audit_logged(
    populated: Membership, member: Any, editor: Any, client: Client
) -> None:
    client.force_login(editor)
    url = reverse("paywall_members:privacy_erase", args=[member.pk])
    assert "This cannot be undone" in client.get(url).content.decode()

    response = client.post(url, {"reason": "asked by letter"})

    assert response.status_code == 302
    assert rows_naming(str(member.pk)) == {}
    [entry] = ModelLogEntry.objects.for_instance(member).filter(action="wagtail_paywall.erase")
    assert (entry.data["reason"], entry.user) == ("asked by letter", editor)


def test_the_audit_log_of_an_erasure_does_not_name_the_pseudonym(
    populated: Membership, member: Any, editor: Any, client: Client
) -> None:
    client.force_login(editor)

    client.post(reverse("paywall_members:privacy_erase", args=[member.pk]), {"reason": "letter"})

    pseudonym = Erasure.objects.get().pseudonym
    for entry in ModelLogEntry.objects.for_instance(member):
        assert pseudonym not in json.dumps(entry.data)
        assert pseudonym not in entry.label


def test_staff_without_the_delete_permission_cannot_erase(
    populated: Membership, member: Any, make_user: Any, client: Client
) -> None:
    staff = make_user("staffer", is_staff=True)
    staff.user_permissions.add(
        Permission.objects.get(codename="access_admin"),
        Permission.objects.get(codename="view_grant"),
    )
    client.force_login(staff)

    response = client.post(
        reverse("paywall_members:privacy_erase", args=[member.pk]), {"reason": "x"}
    )

    assert response.status_code == 403
    assert Membership.objects.filter(member_id=str(member.pk)).exists()


def test_staff_download_a_members_data(
    populated: Membership, member: Any, editor: Any, client: Client
) -> None:
    client.force_login(editor)

    response = client.get(reverse("paywall_members:privacy_export", args=[member.pk]))

    assert response.status_code == 200
    assert json.loads(response.content)["member_id"] == str(member.pk)


# -- the manual provider -------------------------------------------------------------------------
@pytest.fixture
def with_manual(catalog: Any) -> Iterator[ManualProvider]:
    PriceRow.objects.filter(key="supporter-monthly").update(
        provider_ids={"fake": "fake_price_supporter_monthly", "manual": "manual_supporter"}
    )
    providers = {**settings.PAYWALL["PROVIDERS"], "manual": {"secret": MANUAL_SECRET}}
    with override_settings(PAYWALL={**settings.PAYWALL, "PROVIDERS": providers}):
        reset_program()
        provider = get_program().providers["manual"]
        assert isinstance(provider, ManualProvider)
        yield provider
    reset_program()


def test_erasure_on_the_manual_provider_keeps_the_paid_invoice_pseudonymised(
    member: Any, with_manual: ManualProvider
) -> None:
    session = get_program().start_checkout(
        str(member.pk),
        "supporter-monthly",
        provider="manual",
        success_url="/ok/",
        cancel_url="/no/",
    )
    webhook = with_manual.confirm_payment(session.id)
    deliver("manual", webhook.headers, webhook.body)
    [invoice] = ManualInvoice.objects.filter(member_id=str(member.pk))
    assert invoice.state == "paid"

    erasure = erase(str(member.pk), source=Erasure.Source.STAFF)

    kept = ManualInvoice.objects.get(pk=invoice.pk)
    assert (kept.member_id, kept.customer_id) == (erasure.pseudonym, erasure.pseudonym)
    assert (kept.number, kept.amount, kept.currency, kept.paid_at, kept.state) == (
        invoice.number,
        invoice.amount,
        invoice.currency,
        invoice.paid_at,
        "paid",
    )
    assert rows_naming(str(member.pk)) == {}
    assert with_manual.store.subscription(invoice.subscription) is None


# -- Stripe --------------------------------------------------------------------------------------
stripe = pytest.importorskip("stripe")


@pytest.fixture
def replay() -> Any:
    from tests.stripe.replay import ReplayClient

    return ReplayClient()


@pytest.fixture
def on_stripe(catalog: Any, replay: Any, member: Any) -> Iterator[Membership]:
    PriceRow.objects.filter(key="premium-yearly").update(
        provider_ids={"fake": "fake_price_premium_yearly", "stripe": "price_PrivYearly"}
    )
    providers = {
        **settings.PAYWALL["PROVIDERS"],
        "stripe": {"api_key": "sk_test_x", "webhook_secret": "whsec_x", "http_client": replay},
    }
    with override_settings(PAYWALL={**settings.PAYWALL, "PROVIDERS": providers}):
        reset_program()
        CustomerLink.objects.create(
            provider="stripe", customer_id="cus_Priv1", member_id=str(member.pk)
        )
        yield Membership.objects.create(
            id="mem_priv_stripe",
            member_id=str(member.pk),
            tier="premium",
            status="active",
            provider="stripe",
            price_id="premium-yearly",
            provider_subscription_id="sub_Priv1",
            provider_customer_id="cus_Priv1",
        )
    reset_program()


def _stripe_subscription(member: Any, **changes: Any) -> dict[str, Any]:
    from tests.stripe.replay import load_objects

    sub = copy.deepcopy(load_objects()["subscription"])
    sub.update(id="sub_Priv1", customer="cus_Priv1", **changes)
    sub["metadata"] = {**sub.get("metadata", {}), "member_id": str(member.pk)}
    for item in sub["items"]["data"]:
        item["price"]["id"] = "price_PrivYearly"
    return sub


def test_erasure_on_stripe_deletes_the_subscription_and_a_later_webhook_is_ignored(
    member: Any, on_stripe: Membership, replay: Any
) -> None:
    from tests.stripe.replay import event, sign

    canceled = _stripe_subscription(member, status="canceled")
    replay.on("DELETE /v1/subscriptions/sub_Priv1", canceled)
    replay.on("GET /v1/subscriptions/sub_Priv1", canceled)

    erase(str(member.pk), source=Erasure.Source.MEMBER)

    assert len(replay.sent("DELETE /v1/subscriptions/sub_Priv1")) == 1
    assert rows_naming(str(member.pk)) == {}
    body = json.dumps(
        event(
            "customer.subscription.deleted",
            canceled,
            id="evt_Priv1",
            created=int((timezone.now() + timedelta(minutes=1)).timestamp()),
        )
    )
    row = deliver("stripe", sign(body, "whsec_x"), body.encode())
    row.refresh_from_db()
    assert row.status == WebhookEvent.Status.IGNORED
    assert "unknown customer 'cus_Priv1'" in row.detail  # not linked again by its metadata
    assert rows_naming(str(member.pk)) == {}
    assert ErasedCustomer.objects.count() == 1


def test_a_stripe_outage_erases_nothing(member: Any, on_stripe: Membership, replay: Any) -> None:
    replay.unreachable.add("*")

    with pytest.raises(ErasureBlocked, match="stripe"):
        erase(str(member.pk), source=Erasure.Source.MEMBER)

    assert Membership.objects.filter(pk=on_stripe.pk).exists()
    assert CustomerLink.objects.filter(member_id=str(member.pk)).exists()
