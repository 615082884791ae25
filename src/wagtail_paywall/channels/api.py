"""Wagtail API v2 with the paywall: :class:`PaywalledPagesAPIViewSet`.

Register it in place of Wagtail's ``PagesAPIViewSet``. Every page it serialises first goes
through :func:`~wagtail_paywall.channels.visibility.visible_page` (teaser blocks only, premium
fields emptied) and carries its decision in ``meta.paywall``. A detail read spends a metered
read, a listing never does; ``search`` matches a locked page on its visible text only
(:mod:`wagtail_paywall.channels.search`). Responses with a gated page are ``private``.

See ``docs/channels.md`` (Wagtail API v2).
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response
from wagtail.api.v2.filters import SearchFilter
from wagtail.api.v2.serializers import PageSerializer
from wagtail.api.v2.views import PagesAPIViewSet

from .search import SearchHits, visible_hits
from .visibility import decision_json, mark_if_gated, visible_page


class PaywalledPageSerializer(PageSerializer):
    """A page as the visitor may see it, with ``meta.paywall`` for the decision."""

    def to_representation(self, instance: Any) -> Any:
        # The Django request under DRF's: the middleware reads what the gate marks on it.
        request = getattr(self.context["request"], "_request", self.context["request"])
        view = self.context.get("view")
        # Only the one page a detail view shows counts as a read of it.
        spend = getattr(view, "action", None) == "detail_view" and str(instance.pk) == str(
            getattr(view, "kwargs", {}).get("pk")
        )
        # A specific page is withheld in place. A generic Page of a listing is decided
        # through its specific copy, and carries only the Page's own fields (title,
        # slug, search description), none of which the paywall withholds.
        _, decision = visible_page(instance, request, spend=spend)
        data = super().to_representation(instance)
        if isinstance(data.get("meta"), dict):
            data["meta"]["paywall"] = decision_json(decision)
        return data


class PaywallSearchFilter(SearchFilter):
    """Wagtail's ``?search=`` that never reveals a match in text the visitor may not read."""

    def filter_queryset(self, request: Request, queryset: Any, view: Any) -> Any:
        results = super().filter_queryset(request, queryset, view)
        if "search" not in request.GET:
            return results
        operator = request.GET.get("search_operator") or None
        django_request = getattr(request, "_request", request)
        hits = visible_hits(django_request, results, request.GET["search"], operator=operator)
        return SearchHits(hit.page for hit in hits)


class PaywalledPagesAPIViewSet(PagesAPIViewSet):
    """Wagtail's pages endpoint, each page gated by the paywall's one decision."""

    base_serializer_class = PaywalledPageSerializer
    filter_backends = [
        PaywallSearchFilter if backend is SearchFilter else backend
        for backend in PagesAPIViewSet.filter_backends
    ]

    def finalize_response(
        self, request: Any, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        # The DRF request wraps the Django one, which the channels marked.
        mark_if_gated(getattr(request, "_request", request), response)
        return response
