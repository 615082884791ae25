"""Downloads: Wagtail documents gated through ``before_serve_document``, with quotas.

The test site's document model is ``testapp.PaywalledDocument`` (a custom document
model with :class:`~wagtail_paywall.documents.PaywallDocumentMixin`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.test import override_settings
from django.urls import reverse

from tests.wagtail.testapp.models import PaywalledDocument

pytest_plugins = ["tests.wagtail.gating_fixtures"]
pytestmark = pytest.mark.django_db

SECRET = b"%PDF-1.7 premium report bytes"


@pytest.fixture(autouse=True)
def _paywalled_documents(tmp_path: Any) -> Iterator[None]:
    with override_settings(
        WAGTAILDOCS_DOCUMENT_MODEL="testapp.PaywalledDocument", MEDIA_ROOT=str(tmp_path)
    ):
        yield


@pytest.fixture
def make_document(catalog: Any) -> Callable[..., PaywalledDocument]:
    count = iter(range(1, 10_000))

    def make(rule: str = "entitlement", **fields: Any) -> PaywalledDocument:
        n = next(count)
        fields.setdefault("title", f"Report {n}")
        if rule == "entitlement":
            fields.setdefault("paywall_entitlement", "downloads")
        document = PaywalledDocument(paywall_rule=rule, **fields)
        document.file.save(f"report-{n}.pdf", ContentFile(SECRET), save=False)
        document.save()
        return document

    return make


def download(client: Any, user: Any, document: Any) -> Any:
    if user is not None:
        client.force_login(user)
    url = reverse("wagtaildocs_serve", args=(document.pk, document.filename))
    return client.get(url)


def body_of(response: Any) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return bytes(response.content)


def test_a_public_document_downloads_for_anyone(client: Any, make_document: Any) -> None:
    response = download(client, None, make_document("public"))
    assert response.status_code == 200
    assert body_of(response) == SECRET


@pytest.mark.parametrize(
    ("persona", "allowed"),
    [
        ("anonymous", False),
        ("reader", False),
        ("lapsed", False),
        ("past_due", False),
        ("supporter", False),
        ("premium", True),
    ],
    indirect=["persona"],
)
def test_a_gated_document_downloads_only_for_holders_of_its_entitlement(
    client: Any, make_document: Any, persona: Any, allowed: bool
) -> None:
    response = download(client, persona, make_document())
    assert (response.status_code == 200) is allowed
    assert (SECRET in body_of(response)) is allowed


def test_a_denied_download_names_the_offers_and_is_never_cached(
    client: Any, make_document: Any, reader: Any
) -> None:
    response = download(client, reader, make_document())
    assert response.status_code == 403
    html = response.content.decode()
    assert "This download is for members." in html
    assert "Premium" in html
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.parametrize(
    ("persona", "allowed"),
    [("anonymous", False), ("reader", False), ("supporter", True), ("premium", True)],
    indirect=["persona"],
)
def test_a_tier_document_downloads_for_that_tier_and_above(
    client: Any, make_document: Any, catalog: Any, persona: Any, allowed: bool
) -> None:
    document = make_document("tier", paywall_min_tier=catalog["supporter"])
    assert (download(client, persona, document).status_code == 200) is allowed


def test_a_purchased_document_downloads_for_its_buyer_only(
    client: Any, make_document: Any, reader: Any, premium: Any, program: Any
) -> None:
    from membership_sdk import GrantKind

    document = make_document("purchase", paywall_purchase_item="doc:annual-report")
    program.grant(str(reader.pk), GrantKind.PURCHASE, item="doc:annual-report")
    assert download(client, reader, document).status_code == 200
    denied = download(client, premium, document)
    assert denied.status_code == 403
    assert "Annual report 2026" in denied.content.decode()


def test_the_download_quota_allows_ten_documents_a_month(
    client: Any, make_document: Any, premium: Any
) -> None:
    documents = [make_document() for _ in range(11)]
    statuses = [download(client, premium, d).status_code for d in documents]
    assert statuses == [200] * 10 + [403]


def test_the_quota_counts_each_document_once_per_month(
    client: Any, make_document: Any, premium: Any
) -> None:
    first, *others = [make_document() for _ in range(11)]
    for _ in range(3):
        assert download(client, premium, first).status_code == 200
    statuses = [download(client, premium, d).status_code for d in others]
    assert statuses == [200] * 9 + [403]
    assert download(client, premium, first).status_code == 200


def test_an_exhausted_quota_says_so(client: Any, make_document: Any, premium: Any) -> None:
    documents = [make_document() for _ in range(11)]
    for document in documents[:10]:
        download(client, premium, document)
    html = download(client, premium, documents[10]).content.decode()
    assert "You have used all your downloads for now" in html


def test_a_cached_member_downloads_without_querying_the_paywall_tables(
    client: Any, make_document: Any, catalog: Any, supporter: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    gated = make_document("tier", paywall_min_tier=catalog["supporter"])
    download(client, supporter, gated)
    with CaptureQueriesContext(connection) as queries:
        assert download(client, None, gated).status_code == 200
    tables = " ".join(q["sql"] for q in queries.captured_queries)
    # Only the document, the session and the user are read.
    assert "wagtail_paywall_" not in tables


# -- HEAD, OPTIONS, conditional and Range requests --------------------------------------------
def downloads_of(user: Any) -> int:
    from wagtail_paywall.models import MeterUsage

    return MeterUsage.objects.filter(member_id=str(user.pk), meter="downloads").count()


def document_url(document: Any) -> str:
    return reverse("wagtaildocs_serve", args=(document.pk, document.filename))


def test_a_head_of_a_download_tells_its_size_and_type_without_spending_the_quota(
    client: Any, make_document: Any, premium: Any
) -> None:
    document = make_document()
    client.force_login(premium)
    response = client.head(document_url(document))
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(SECRET))
    assert downloads_of(premium) == 0
    download = client.get(document_url(document))  # spends the download
    assert response["Content-Type"] == download["Content-Type"]
    disposition = response["Content-Disposition"].split(";")[0]
    assert disposition == download["Content-Disposition"].split(";")[0]


def test_an_options_request_of_a_download_sends_no_file_and_spends_nothing(
    client: Any, make_document: Any, premium: Any
) -> None:
    client.force_login(premium)
    response = client.options(document_url(make_document()))
    assert response.status_code == 200
    assert SECRET not in body_of(response)
    assert downloads_of(premium) == 0


def test_heads_of_every_document_leave_the_whole_quota(
    client: Any, make_document: Any, premium: Any
) -> None:
    documents = [make_document() for _ in range(11)]
    client.force_login(premium)
    for document in documents:
        assert client.head(document_url(document)).status_code == 200
    statuses = [client.get(document_url(d)).status_code for d in documents]
    assert statuses == [200] * 10 + [403]


def test_a_head_is_refused_like_the_download_when_the_quota_is_used_up(
    client: Any, make_document: Any, premium: Any
) -> None:
    documents = [make_document() for _ in range(11)]
    client.force_login(premium)
    for document in documents[:10]:
        client.get(document_url(document))
    assert client.head(document_url(documents[10])).status_code == 403


def test_range_requests_of_one_document_count_one_download(
    client: Any, make_document: Any, premium: Any
) -> None:
    document = make_document()
    client.force_login(premium)
    for first in range(0, len(SECRET), 8):
        response = client.get(document_url(document), HTTP_RANGE=f"bytes={first}-{first + 7}")
        assert response.status_code in (200, 206)
    assert downloads_of(premium) == 1


def test_a_revalidated_download_counts_once(client: Any, make_document: Any, premium: Any) -> None:
    document = make_document()
    client.force_login(premium)
    first = client.get(document_url(document))
    assert body_of(first) == SECRET
    etag = first.get("ETag")
    again = client.get(
        document_url(document),
        HTTP_IF_NONE_MATCH=etag or '"none"',
        HTTP_IF_MODIFIED_SINCE="Sat, 01 Jan 2000 00:00:00 GMT",
    )
    assert again.status_code in (200, 304)
    assert downloads_of(premium) == 1


def test_a_conditional_request_without_access_gets_no_file(
    client: Any, make_document: Any, reader: Any
) -> None:
    document = make_document()
    client.force_login(reader)
    response = client.get(document_url(document), HTTP_IF_NONE_MATCH="*")
    assert response.status_code == 403
    assert SECRET not in body_of(response)
