"""Pages and documents are composed as Wagtail developers compose things: one abstract
model of the access fields they share, a reusable Access panel, rules built in one
place, and withholding in one overridable page method."""

from __future__ import annotations

import json
from typing import Any

import pytest
from wagtail.admin.panels import ObjectList

from membership_sdk import Drip, MinTier, Purchase, Registered
from tests.wagtail.gating_helpers import PREMIUM
from tests.wagtail.testapp.models import ArticlePage, PaywalledDocument
from wagtail_paywall.documents import PaywallDocumentMixin
from wagtail_paywall.pages import AccessPanel, PaywallPageMixin
from wagtail_paywall.rules import PaywallAccessFields, RuleKind

pytest_plugins = ["tests.wagtail.gating_fixtures"]

SHARED = ("paywall_rule", "paywall_min_tier", "paywall_entitlement", "paywall_purchase_item")


@pytest.mark.parametrize("mixin", [PaywallPageMixin, PaywallDocumentMixin])
def test_pages_and_documents_start_from_the_same_access_fields(mixin: type) -> None:
    assert issubclass(mixin, PaywallAccessFields)
    names = {field.name for field in mixin._meta.get_fields()}
    assert set(SHARED) <= names


def test_a_document_builds_its_rule_from_the_shared_fields(db: Any) -> None:
    document = PaywalledDocument(pk=7, paywall_rule=RuleKind.TIER, paywall_min_tier_id="premium")
    resource = document.paywall_resource()
    assert resource.key == "doc:7"
    assert resource.rule == MinTier("premium")
    assert resource.teaser is False


def test_a_page_builds_its_rule_from_the_shared_fields_and_its_own(db: Any) -> None:
    page = ArticlePage(pk=3, paywall_rule=RuleKind.DRIP, paywall_drip_days=5)
    resource = page.paywall_resource()
    assert resource.key == "page:3"
    assert resource.rule == Drip(Registered(), 5)


def test_a_purchase_document_sells_itself_without_an_item_key(db: Any) -> None:
    document = PaywalledDocument(pk=9, paywall_rule=RuleKind.PURCHASE)
    assert document.paywall_resource().rule == Purchase(None)


def test_the_access_panel_edits_every_access_field_of_a_page(db: Any) -> None:
    form_class = ObjectList([AccessPanel()]).bind_to_model(ArticlePage).get_form_class()
    assert {
        *SHARED,
        "paywall_tiers",
        "paywall_meter_free",
        "paywall_meter_period",
        "paywall_drip_days",
        "paywall_embargo_until",
        "paywall_teaser",
    } <= set(form_class.base_fields)


def test_the_access_panel_takes_its_heading_and_children_as_any_panel() -> None:
    panel = AccessPanel(children=[], heading="Who may read it")
    assert panel.heading == "Who may read it"
    assert panel.children == []


@pytest.fixture
def withholds_the_description_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """ArticlePage overriding paywall_withhold to withhold its search description as well."""
    withhold = ArticlePage.paywall_withhold

    def withhold_more(self: ArticlePage, decision: Any) -> None:
        withhold(self, decision)
        self.search_description = ""

    monkeypatch.setattr(ArticlePage, "paywall_withhold", withhold_more)


@pytest.fixture
def described_article(make_article: Any, catalog: Any) -> Any:
    return make_article("tier", tiers=[catalog["premium"]], search_description="CANARY-DESC")


@pytest.mark.django_db
@pytest.mark.usefixtures("withholds_the_description_too")
def test_an_overridden_paywall_withhold_withholds_more_on_the_page(
    client: Any, described_article: Any
) -> None:
    html = client.get(described_article.url).content.decode()
    assert "CANARY-DESC" not in html
    assert PREMIUM not in html


@pytest.mark.django_db
@pytest.mark.usefixtures("withholds_the_description_too")
def test_an_overridden_paywall_withhold_withholds_more_in_the_api(
    client: Any, described_article: Any
) -> None:
    response = client.get(f"/api/v2/pages/{described_article.pk}/")
    assert json.loads(response.content)["meta"]["search_description"] == ""
    assert PREMIUM not in response.content.decode()


@pytest.mark.django_db
@pytest.mark.usefixtures("withholds_the_description_too")
def test_an_overridden_paywall_withhold_shapes_the_seo_markup_a_member_gets_too(
    client: Any, described_article: Any, premium: Any
) -> None:
    client.force_login(premium)
    html = client.get(described_article.url).content.decode()
    assert PREMIUM in html  # the member reads the whole article
    assert "CANARY-DESC" not in html  # but its <head> is the same for everyone
