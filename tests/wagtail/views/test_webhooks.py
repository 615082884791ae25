"""The webhook endpoint: verified, stored in the inbox, answered fast, applied in a task."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, override_settings

from membership_sdk import hookimpl
from membership_sdk.providers.fake import FakeProvider
from wagtail_paywall.models import Membership, WebhookEvent
from wagtail_paywall.tasks import process_webhook_event

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.wagtail.journey_fixtures"]

URL = "/paywall/webhooks/fake/"
DUMMY_TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}


@pytest.fixture
def paid(program: Any, reader: Any, fake: FakeProvider) -> Any:
    """The webhook the fake service sends when ``reader`` pays for Premium yearly."""
    session = program.start_checkout(
        str(reader.pk),
        "premium-yearly",
        provider="fake",
        success_url="http://testserver/ok",
        cancel_url="http://testserver/no",
    )
    return fake.complete_checkout(session.id)


def post(client: Client, webhook: Any, url: str = URL, body: bytes | None = None) -> Any:
    headers = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in webhook.headers.items()}
    return client.post(
        url, data=webhook.body if body is None else body, content_type="application/json", **headers
    )


def test_a_verified_webhook_is_answered_200_and_applied(
    client: Client, paid: Any, reader: Any
) -> None:
    response = post(client, paid)

    assert response.status_code == 200
    assert WebhookEvent.objects.get().status == "processed"
    assert Membership.objects.get(member_id=str(reader.pk)).status == "active"


def test_the_answer_does_not_wait_for_processing(client: Client, paid: Any) -> None:
    from django_tasks import default_task_backend

    with override_settings(TASKS=DUMMY_TASKS):
        response = post(client, paid)
        (enqueued,) = default_task_backend.results  # type: ignore[attr-defined]

    row = WebhookEvent.objects.get()
    assert response.status_code == 200
    assert row.status == "received"
    assert not Membership.objects.exists()
    assert enqueued.args == [row.pk]


def test_the_task_applies_a_stored_webhook_by_its_id(client: Client, paid: Any) -> None:
    with override_settings(TASKS=DUMMY_TASKS):
        post(client, paid)
    row = WebhookEvent.objects.get()

    assert process_webhook_event.call(row.pk) == "processed"
    assert Membership.objects.get().status == "active"


def test_a_forged_signature_is_400_and_nothing_is_stored(client: Client, paid: Any) -> None:
    response = post(client, paid, body=paid.body.replace(b"active", b"activ3"))

    assert response.status_code == 400
    assert response.json()["error"] == "bad signature"
    assert not WebhookEvent.objects.exists()
    assert not Membership.objects.exists()


def test_a_missing_signature_is_400(client: Client, paid: Any) -> None:
    response = client.post(URL, data=paid.body, content_type="application/json")

    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


def test_a_malformed_body_is_400_and_nothing_is_stored(client: Client, fake: FakeProvider) -> None:
    garbage = fake.signer.sign(b"{not json")  # signed correctly, but unreadable

    response = post(client, garbage)

    assert response.status_code == 400
    assert response.json()["error"] == "malformed event"
    assert not WebhookEvent.objects.exists()


def test_an_unknown_event_type_is_200_and_ignored(client: Client, fake: FakeProvider) -> None:
    other = fake.emit_other("customer.tax_id.created", {"object": "tax_id", "id": "txi_1"})

    response = post(client, other)

    assert response.status_code == 200
    assert WebhookEvent.objects.get().status == "ignored"


def test_an_unknown_provider_is_404(client: Client, paid: Any) -> None:
    response = post(client, paid, url="/paywall/webhooks/paypal/")

    assert response.status_code == 404
    assert not WebhookEvent.objects.exists()


def test_a_built_in_provider_the_site_does_not_configure_is_404(
    client: Client, program: Any, reader: Any
) -> None:
    # Unconfigured, the manual provider would sign with its public development secret:
    # accepting its webhooks would let anyone sign one.
    from membership_sdk.providers.manual import ManualProvider

    assert "manual" not in program.providers
    webhook = ManualProvider().signer.sign(b"{}")

    response = post(client, webhook, url="/paywall/webhooks/manual/")

    assert response.status_code == 404


def test_a_get_is_405(client: Client, program: Any) -> None:
    assert client.get(URL).status_code == 405


def test_providers_post_without_a_csrf_token(strict_client: Client, paid: Any) -> None:
    assert post(strict_client, paid).status_code == 200


def test_a_redelivered_webhook_is_applied_once(client: Client, paid: Any, reader: Any) -> None:
    post(client, paid)
    response = post(client, paid)

    assert response.status_code == 200
    assert WebhookEvent.objects.count() == 1
    assert Membership.objects.filter(member_id=str(reader.pk)).count() == 1


class BrokenCrm:
    @hookimpl
    def membership_activated(self, membership: Any, event: Any) -> None:
        raise ConnectionError("CRM down")


def test_a_failure_while_applying_still_answers_200_and_keeps_the_event_to_retry(
    client: Client, program: Any, paid: Any
) -> None:
    program.pm.register(BrokenCrm())

    response = post(client, paid)

    row = WebhookEvent.objects.get()
    assert response.status_code == 200
    assert row.status == "failed"
    assert "CRM down" in row.last_error
    assert not Membership.objects.exists()


def test_a_failed_event_is_retried_when_the_provider_delivers_it_again(
    client: Client, program: Any, paid: Any, reader: Any
) -> None:
    crm = BrokenCrm()
    program.pm.register(crm)
    post(client, paid)
    program.pm.unregister(crm)

    post(client, paid)

    assert WebhookEvent.objects.get().status == "processed"
    assert Membership.objects.get(member_id=str(reader.pk)).status == "active"


def test_the_endpoint_is_named_per_provider(program: Any) -> None:
    from django.urls import reverse

    assert reverse("paywall:webhook", args=["stripe"]) == "/paywall/webhooks/stripe/"


def test_a_task_queue_that_is_down_still_answers_200_and_keeps_the_event(
    client: Client, paid: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    class QueueDown:
        def enqueue(self, *args: Any) -> None:
            raise ConnectionError("task queue unreachable")

    monkeypatch.setattr("wagtail_paywall.tasks.process_webhook_event", QueueDown())

    response = post(client, paid)

    assert response.status_code == 200
    assert WebhookEvent.objects.get().status == "received"  # process_pending picks it up
