"""The cancellation declarations (§312k BGB, Art. 11a) in the Paywall menu: a read-only
list for the staff, the ones that need them first: those a provider failed to carry out
(``paywall_lifecycle`` retries them hourly), then those that matched no contract or
cancel for cause. See ``docs/cancellation.md``.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.utils.translation import gettext_lazy as _
from wagtail.admin.ui.tables import Column, StatusTagColumn
from wagtail.admin.views.generic import IndexView
from wagtail.admin.viewsets.model import ModelViewSet

from ..models import CancellationDeclaration
from .policies import read_only

Outcome = CancellationDeclaration.Outcome
Kind = CancellationDeclaration.Kind


#: Those with ``view_cancellationdeclaration`` may read; nobody adds, edits or deletes.
DECLARATION_POLICY = read_only(CancellationDeclaration)


def _memberships(row: CancellationDeclaration) -> str:
    """The memberships a declaration touched; those still failing are marked."""
    failed = _("failed")
    return ", ".join(
        f"{e.get('membership', '')} ({failed})" if e.get("failed") else str(e.get("membership", ""))
        for e in row.memberships
    )


class DeclarationIndexView(IndexView):
    """Failed first, then flagged (no matching contract, or for cause), newest first."""

    default_ordering = ("attention", "-received_at")

    def get_base_queryset(self) -> QuerySet[CancellationDeclaration]:
        queryset: QuerySet[CancellationDeclaration] = super().get_base_queryset()
        return queryset.annotate(
            attention=Case(
                When(outcome=Outcome.FAILED, then=Value(0)),
                When(outcome=Outcome.NO_MATCH, then=Value(1)),
                When(kind=Kind.EXTRAORDINARY, then=Value(1)),
                default=Value(2),
                output_field=IntegerField(),
            )
        )

    def get_add_url(self) -> None:
        return None

    def get_edit_url(self, instance: Any) -> None:
        return None


class CancellationDeclarationViewSet(ModelViewSet):
    """The declarations as received and what became of them: filter by outcome or kind,
    inspect one. Nobody edits them (they are evidence):
    :class:`~wagtail_paywall.admin.policies.ReadOnlyPolicy`."""

    model = CancellationDeclaration
    name = "paywall_declarations"
    icon = "warning"
    menu_label = _("Cancellation declarations")
    index_view_class = DeclarationIndexView
    list_display = [
        "received_at",
        "kind",
        StatusTagColumn(
            "outcome",
            label=_("Outcome"),
            accessor="get_outcome_display",
            primary=lambda row: row.outcome in (Outcome.APPLIED, Outcome.PENDING),
        ),
        Column("memberships", label=_("Memberships"), accessor=_memberships),
        "member_id",
    ]
    list_filter = ["outcome", "kind"]
    search_fields = ["email", "member_id"]
    inspect_view_enabled = True
    inspect_view_fields = [
        "received_at",
        "kind",
        "outcome",
        "email",
        "member_number",
        "contract",
        "wished_date",
        "via_account",
        "member_id",
        "memberships",
        "name",
        "reason",
    ]
    form_fields = ["outcome"]  # required by ModelViewSet; the policy refuses edits
    copy_view_enabled = False

    if DECLARATION_POLICY is not None:  # Wagtail 7.4: the viewset carries the policy itself
        permission_policy = DECLARATION_POLICY

    def get_urlpatterns(self) -> list[Any]:
        hidden = {"add", "edit", "copy", "delete"}
        return [p for p in super().get_urlpatterns() if p.name not in hidden]
