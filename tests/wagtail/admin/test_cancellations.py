"""The publisher reads why members cancel in the Wagtail admin; nobody edits the answers."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from wagtail_paywall.models import CancellationFeedback

pytestmark = pytest.mark.django_db


@pytest.fixture
def feedback(db: Any) -> CancellationFeedback:
    return CancellationFeedback.objects.create(
        membership_id="mem_1",
        member_id="7",
        tier="premium",
        reason=CancellationFeedback.Reason.TOO_EXPENSIVE,
        comment="Half the price and I'd stay.",
    )


def test_the_publisher_reads_the_reasons_in_the_admin(
    client: Client, editor: Any, feedback: CancellationFeedback
) -> None:
    client.force_login(editor)

    response = client.get(reverse("paywall_cancellations:index"))

    html = response.content.decode()
    assert response.status_code == 200
    assert "It costs too much" in html
    assert "Half the price" in html


def test_the_listing_filters_by_reason(
    client: Client, editor: Any, feedback: CancellationFeedback
) -> None:
    CancellationFeedback.objects.create(
        membership_id="mem_2", member_id="8", tier="supporter", reason="other", comment="Moving."
    )
    client.force_login(editor)

    html = client.get(reverse("paywall_cancellations:index"), {"reason": "other"}).content.decode()

    assert "Moving." in html
    assert "Half the price" not in html


def test_the_answers_can_be_exported(
    client: Client, editor: Any, feedback: CancellationFeedback
) -> None:
    client.force_login(editor)

    response = client.get(reverse("paywall_cancellations:index"), {"export": "csv"})

    assert response.status_code == 200
    assert b"Half the price" in b"".join(response.streaming_content)


def test_nobody_edits_or_deletes_a_members_answer(
    client: Client, editor: Any, feedback: CancellationFeedback
) -> None:
    client.force_login(editor)

    for name in ("edit", "delete"):
        response = client.get(reverse(f"paywall_cancellations:{name}", args=[feedback.pk]))
        assert response.status_code in (302, 403)
    assert client.get(reverse("paywall_cancellations:add")).status_code in (302, 403)
    assert CancellationFeedback.objects.get().comment == "Half the price and I'd stay."


def test_a_reader_cannot_see_the_answers(
    client: Client, reader: Any, feedback: CancellationFeedback
) -> None:
    client.force_login(reader)

    response = client.get(reverse("paywall_cancellations:index"))

    assert response.status_code == 302
    assert "Half the price" not in response.content.decode()
